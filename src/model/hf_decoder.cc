// What the llama-family mappings (llama, qwen2) share: the config keys transformers' LlamaConfig
// and Qwen2Config have in common, and the `model.layers.N.*` tensor names.
#include <cmath>
#include <numbers>

#include "model/hf_arch.h"

namespace shuo::model {

namespace {

std::string layer(int64_t i, const char* what) { return "model.layers." + std::to_string(i) + "." + what; }
std::string blk(int64_t i, const char* what) { return "blk." + std::to_string(i) + "." + what; }

// Llama 3.1's "llama3" RoPE scaling as per-frequency divisors (GGUF rope_freqs.weight), the
// formula of transformers' _compute_llama3_parameters and llama.cpp's converter.
Result<void> llama3_rope_factors(HfConverter& c, const nlohmann::json& rs, int64_t head_dim, double theta) {
  auto num = [&](const char* key, double fallback) -> Result<double> {
    auto it = rs.find(key);
    if (it == rs.end() || it->is_null()) return fallback;
    if (!it->is_number()) return c.config_error(std::string("rope_scaling.") + key, "must be a number, got " + it->dump());
    return it->get<double>();
  };
  SHUO_ASSIGN(double factor, num("factor", 8.0));
  SHUO_ASSIGN(double low, num("low_freq_factor", 1.0));
  SHUO_ASSIGN(double high, num("high_freq_factor", 4.0));
  SHUO_ASSIGN(double old_ctx, num("original_max_position_embeddings", 8192));
  if (!(factor > 0) || !(low > 0) || !(high > low) || !(old_ctx > 0))
    return c.config_error("rope_scaling", "llama3 scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor, original_max_position_embeddings > 0");
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> factors;
  for (int64_t i = 0; i < head_dim; i += 2) {
    const double freq = 1.0 / std::pow(theta, double(i) / double(head_dim));
    const double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen < high_wavelen) {
      factors.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      factors.push_back(float(factor));
    } else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      factors.push_back(float(1.0 / ((1 - smooth) / factor + smooth)));
    }
  }
  const int64_t n = int64_t(factors.size());
  c.computed_tensor("rope_freqs.weight", std::move(factors), {n});
  return {};
}

Result<void> rope_scaling(HfConverter& c, const std::string& arch, int64_t head_dim, double theta) {
  if (!c.has("rope_scaling")) return {};
  const nlohmann::json& rs = c.config().at("rope_scaling");
  if (!rs.is_object()) return c.config_error("rope_scaling", "must be an object or null, got " + rs.dump());
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    auto it = rs.find(key);
    if (it != rs.end() && it->is_string()) type = it->get<std::string>();
  }
  if (type.empty() || type == "default") return {};
  if (type == "linear") {
    auto f = rs.find("factor");
    if (f == rs.end() || !f->is_number() || !(f->get<double>() > 0))
      return c.config_error("rope_scaling.factor", "linear scaling needs a positive factor");
    c.set_str(arch + ".rope.scaling.type", "linear");
    c.set_f32(arch + ".rope.scaling.factor", float(f->get<double>()));
    return {};
  }
  if (type == "llama3") return llama3_rope_factors(c, rs, head_dim, theta);
  return c.config_error("rope_scaling.rope_type", "'" + type + "' is not supported (supported: linear, llama3)", ErrorCode::kUnsupported);
}

}  // namespace

Result<HfDecoderShape> hf_decoder_metadata(HfConverter& c, const std::string& arch) {
  HfDecoderShape s{};
  SHUO_ASSIGN(s.n_vocab, c.get_int("vocab_size", 1, 1 << 22));
  SHUO_ASSIGN(s.n_embd, c.get_int("hidden_size", 1, 1 << 16));
  SHUO_ASSIGN(s.n_layer, c.get_int("num_hidden_layers", 1, 1024));
  SHUO_ASSIGN(s.n_ff, c.get_int("intermediate_size", 1, 1 << 18));
  SHUO_ASSIGN(s.n_head, c.get_int("num_attention_heads", 1, 1024));
  SHUO_ASSIGN(s.n_head_kv, c.get_int_or("num_key_value_heads", s.n_head, 1, 1024));
  if (s.n_head % s.n_head_kv != 0)
    return c.config_error("num_key_value_heads", std::to_string(s.n_head_kv) + " does not divide num_attention_heads " + std::to_string(s.n_head));
  if (c.has("head_dim")) {
    SHUO_ASSIGN(s.head_dim, c.get_int("head_dim", 2, 4096));
  } else {
    if (s.n_embd % s.n_head != 0)
      return c.config_error("hidden_size", std::to_string(s.n_embd) + " is not a multiple of num_attention_heads " + std::to_string(s.n_head));
    s.head_dim = s.n_embd / s.n_head;
  }
  if (s.head_dim % 2 != 0) return c.config_error("head_dim", "must be even for RoPE, got " + std::to_string(s.head_dim));
  SHUO_ASSIGN(int64_t ctx, c.get_int("max_position_embeddings", 1, 1 << 24));
  SHUO_ASSIGN(double eps, c.get_float_or("rms_norm_eps", 1e-6));
  if (!(eps > 0 && eps < 1)) return c.config_error("rms_norm_eps", "must be in (0, 1), got " + std::to_string(eps));
  SHUO_ASSIGN(double theta, c.get_float_or("rope_theta", 10000.0));
  if (!(theta > 1)) return c.config_error("rope_theta", "must be > 1, got " + std::to_string(theta));
  SHUO_ASSIGN(auto act, c.get_string("hidden_act"));
  if (act && *act != "silu")
    return c.config_error("hidden_act", "'" + *act + "' is not supported (the " + arch + " block uses silu)", ErrorCode::kUnsupported);
  SHUO_ASSIGN(bool mlp_bias, c.get_bool_or("mlp_bias", false));
  if (mlp_bias) return c.config_error("mlp_bias", "MLP biases are not supported", ErrorCode::kUnsupported);
  SHUO_ASSIGN(s.tied, c.get_bool_or("tie_word_embeddings", false));

  const std::string p = arch + ".";
  c.set_str("general.architecture", arch);
  c.set_u32(p + "vocab_size", uint32_t(s.n_vocab));
  c.set_u32(p + "context_length", uint32_t(ctx));
  c.set_u32(p + "embedding_length", uint32_t(s.n_embd));
  c.set_u32(p + "block_count", uint32_t(s.n_layer));
  c.set_u32(p + "feed_forward_length", uint32_t(s.n_ff));
  c.set_u32(p + "attention.head_count", uint32_t(s.n_head));
  c.set_u32(p + "attention.head_count_kv", uint32_t(s.n_head_kv));
  if (s.head_dim * s.n_head != s.n_embd) {  // llama.cpp's rule: only when not hidden / heads
    c.set_u32(p + "attention.key_length", uint32_t(s.head_dim));
    c.set_u32(p + "attention.value_length", uint32_t(s.head_dim));
  }
  c.set_u32(p + "rope.dimension_count", uint32_t(s.head_dim));
  c.set_f32(p + "rope.freq_base", float(theta));
  c.set_f32(p + "attention.layer_norm_rms_epsilon", float(eps));
  SHUO_TRY(rope_scaling(c, arch, s.head_dim, theta));
  return s;
}

Result<void> hf_decoder_tensors(HfConverter& c, const HfDecoderShape& s, HfRows qk_rows, bool qkv_bias) {
  const int64_t E = s.n_embd, F = s.n_ff, QD = s.n_head * s.head_dim, KD = s.n_head_kv * s.head_dim;
  SHUO_TRY(c.tensor("model.embed_tokens.weight", "token_embd.weight", {s.n_vocab, E}));
  SHUO_TRY(c.tensor("model.norm.weight", "output_norm.weight", {E}));
  // A tied model may still carry lm_head (a copy of the embedding): the GGUF leaves it out.
  if (s.tied) c.skip("lm_head.weight");
  else SHUO_TRY(c.tensor("lm_head.weight", "output.weight", {s.n_vocab, E}));
  for (int64_t i = 0; i < s.n_layer; ++i) {
    SHUO_TRY(c.tensor(layer(i, "input_layernorm.weight"), blk(i, "attn_norm.weight"), {E}));
    SHUO_TRY(c.tensor(layer(i, "self_attn.q_proj.weight"), blk(i, "attn_q.weight"), {QD, E}, qk_rows, s.n_head));
    SHUO_TRY(c.tensor(layer(i, "self_attn.k_proj.weight"), blk(i, "attn_k.weight"), {KD, E}, qk_rows, s.n_head_kv));
    SHUO_TRY(c.tensor(layer(i, "self_attn.v_proj.weight"), blk(i, "attn_v.weight"), {KD, E}));
    if (qkv_bias) {
      SHUO_TRY(c.tensor(layer(i, "self_attn.q_proj.bias"), blk(i, "attn_q.bias"), {QD}, qk_rows, s.n_head));
      SHUO_TRY(c.tensor(layer(i, "self_attn.k_proj.bias"), blk(i, "attn_k.bias"), {KD}, qk_rows, s.n_head_kv));
      SHUO_TRY(c.tensor(layer(i, "self_attn.v_proj.bias"), blk(i, "attn_v.bias"), {KD}));
    }
    SHUO_TRY(c.tensor(layer(i, "self_attn.o_proj.weight"), blk(i, "attn_output.weight"), {E, QD}));
    SHUO_TRY(c.tensor(layer(i, "post_attention_layernorm.weight"), blk(i, "ffn_norm.weight"), {E}));
    SHUO_TRY(c.tensor(layer(i, "mlp.gate_proj.weight"), blk(i, "ffn_gate.weight"), {F, E}));
    SHUO_TRY(c.tensor(layer(i, "mlp.up_proj.weight"), blk(i, "ffn_up.weight"), {F, E}));
    SHUO_TRY(c.tensor(layer(i, "mlp.down_proj.weight"), blk(i, "ffn_down.weight"), {E, F}));
  }
  return {};
}

}  // namespace shuo::model

// GGUF metadata → ModelConfig, with range checks so a corrupt file cannot ask for absurd sizes.
#include "model/config.h"

namespace shuo::model {

namespace {
Error bad(const std::string& key, const std::string& msg) {
  return Error{ErrorCode::kBadFile, key, msg};
}

Result<int32_t> positive(const format::GgufFile& f, const std::string& key, int32_t max) {
  SHUO_ASSIGN(uint32_t v, f.get<uint32_t>(key));
  if (v == 0 || v > uint32_t(max))
    return bad(key, "must be in [1, " + std::to_string(max) + "], got " + std::to_string(v));
  return static_cast<int32_t>(v);
}
}  // namespace

Result<ModelConfig> read_decoder_config(const format::GgufFile& f, const std::string& arch) {
  ModelConfig c;
  c.arch = arch;
  SHUO_ASSIGN(auto name, f.get_optional<std::string>("general.name"));
  c.name = name.value_or("");
  const std::string p = arch + ".";
  SHUO_ASSIGN(c.n_ctx_train, positive(f, p + "context_length", 1 << 24));
  SHUO_ASSIGN(c.n_embd, positive(f, p + "embedding_length", 1 << 16));
  SHUO_ASSIGN(c.n_layer, positive(f, p + "block_count", 1024));
  SHUO_ASSIGN(c.n_ff, positive(f, p + "feed_forward_length", 1 << 18));
  SHUO_ASSIGN(c.n_head, positive(f, p + "attention.head_count", 1024));
  if (f.has(p + "attention.head_count_kv")) {
    SHUO_ASSIGN(c.n_head_kv, positive(f, p + "attention.head_count_kv", 1024));
  } else {
    c.n_head_kv = c.n_head;
  }
  if (c.n_head % c.n_head_kv != 0)
    return bad(p + "attention.head_count_kv", "head_count " + std::to_string(c.n_head) +
                                                  " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv));
  if (f.has(p + "attention.key_length")) {
    SHUO_ASSIGN(c.head_dim, positive(f, p + "attention.key_length", 4096));
  } else {
    if (c.n_embd % c.n_head != 0)
      return bad(p + "embedding_length", "not a multiple of head_count " + std::to_string(c.n_head));
    c.head_dim = c.n_embd / c.n_head;
  }
  if (f.has(p + "attention.value_length")) {
    SHUO_ASSIGN(int32_t vl, positive(f, p + "attention.value_length", 4096));
    if (vl != c.head_dim) return Error{ErrorCode::kUnsupported, p + "attention.value_length", "value length different from key length is not supported"};
  }
  SHUO_ASSIGN(auto eps, f.get_optional<float>(p + "attention.layer_norm_rms_epsilon"));
  c.norm_eps = eps.value_or(1e-5f);
  if (!(c.norm_eps > 0.0f && c.norm_eps < 1.0f))
    return bad(p + "attention.layer_norm_rms_epsilon", "must be in (0, 1), got " + std::to_string(c.norm_eps));

  if (f.has(p + "rope.dimension_count")) {
    SHUO_ASSIGN(c.rope_dims, positive(f, p + "rope.dimension_count", 4096));
  } else {
    c.rope_dims = c.head_dim;
  }
  if (c.rope_dims > c.head_dim || c.rope_dims % 2 != 0)
    return bad(p + "rope.dimension_count", "must be even and ≤ head dim " + std::to_string(c.head_dim) + ", got " + std::to_string(c.rope_dims));
  SHUO_ASSIGN(auto base, f.get_optional<float>(p + "rope.freq_base"));
  c.rope_base = base.value_or(10000.0f);
  if (!(c.rope_base > 1.0)) return bad(p + "rope.freq_base", "must be > 1, got " + std::to_string(c.rope_base));

  SHUO_ASSIGN(auto scaling, f.get_optional<std::string>(p + "rope.scaling.type"));
  SHUO_ASSIGN(auto factor, f.get_optional<float>(p + "rope.scaling.factor"));
  if (!factor) {  // older files store only the linear factor
    SHUO_ASSIGN(auto lin, f.get_optional<float>(p + "rope.scale_linear"));
    if (lin) { factor = lin; if (!scaling) scaling = "linear"; }
  }
  const std::string type = scaling.value_or("none");
  if (type == "linear") {
    if (!factor || !(*factor > 0.0f)) return bad(p + "rope.scaling.factor", "linear RoPE scaling needs a positive factor");
    c.rope_freq_scale = 1.0 / *factor;
  } else if (type != "none") {
    return Error{ErrorCode::kUnsupported, p + "rope.scaling.type", "RoPE scaling '" + type + "' is not supported (supported: none, linear, Llama 3 rope_freqs)"};
  }
  return c;
}

}  // namespace shuo::model

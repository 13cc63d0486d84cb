// Hugging Face GPT-2 (GPT2LMHeadModel, and GPT2Model checkpoints without the "transformer."
// prefix) → GGUF "gpt2", the names and keys llama.cpp's converter writes. GPT-2's projections
// are Conv1D modules whose weights are stored [in, out]; they are transposed here to the
// [out, in] rows every other matrix has. The LM head is tied to wte unless lm_head.weight is
// stored (then it is used as is).
#include "model/hf_arch.h"

namespace shuo::model {

namespace {
std::string blk(int64_t i, const char* what) { return "blk." + std::to_string(i) + "." + what; }
}  // namespace

Result<void> convert_hf_gpt2(HfConverter& c) {
  SHUO_ASSIGN(auto act, c.get_string("activation_function"));
  // gelu_new is the tanh approximation gpt2.cc computes (as llama.cpp does).
  if (act && *act != "gelu_new" && *act != "gelu_pytorch_tanh" && *act != "gelu_fast")
    return c.config_error("activation_function", "'" + *act + "' is not supported (gelu_new)", ErrorCode::kUnsupported);
  SHUO_ASSIGN(bool by_layer, c.get_bool_or("scale_attn_by_inverse_layer_idx", false));
  if (by_layer) return c.config_error("scale_attn_by_inverse_layer_idx", "is not supported", ErrorCode::kUnsupported);
  SHUO_ASSIGN(bool scaled, c.get_bool_or("scale_attn_weights", true));
  if (!scaled) return c.config_error("scale_attn_weights", "unscaled attention is not supported", ErrorCode::kUnsupported);

  SHUO_ASSIGN(int64_t n_embd, c.get_int("n_embd", 1, 1 << 16));
  SHUO_ASSIGN(int64_t n_layer, c.get_int("n_layer", 1, 1024));
  SHUO_ASSIGN(int64_t n_head, c.get_int("n_head", 1, 1024));
  if (n_embd % n_head != 0) return c.config_error("n_head", "must divide n_embd " + std::to_string(n_embd));
  SHUO_ASSIGN(int64_t n_ff, c.get_int_or("n_inner", 4 * n_embd, 1, 1 << 18));
  SHUO_ASSIGN(int64_t n_vocab, c.get_int("vocab_size", 1, 1 << 22));
  SHUO_ASSIGN(int64_t n_pos_old, c.get_int_or("n_ctx", 1024, 1, 1 << 24));
  SHUO_ASSIGN(int64_t n_pos, c.get_int_or("n_positions", n_pos_old, 1, 1 << 24));
  SHUO_ASSIGN(double eps, c.get_float_or("layer_norm_epsilon", 1e-5));

  c.set_str("general.architecture", "gpt2");
  c.set_u32("gpt2.context_length", uint32_t(n_pos));
  c.set_u32("gpt2.embedding_length", uint32_t(n_embd));
  c.set_u32("gpt2.feed_forward_length", uint32_t(n_ff));
  c.set_u32("gpt2.block_count", uint32_t(n_layer));
  c.set_u32("gpt2.attention.head_count", uint32_t(n_head));
  c.set_f32("gpt2.attention.layer_norm_epsilon", float(eps));

  // GPT2LMHeadModel prefixes the body with "transformer."; a bare GPT2Model does not.
  const std::string p = c.has_tensor("transformer.wte.weight") ? "transformer." : "";
  auto h = [&](int64_t i, const char* what) { return p + "h." + std::to_string(i) + "." + what; };
  SHUO_TRY(c.tensor(p + "wte.weight", "token_embd.weight", {n_vocab, n_embd}));
  SHUO_TRY(c.tensor(p + "wpe.weight", "position_embd.weight", {n_pos, n_embd}));
  SHUO_TRY(c.tensor(p + "ln_f.weight", "output_norm.weight", {n_embd}));
  SHUO_TRY(c.tensor(p + "ln_f.bias", "output_norm.bias", {n_embd}));
  if (c.has_tensor("lm_head.weight")) SHUO_TRY(c.tensor("lm_head.weight", "output.weight", {n_vocab, n_embd}));
  for (int64_t i = 0; i < n_layer; ++i) {
    // Causal-mask buffers older exports saved with the weights.
    c.skip(h(i, "attn.bias"));
    c.skip(h(i, "attn.masked_bias"));
    SHUO_TRY(c.tensor(h(i, "ln_1.weight"), blk(i, "attn_norm.weight"), {n_embd}));
    SHUO_TRY(c.tensor(h(i, "ln_1.bias"), blk(i, "attn_norm.bias"), {n_embd}));
    SHUO_TRY(c.tensor(h(i, "attn.c_attn.weight"), blk(i, "attn_qkv.weight"), {n_embd, 3 * n_embd}, HfRows::kTranspose));
    SHUO_TRY(c.tensor(h(i, "attn.c_attn.bias"), blk(i, "attn_qkv.bias"), {3 * n_embd}));
    SHUO_TRY(c.tensor(h(i, "attn.c_proj.weight"), blk(i, "attn_output.weight"), {n_embd, n_embd}, HfRows::kTranspose));
    SHUO_TRY(c.tensor(h(i, "attn.c_proj.bias"), blk(i, "attn_output.bias"), {n_embd}));
    SHUO_TRY(c.tensor(h(i, "ln_2.weight"), blk(i, "ffn_norm.weight"), {n_embd}));
    SHUO_TRY(c.tensor(h(i, "ln_2.bias"), blk(i, "ffn_norm.bias"), {n_embd}));
    SHUO_TRY(c.tensor(h(i, "mlp.c_fc.weight"), blk(i, "ffn_up.weight"), {n_embd, n_ff}, HfRows::kTranspose));
    SHUO_TRY(c.tensor(h(i, "mlp.c_fc.bias"), blk(i, "ffn_up.bias"), {n_ff}));
    SHUO_TRY(c.tensor(h(i, "mlp.c_proj.weight"), blk(i, "ffn_down.weight"), {n_ff, n_embd}, HfRows::kTranspose));
    SHUO_TRY(c.tensor(h(i, "mlp.c_proj.bias"), blk(i, "ffn_down.bias"), {n_embd}));
  }
  return {};
}

}  // namespace shuo::model

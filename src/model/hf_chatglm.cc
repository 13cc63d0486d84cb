// Hugging Face ChatGLM2/3 (ChatGLMModel, ChatGLMForConditionalGeneration; THUDM's own modeling
// code) → GGUF "chatglm", the names and keys llama.cpp's converter writes. No row permutation:
// ChatGLM's checkpoints already apply RoPE to interleaved pairs of the first half of each head,
// which is how chatglm.cc applies it, and query_key_value is q rows, then k, then v, as the
// fused attn_qkv the model file slices.
#include "model/hf_arch.h"

namespace shuo::model {

namespace {
std::string layer(int64_t i, const char* what) {
  return "transformer.encoder.layers." + std::to_string(i) + "." + what;
}
std::string blk(int64_t i, const char* what) { return "blk." + std::to_string(i) + "." + what; }
}  // namespace

Result<void> convert_hf_chatglm(HfConverter& c) {
  SHUO_ASSIGN(bool rmsnorm, c.get_bool_or("rmsnorm", true));
  if (!rmsnorm) return c.config_error("rmsnorm", "LayerNorm ChatGLM variants are not supported", ErrorCode::kUnsupported);
  SHUO_ASSIGN(bool post_ln, c.get_bool_or("apply_residual_connection_post_layernorm", false));
  if (post_ln)
    return c.config_error("apply_residual_connection_post_layernorm", "is not supported", ErrorCode::kUnsupported);
  SHUO_ASSIGN(bool linear_bias, c.get_bool_or("add_bias_linear", false));
  if (linear_bias) return c.config_error("add_bias_linear", "biases on dense layers are not supported", ErrorCode::kUnsupported);
  SHUO_ASSIGN(bool qkv_bias, c.get_bool_or("add_qkv_bias", true));

  SHUO_ASSIGN(int64_t n_embd, c.get_int("hidden_size", 1, 1 << 16));
  SHUO_ASSIGN(int64_t n_layer, c.get_int("num_layers", 1, 1024));
  SHUO_ASSIGN(int64_t n_head, c.get_int("num_attention_heads", 1, 1024));
  SHUO_ASSIGN(bool mqa, c.get_bool_or("multi_query_attention", false));
  SHUO_ASSIGN(int64_t n_head_kv, mqa ? c.get_int("multi_query_group_num", 1, 1024) : Result<int64_t>(n_head));
  if (n_head % n_head_kv != 0)
    return c.config_error("multi_query_group_num", "must divide num_attention_heads " + std::to_string(n_head));
  SHUO_ASSIGN(int64_t head_dim, c.get_int_or("kv_channels", n_embd / n_head, 2, 4096));
  SHUO_ASSIGN(int64_t n_ff, c.get_int("ffn_hidden_size", 1, 1 << 18));
  SHUO_ASSIGN(int64_t n_vocab, c.get_int("padded_vocab_size", 1, 1 << 22));
  SHUO_ASSIGN(int64_t n_ctx, c.get_int_or("seq_length", 2048, 1, 1 << 24));
  SHUO_ASSIGN(double eps, c.get_float_or("layernorm_epsilon", 1e-5));
  SHUO_ASSIGN(double rope_ratio, c.get_float_or("rope_ratio", 1.0));
  if (!(rope_ratio > 0)) return c.config_error("rope_ratio", "must be positive");
  // RoPE turns the first half of each head (ChatGLM's rotary_dim = head_dim / 2).
  const int64_t n_rot = head_dim / 2;
  if (n_rot % 2 != 0) return c.config_error("kv_channels", "half of it must be even for RoPE pairs");

  c.set_str("general.architecture", "chatglm");
  c.set_u32("chatglm.context_length", uint32_t(n_ctx));
  c.set_u32("chatglm.embedding_length", uint32_t(n_embd));
  c.set_u32("chatglm.feed_forward_length", uint32_t(n_ff));
  c.set_u32("chatglm.block_count", uint32_t(n_layer));
  c.set_u32("chatglm.attention.head_count", uint32_t(n_head));
  c.set_u32("chatglm.attention.head_count_kv", uint32_t(n_head_kv));
  if (head_dim != n_embd / n_head) c.set_u32("chatglm.attention.key_length", uint32_t(head_dim));
  c.set_f32("chatglm.attention.layer_norm_rms_epsilon", float(eps));
  c.set_u32("chatglm.rope.dimension_count", uint32_t(n_rot));
  c.set_f32("chatglm.rope.freq_base", float(10000.0 * rope_ratio));

  const int64_t QKV = (n_head + 2 * n_head_kv) * head_dim;
  SHUO_TRY(c.tensor("transformer.embedding.word_embeddings.weight", "token_embd.weight", {n_vocab, n_embd}));
  SHUO_TRY(c.tensor("transformer.encoder.final_layernorm.weight", "output_norm.weight", {n_embd}));
  SHUO_TRY(c.tensor("transformer.output_layer.weight", "output.weight", {n_vocab, n_embd}));
  c.skip("transformer.rotary_pos_emb.inv_freq");  // follows from the config
  for (int64_t i = 0; i < n_layer; ++i) {
    SHUO_TRY(c.tensor(layer(i, "input_layernorm.weight"), blk(i, "attn_norm.weight"), {n_embd}));
    SHUO_TRY(c.tensor(layer(i, "self_attention.query_key_value.weight"), blk(i, "attn_qkv.weight"), {QKV, n_embd}));
    if (qkv_bias) SHUO_TRY(c.tensor(layer(i, "self_attention.query_key_value.bias"), blk(i, "attn_qkv.bias"), {QKV}));
    SHUO_TRY(c.tensor(layer(i, "self_attention.dense.weight"), blk(i, "attn_output.weight"), {n_embd, n_head * head_dim}));
    SHUO_TRY(c.tensor(layer(i, "post_attention_layernorm.weight"), blk(i, "ffn_norm.weight"), {n_embd}));
    // dense_h_to_4h is gate rows then up rows (chunk(2)), the fused ffn_up chatglm.cc splits.
    SHUO_TRY(c.tensor(layer(i, "mlp.dense_h_to_4h.weight"), blk(i, "ffn_up.weight"), {2 * n_ff, n_embd}));
    SHUO_TRY(c.tensor(layer(i, "mlp.dense_4h_to_h.weight"), blk(i, "ffn_down.weight"), {n_embd, n_ff}));
  }
  return {};
}

}  // namespace shuo::model

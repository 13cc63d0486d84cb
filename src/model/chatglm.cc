// Architecture "chatglm" (ChatGLM2-6B, ChatGLM3-6B as llama.cpp converts them): RMSNorm, one
// fused attn_qkv with bias, multi-query attention (few kv heads), RoPE on the first half of each
// head's dimensions in interleaved pairs (HF's rotary_dim/2 layout; GGUF keeps it, no row
// permutation), and SwiGLU from one ffn_up twice n_ff wide: gate rows first, then up rows
// (HF's chunk(2)).
#include "model/arch.h"
#include "model/decoder.h"

namespace shuo::model {

namespace {
std::string blk(int i, const char* what) { return "blk." + std::to_string(i) + "." + what; }
}  // namespace

Result<std::unique_ptr<Model>> load_chatglm(const format::GgufFile& f, const LoadOptions& opts) {
  SHUO_ASSIGN(ModelConfig c, read_decoder_config(f, "chatglm"));
  // Converters write rope.dimension_count (head_dim / 2); without it, ChatGLM's own rule.
  if (!f.has("chatglm.rope.dimension_count")) {
    c.rope_dims = c.head_dim / 2;
    if (c.rope_dims % 2 != 0)
      return Error{ErrorCode::kBadFile, "chatglm.rope.dimension_count", "absent, and half the head dim " + std::to_string(c.head_dim) + " is odd"};
  }
  c.rope_layout = kernels::RopeLayout::kInterleaved;
  c.norm = NormKind::kRms;
  c.positions = PositionKind::kRope;
  c.ffn = FfnKind::kSwiglu;

  const int64_t E = c.n_embd, F = c.n_ff;
  const int64_t QD = int64_t(c.n_head) * c.head_dim, KD = int64_t(c.n_head_kv) * c.head_dim;
  DecoderWeights w;
  SHUO_TRY(load_embedding_and_head(f, c, w));
  c.has_qkv_bias = f.find_tensor("blk.0.attn_qkv.bias") != nullptr;  // ChatGLM2/3 have it
  w.layers.resize(c.n_layer);
  for (int i = 0; i < c.n_layer; ++i) {
    LayerWeights& L = w.layers[i];
    SHUO_ASSIGN(L.attn_norm, load_norm(f, blk(i, "attn_norm"), E, false));
    SHUO_ASSIGN(auto qkv, load_fused_matrix(f, blk(i, "attn_qkv.weight"), {QD, KD, KD}, E));
    L.wq = std::move(qkv[0]);
    L.wk = std::move(qkv[1]);
    L.wv = std::move(qkv[2]);
    if (c.has_qkv_bias) {
      SHUO_ASSIGN(auto qkv_b, load_fused_vector(f, blk(i, "attn_qkv.bias"), {QD, KD, KD}));
      L.bq = std::move(qkv_b[0]);
      L.bk = std::move(qkv_b[1]);
      L.bv = std::move(qkv_b[2]);
    }
    SHUO_ASSIGN(L.wo, load_matrix(f, blk(i, "attn_output.weight"), E, QD));
    SHUO_ASSIGN(L.ffn_norm, load_norm(f, blk(i, "ffn_norm"), E, false));
    SHUO_ASSIGN(auto up, load_fused_matrix(f, blk(i, "ffn_up.weight"), {F, F}, E));
    L.ffn_gate = std::move(up[0]);
    L.ffn_up = std::move(up[1]);
    SHUO_ASSIGN(L.ffn_down, load_matrix(f, blk(i, "ffn_down.weight"), E, F));
  }
  SHUO_ASSIGN(auto m, DecoderModel::create(f, std::move(c), std::move(w), opts));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace shuo::model

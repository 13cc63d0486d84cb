// Architecture "gpt2" (GPT-2 and its fine-tunes, e.g. the Chinese GPT-2 of the source documents):
// learned absolute positions (position_embd, so at most context_length positions), LayerNorm
// with bias, one fused attn_qkv with bias, GELU MLP, a bias on every projection.
#include "model/arch.h"
#include "model/decoder.h"

namespace shuo::model {

namespace {
std::string blk(int i, const char* what) { return "blk." + std::to_string(i) + "." + what; }
}  // namespace

Result<std::unique_ptr<Model>> load_gpt2(const format::GgufFile& f, const LoadOptions& opts) {
  SHUO_ASSIGN(ModelConfig c, read_decoder_config(f, "gpt2"));
  const std::string eps_key = "gpt2.attention.layer_norm_epsilon";
  SHUO_ASSIGN(auto eps, f.get_optional<float>(eps_key));
  c.norm_eps = eps.value_or(1e-5f);
  if (!(c.norm_eps > 0.0f && c.norm_eps < 1.0f))
    return Error{ErrorCode::kBadFile, eps_key, "must be in (0, 1), got " + std::to_string(c.norm_eps)};
  c.norm = NormKind::kLayer;
  c.positions = PositionKind::kLearned;
  c.ffn = FfnKind::kGelu;
  c.has_qkv_bias = true;

  const int64_t E = c.n_embd, F = c.n_ff;
  const int64_t QD = int64_t(c.n_head) * c.head_dim, KD = int64_t(c.n_head_kv) * c.head_dim;
  DecoderWeights w;
  SHUO_TRY(load_embedding_and_head(f, c, w));
  SHUO_ASSIGN(w.pos_embd, load_matrix(f, "position_embd.weight", c.n_ctx_train, E));
  w.layers.resize(c.n_layer);
  for (int i = 0; i < c.n_layer; ++i) {
    LayerWeights& L = w.layers[i];
    SHUO_ASSIGN(L.attn_norm, load_norm(f, blk(i, "attn_norm"), E, true));
    // q, k and v are consecutive row blocks of one matrix (HF's c_attn, transposed).
    SHUO_ASSIGN(auto qkv, load_fused_matrix(f, blk(i, "attn_qkv.weight"), {QD, KD, KD}, E));
    SHUO_ASSIGN(auto qkv_b, load_fused_vector(f, blk(i, "attn_qkv.bias"), {QD, KD, KD}));
    L.wq = std::move(qkv[0]);
    L.wk = std::move(qkv[1]);
    L.wv = std::move(qkv[2]);
    L.bq = std::move(qkv_b[0]);
    L.bk = std::move(qkv_b[1]);
    L.bv = std::move(qkv_b[2]);
    SHUO_ASSIGN(L.wo, load_matrix(f, blk(i, "attn_output.weight"), E, QD));
    SHUO_ASSIGN(L.bo, load_vector(f, blk(i, "attn_output.bias"), E));
    SHUO_ASSIGN(L.ffn_norm, load_norm(f, blk(i, "ffn_norm"), E, true));
    SHUO_ASSIGN(L.ffn_up, load_matrix(f, blk(i, "ffn_up.weight"), F, E));
    SHUO_ASSIGN(L.b_up, load_vector(f, blk(i, "ffn_up.bias"), F));
    SHUO_ASSIGN(L.ffn_down, load_matrix(f, blk(i, "ffn_down.weight"), E, F));
    SHUO_ASSIGN(L.b_down, load_vector(f, blk(i, "ffn_down.bias"), E));
  }
  SHUO_ASSIGN(auto m, DecoderModel::create(f, std::move(c), std::move(w), opts));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace shuo::model

// The shared decoder-only transformer that every architecture file (llama.cc, qwen2.cc, gpt2.cc,
// chatglm.cc) builds on: token (+ learned position) embedding, per layer norm → q/k/v with
// optional biases → RoPE or none → grouped-query attention over the paged KV cache → output
// projection (+ bias) → norm → SwiGLU or GELU MLP (+ biases), then the final norm and LM head.
// The block variants come from ModelConfig (norm, positions, ffn); the weights come from
// DecoderWeights, which an architecture fills from its own tensor names and layouts (fused
// tensors become row slices, see weights.h), so adding an architecture touches no other one.
#pragma once

#include <memory>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "model/weights.h"

namespace shuo::model {

// One block's weights. E = n_embd, QD = n_head·head_dim, KD = n_head_kv·head_dim, F = n_ff.
struct LayerWeights {
  kernels::WeightMatrix wq, wk, wv;     // [QD, E], [KD, E], [KD, E]
  kernels::WeightMatrix wo;             // [E, QD]
  kernels::WeightMatrix ffn_gate;       // [F, E]; FfnKind::kSwiglu only
  kernels::WeightMatrix ffn_up;         // [F, E]
  kernels::WeightMatrix ffn_down;       // [E, F]
  NormWeights attn_norm, ffn_norm;      // [E]
  std::vector<float> bq, bk, bv, bo;    // each empty when the architecture has no such bias
  std::vector<float> b_up, b_down;
};

struct DecoderWeights {
  kernels::WeightMatrix tok_embd;       // [V, E]
  kernels::WeightMatrix pos_embd;       // [n_ctx_train, E], PositionKind::kLearned only
  kernels::WeightMatrix output;         // [V, E] (a copy of tok_embd's view when tied)
  NormWeights output_norm;              // [E]
  std::vector<LayerWeights> layers;
  std::vector<float> rope_factors;      // Llama 3's per-dimension divisors; usually empty
};

// token_embd.weight (sets cfg.n_vocab), output_norm.{weight,bias} (bias when cfg.norm is
// kLayer) and output.weight, or the tied token_embd when it is absent (sets cfg.tied_embeddings).
Result<void> load_embedding_and_head(const format::GgufFile& f, ModelConfig& cfg, DecoderWeights& w);

class DecoderModel final : public Model {
 public:
  // The llama-family layout: blk.N.attn_{q,k,v,output}, ffn_{gate,up,down}, q/k/v biases when
  // cfg.has_qkv_bias, RMSNorm, RoPE, SwiGLU; shapes checked against cfg.
  static Result<std::unique_ptr<DecoderModel>> build(const format::GgufFile& f, ModelConfig cfg,
                                                     const LoadOptions& opts);
  // Any layout: weights already looked up by the architecture file. Checks that the weights fit
  // cfg (every matrix's shape, norm and bias sizes), picks kernels and packs matrices.
  static Result<std::unique_ptr<DecoderModel>> create(const format::GgufFile& f, ModelConfig cfg,
                                                      DecoderWeights weights, const LoadOptions& opts);

  Result<void> forward(std::span<const SeqChunk> chunks, ForwardOutput& out,
                       tensor::ThreadPool& pool) override;
  const char* kernel_isa() const override { return kernels_.isa; }

 private:
  DecoderModel() = default;
  void embed(std::span<const SeqChunk> chunks, int64_t n_tokens);
  // out[t] = norm(x[t]) for t < n (RMSNorm or LayerNorm with its optional bias, per config).
  void norm(const NormWeights& w, const float* x, int64_t n, float* out) const;
  // y = W x (+ b on every row when b is not empty).
  void mm(const kernels::WeightMatrix& w, const std::vector<float>& b, const float* x, int64_t n, float* y,
          tensor::ThreadPool& pool);

  kernels::VecDotKernels kernels_;
  kernels::AttentionFn attention_ = nullptr;
  kernels::SwigluFn swiglu_ = kernels::swiglu_ref;
  kernels::GeluFn gelu_ = kernels::gelu_ref;
  kernels::MatmulScratch mm_scratch_;

  DecoderWeights w_;
  PackedWeights packed_;            // repacked layer matrices (LoadOptions::pack_weights)
  kernels::RopeTable rope_;

  // Activations, reused across calls (grown, never shrunk). Shapes for N batch tokens:
  std::vector<float> x_, h_;          // [N, E]
  std::vector<float> q_, attn_;       // [N, n_head*hd]
  std::vector<float> k_, v_;          // [N, n_kv*hd]
  std::vector<float> gate_, up_;      // [N, F]
  std::vector<float> tmp_;            // [N, E]
  std::vector<int32_t> pos_;          // [N]
  std::vector<float> rope_cs_;        // [N, rope_dims] cos/sin pairs of each token's position
  std::vector<const void*> kb_, vb_; // one sequence's K/V block pointers for one layer
};

}  // namespace shuo::model

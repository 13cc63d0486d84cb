// The llama-family decoder (llama, qwen2, …): token embedding, RMSNorm, RoPE, grouped-query
// attention with optional q/k/v biases, SwiGLU FFN, tied or separate LM head. Architecture files
// (llama.cc, qwen2.cc) read their config and hand it here.
#pragma once

#include <memory>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "model/weights.h"

namespace shuo::model {

class DecoderModel final : public Model {
 public:
  // Looks up every tensor with GGUF names (blk.N.attn_q.weight, …) and checks its shape.
  static Result<std::unique_ptr<DecoderModel>> build(const format::GgufFile& f, ModelConfig cfg,
                                                     const LoadOptions& opts);

  Result<void> forward(std::span<const SeqChunk> chunks, ForwardOutput& out,
                       tensor::ThreadPool& pool) override;
  const char* kernel_isa() const override { return kernels_.isa; }

 private:
  struct Layer {
    kernels::WeightMatrix wq, wk, wv, wo;        // [n_head*hd, E], [n_kv*hd, E], …, [E, n_head*hd]
    kernels::WeightMatrix ffn_gate, ffn_up;      // [F, E]
    kernels::WeightMatrix ffn_down;              // [E, F]
    std::vector<float> attn_norm, ffn_norm;      // [E]
    std::vector<float> bq, bk, bv;               // empty when the arch has no biases
  };

  DecoderModel() = default;
  void embed(std::span<const SeqChunk> chunks);
  void mm(const kernels::WeightMatrix& w, const float* x, int64_t n, float* y, tensor::ThreadPool& pool) {
    kernels::matmul(w, x, n, y, pool, kernels_, mm_scratch_);
  }

  kernels::VecDotKernels kernels_;
  kernels::AttentionFn attention_ = nullptr;
  kernels::SwigluFn swiglu_ = kernels::swiglu_ref;
  kernels::MatmulScratch mm_scratch_;

  kernels::WeightMatrix tok_embd_;  // [V, E]
  kernels::WeightMatrix output_;    // [V, E] (== tok_embd_ when tied)
  std::vector<float> output_norm_;  // [E]
  std::vector<Layer> layers_;
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
  std::vector<const float*> kb_, vb_; // one sequence's K/V block pointers for one layer
};

}  // namespace shuo::model

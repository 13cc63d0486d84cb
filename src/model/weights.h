// Looking up weight tensors by name with shape and type checks; errors name the tensor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"
#include "kernels/matmul.h"

namespace shuo::model {

// A [rows, cols] matrix (GGUF ne = {cols, rows}) kept in its stored type, pointing into the mmap.
Result<kernels::WeightMatrix> load_matrix(const format::GgufFile& f, const std::string& name,
                                          int64_t rows, int64_t cols);
// Owns the repacked copies of weight matrices (kernels/packed.h).
class PackedWeights {
 public:
  // Packs every matrix whose type has a packed layout that kernels read (in parallel, `threads`
  // workers), points it at its copy (w.packed, w.packed_data) and releases the file's pages of
  // the original.
  void pack(const std::vector<kernels::WeightMatrix*>& mats, const format::GgufFile& f,
            const kernels::VecDotKernels& kernels, int threads);
  size_t bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::vector<std::unique_ptr<uint8_t[], Free>> buffers_;
  size_t bytes_ = 0;
};

// A 1-D tensor of n elements converted to float (norm weights, biases: small).
Result<std::vector<float>> load_vector(const format::GgufFile& f, const std::string& name, int64_t n);

// Rows [row0, row0 + rows) of `w` as a matrix of its own, still pointing into the same bytes:
// how fused tensors (GPT-2's and ChatGLM's attn_qkv, ChatGLM's gate+up ffn_up) become the
// separate matrices the decoder multiplies with. No copy; packing packs each slice on its own.
kernels::WeightMatrix slice_rows(const kernels::WeightMatrix& w, int64_t row0, int64_t rows,
                                 const std::string& name);

// Splits a fused [Σ parts, cols] tensor (`name`) into consecutive row blocks of `parts` rows each.
Result<std::vector<kernels::WeightMatrix>> load_fused_matrix(const format::GgufFile& f, const std::string& name,
                                                             const std::vector<int64_t>& parts, int64_t cols);
// The same for a fused 1-D tensor (its bias).
Result<std::vector<std::vector<float>>> load_fused_vector(const format::GgufFile& f, const std::string& name,
                                                          const std::vector<int64_t>& parts);

// A norm's gain and, for LayerNorm-with-bias architectures, its bias (empty when without).
struct NormWeights {
  std::vector<float> w, b;
};
// `prefix`.weight and, when `with_bias`, `prefix`.bias, both [n].
Result<NormWeights> load_norm(const format::GgufFile& f, const std::string& prefix, int64_t n, bool with_bias);

}  // namespace shuo::model

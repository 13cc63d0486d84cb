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
  // Packs every matrix whose type has a packed layout (in parallel, `threads` workers), points
  // it at its copy (w.packed, w.packed_data) and releases the file's pages of the original.
  void pack(const std::vector<kernels::WeightMatrix*>& mats, const format::GgufFile& f, int threads);
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

}  // namespace shuo::model

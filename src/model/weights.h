// Looking up weight tensors by name with shape and type checks; errors name the tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"
#include "kernels/matmul.h"

namespace shuo::model {

// A [rows, cols] matrix (GGUF ne = {cols, rows}) kept in its stored type, pointing into the mmap.
Result<kernels::WeightMatrix> load_matrix(const format::GgufFile& f, const std::string& name,
                                          int64_t rows, int64_t cols);
// A 1-D tensor of n elements converted to float (norm weights, biases: small).
Result<std::vector<float>> load_vector(const format::GgufFile& f, const std::string& name, int64_t n);

}  // namespace shuo::model

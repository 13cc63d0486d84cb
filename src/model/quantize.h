// Rewriting a GGUF model with its weight matrices in another type (`shuo quantize`).
// plan_quantization() decides each tensor's output type (the rules are in docs/quantization.md);
// quantize_model() streams tensor by tensor from the mmapped input to the output file, rows in
// parallel, holding at most one chunk (~32 MiB) of output and one float row per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"
#include "tensor/thread_pool.h"

namespace shuo::model {

// A target as llama-quantize names it: a default type for matrices plus mixing rules.
struct QuantPreset {
  const char* name;                  // "Q4_K_M"
  uint32_t llama_ftype;              // value written to general.file_type (LLAMA_FTYPE_MOSTLY_*)
  format::GgmlType default_type;     // type of an ordinary matrix
};

// Case-insensitive lookup among F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K.
std::optional<QuantPreset> find_quant_preset(const std::string& name);
// "F16, BF16, Q8_0, …" for messages.
std::string quant_preset_names();

struct QuantizeOptions {
  bool pure = false;  // every matrix gets default_type (only the block-size fallback applies)
};

// What happens to one tensor.
struct TensorPlan {
  std::string name;
  std::vector<int64_t> ne;
  format::GgmlType src_type = format::GgmlType::F32;
  format::GgmlType dst_type = format::GgmlType::F32;
  bool convert = false;           // false: bytes are copied unchanged
  std::string fallback_from;      // type the rules chose when the row length forced another
};

// Decides every tensor's type. Errors name the tensor (a source type that cannot be read).
Result<std::vector<TensorPlan>> plan_quantization(const format::GgufFile& in, const QuantPreset& preset,
                                                  const QuantizeOptions& opts = {});

// Quantized blocks cannot hold NaN/Inf faithfully (a block's scale would be poisoned): a row
// about to be quantized is checked first. The error names the tensor, row and column.
Result<void> check_row_finite(const float* row, int64_t cols, const std::string& tensor, int64_t r);

struct QuantizeProgress {
  size_t tensors_done = 0, tensors_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;  // output bytes
  const TensorPlan* tensor = nullptr;        // the tensor just finished
};

struct QuantizeStats {
  size_t n_tensors = 0, n_converted = 0, n_fallback = 0;
  uint64_t in_bytes = 0, out_bytes = 0;  // tensor data only
  double seconds = 0;
};

// Writes `out_path` (via out_path.tmp, renamed at the end): the input's metadata with
// general.file_type = preset.llama_ftype, tensors per plan_quantization. `on_progress` runs on
// the calling thread after each tensor. Errors name the tensor (and the row for NaN/Inf input).
Result<QuantizeStats> quantize_model(const format::GgufFile& in, const std::string& out_path,
                                     const QuantPreset& preset, tensor::ThreadPool& pool,
                                     const QuantizeOptions& opts = {},
                                     const std::function<void(const QuantizeProgress&)>& on_progress = {});

}  // namespace shuo::model

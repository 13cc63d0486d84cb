// Changing a model's weights as it loads: LoRA adapters merged (model/lora.h turns an adapter
// folder into WeightEdits) and float matrices quantized (`--quantize q8_0|q4_0|q4_k`). The result
// is an assembled GgufFile (format::GgufFile::assemble) that load_model() reads like any file.
//
// One pass, tensor by tensor, rows in parallel on the pool: each row is converted to F32 (or
// taken from a replacement), every edit is added in order, and the row is stored in its output
// type. A tensor's source pages are released as soon as it is done, so resident memory holds the
// rewritten tensors plus the one in flight, never the source and its rewrite in full. Rewritten
// tensors go to a scratch file (format/scratch_file.h), which the loader's repacking can release
// page by page like a model file; when no scratch file can be made they go to the heap.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"
#include "model/quantize.h"
#include "tensor/thread_pool.h"

namespace shuo::model {

// One change to a tensor's values, in the tensor's own GGUF layout: row i is output row i.
struct WeightEdit {
  std::string tensor;  // GGUF name in the base file
  std::string origin;  // where it comes from, for errors ("lora/adapter_model.safetensors: …q_proj")
  // Replace the values (PEFT modules_to_save): `replace_type` data of the tensor's shape, kept
  // alive by LoadTransform::keep_alive. A replacement discards the edits before it.
  const uint8_t* replace_data = nullptr;
  format::GgmlType replace_type = format::GgmlType::F32;
  // Add scale · B · A (a LoRA delta): b is [rows, rank] row-major, a is [rank, cols]. rank 0: none.
  int64_t rank = 0;
  double scale = 0;
  std::vector<float> a, b;
};

// The load-time quantization targets (`--quantize`): the type an ordinary matrix gets and the
// `shuo quantize` preset whose tensor rules apply (norms and small tables stay, the LM head may
// get more bits, rows that do not fit the block size fall back).
struct LoadQuantType {
  const char* name;  // "q8_0"
  QuantPreset preset;
};
// q8_0, q4_0, q4_k and the aliases 8 (= q8_0) and 4 (= q4_k), case-insensitive.
std::optional<LoadQuantType> find_load_quant_type(const std::string& name);
std::string load_quant_type_names();  // "q8_0, q4_0, q4_k (aliases 8, 4)"

struct LoadTransform {
  std::optional<LoadQuantType> quantize;  // F32/F16/BF16 matrices to this type
  std::vector<WeightEdit> edits;          // applied in order
  std::vector<std::shared_ptr<const void>> keep_alive;  // what replace_data points into
  std::string scratch_dir;                // "" = $TMPDIR or /tmp
  bool empty() const { return !quantize && edits.empty(); }
};

struct TransformStats {
  size_t n_tensors = 0, n_rewritten = 0, n_quantized = 0, n_edited = 0, n_fallback = 0;
  uint64_t in_bytes = 0, out_bytes = 0;  // of the rewritten tensors
  std::string storage;                   // "scratch file in /tmp" or "heap (why)"
  double seconds = 0;
};

// Applies `t` to `in`. Quantization only touches F32/F16/BF16 tensors of 2+ dimensions that the
// quantize rules select; an edited tensor keeps its type unless quantization selects it (a
// quantized base is merged in F32 and re-quantized to its own type). `on_progress` runs on the
// calling thread after each rewritten tensor. Errors name the tensor: an edit for a tensor the
// file lacks or of the wrong size, a type that cannot be converted, NaN/Inf in a row headed
// for a block type.
Result<format::GgufFile> transform_model(format::GgufFile in, const LoadTransform& t, tensor::ThreadPool& pool,
                                         const std::function<void(const QuantizeProgress&)>& on_progress = {},
                                         TransformStats* stats = nullptr);

}  // namespace shuo::model

// safetensors reader: memory-maps a file (or every shard a model.safetensors.index.json names)
// and validates it as strictly as the GGUF reader before any tensor is handed out: header
// length, JSON, dtypes, shapes, data offsets inside the file, contiguous and non-overlapping.
// Errors name the file, the tensor and the field; nothing is trusted before it is checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.h"
#include "format/ggml_types.h"
#include "format/mapped_file.h"

namespace shuo::format {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;                   // as stored: "F32", "BF16", "I64", …
  std::optional<GgmlType> type;        // F32 / F16 / BF16; nullopt for dtypes shuo cannot load
  std::vector<int64_t> shape;          // row-major, slowest first (PyTorch order): [out, in]
  const uint8_t* data = nullptr;       // into the mapping; valid while the file lives
  size_t n_bytes = 0;                  // = elements × dtype size, checked
  std::string file;                    // the file it came from (for errors)

  int64_t n_elements() const;
};

// Limits that keep a hostile header from making the reader allocate without bound.
struct SafetensorsLimits {
  uint64_t max_header_bytes = 100ull << 20;  // the limit the reference implementation uses
  size_t max_dims = 8;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. The error's `where` is the path; the message names tensor and field.
  static Result<SafetensorsFile> open(const std::string& path, const SafetensorsLimits& limits = {});
  // Parses bytes already in memory (fuzzing, tests); they must outlive the returned object.
  static Result<SafetensorsFile> parse(std::span<const uint8_t> bytes, std::string name,
                                       const SafetensorsLimits& limits = {});

  const std::string& path() const { return name_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // in data order
  const SafetensorsTensor* find(std::string_view name) const;
  // The `__metadata__` string map (e.g. {"format": "pt"}), empty when absent.
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }
  // The mapping the tensors point into; null for parse().
  const std::shared_ptr<const MappedFile>& mapping() const { return mapping_; }

 private:
  std::shared_ptr<const MappedFile> mapping_;
  std::string name_;
  std::vector<SafetensorsTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

// The weights of a Hugging Face model folder: `model.safetensors`, or the shards listed by
// `model.safetensors.index.json` (each tensor exactly once, in the shard its weight_map names).
class SafetensorsModel {
 public:
  // Errors: no safetensors file in `dir` (a PyTorch .bin is named as unsupported), a bad index
  // (JSON, a shard name that leaves the folder, a missing shard), a tensor in two shards or in
  // a shard other than the index says, and every error of SafetensorsFile::open.
  static Result<SafetensorsModel> open_dir(const std::string& dir, const SafetensorsLimits& limits = {});

  SafetensorsModel(SafetensorsModel&&) = default;
  SafetensorsModel& operator=(SafetensorsModel&&) = default;
  SafetensorsModel(const SafetensorsModel&) = delete;  // the index points into files_
  SafetensorsModel& operator=(const SafetensorsModel&) = delete;

  const std::vector<SafetensorsFile>& files() const { return files_; }
  const SafetensorsTensor* find(std::string_view name) const;
  // Every tensor name, in file order then data order.
  std::vector<std::string> names() const;

 private:
  SafetensorsModel() = default;
  std::vector<SafetensorsFile> files_;
  std::unordered_map<std::string, const SafetensorsTensor*> index_;
};

}  // namespace shuo::format

// GGUF reader (v2 and v3): memory-maps a file, validates every length, offset and size before
// anything is trusted, and exposes typed metadata and tensor views into the mapping.
// A corrupt or truncated file gives one Error naming the file, the field and the byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/result.h"
#include "format/ggml_types.h"
#include "format/mapped_file.h"

namespace shuo::format {

// GGUF metadata value type ids, as stored in the file.
enum class GgufType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* gguf_type_name(GgufType t);

struct GgufArray;

// One metadata value. The variant index equals the GgufType id, so value.index() tells the type.
struct GgufValue {
  std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string,
               std::shared_ptr<const GgufArray>, uint64_t, int64_t, double>
      v;
  GgufType type() const { return static_cast<GgufType>(v.index()); }
};

struct GgufArray {
  GgufType elem_type = GgufType::UINT8;
  std::vector<GgufValue> items;
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;   // dimensions, fastest-varying first (ggml order): a [out, in]
                             // matrix has ne = {in, out}
  uint64_t offset = 0;       // relative to the start of the data section
  size_t n_bytes = 0;        // validated against type and shape
  const uint8_t* data = nullptr;  // into the mapping; valid while the GgufFile lives

  int64_t n_elements() const;
  int64_t rows() const;      // product of ne[1..]
  int64_t cols() const { return ne.empty() ? 1 : ne[0]; }
};

// Limits that keep a hostile file from making the reader allocate or recurse without bound.
struct GgufLimits {
  uint64_t max_tensors = 1u << 20;
  uint64_t max_kv = 1u << 20;
  uint32_t max_array_depth = 8;
  uint32_t max_dims = 4;
};

// What GgufFile::assemble builds a GGUF held in memory from: a model loaded from elsewhere (a
// Hugging Face folder), or one file's content transformed at load (quantized, LoRA merged).
// Each tensor's `data` points into a buffer that `owners` keep alive or into one of `mappings`
// (which also makes release_pages work for it); `offset` and `n_bytes` are computed.
struct GgufAssembly {
  std::string name;  // shown in errors and as path()
  std::vector<std::pair<std::string, GgufValue>> metadata;
  std::vector<GgufTensorInfo> tensors;
  std::vector<std::shared_ptr<const MappedFile>> mappings;
  std::vector<std::shared_ptr<const void>> owners;
};

class GgufFile {
 public:
  // Maps and validates `path`. The error's `where` is the path; its message names field and offset.
  static Result<GgufFile> open(const std::string& path, const GgufLimits& limits = {});
  // Parses bytes already in memory (fuzzing, tests). `name` is used in error messages.
  // The bytes must outlive the returned object.
  static Result<GgufFile> parse(std::span<const uint8_t> bytes, std::string name,
                                const GgufLimits& limits = {});

  // Builds a file from parts (see GgufAssembly). Checked like a parsed file: unique keys and
  // tensor names, 1-4 dimensions, a first dimension that is a multiple of the block size, data
  // present. Offsets are those a GGUF writer with alignment 32 would give.
  static Result<GgufFile> assemble(GgufAssembly parts);

  // Everything of this file as the start of an assembly: metadata, tensors (pointing into this
  // file's bytes) and what keeps those bytes alive. Bytes given to parse() must outlive it.
  GgufAssembly share() const;

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  const std::string& path() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  size_t file_size() const { return bytes_.size(); }

  // ---- metadata ----
  // Keys in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Scalar accessor. T is one of uint8_t … double, bool, std::string. Integer types convert
  // between widths/signedness when the stored value fits; floats accept float32/float64.
  // Errors: kNotFound "key missing", kBadFile "key has type X, expected Y".
  template <typename T>
  Result<T> get(std::string_view key) const;
  // Like get, but a missing key is nullopt (a wrong type is still an error).
  template <typename T>
  Result<std::optional<T>> get_optional(std::string_view key) const;
  // Array accessor with the same conversion rules per element.
  template <typename T>
  Result<std::vector<T>> get_array(std::string_view key) const;
  // Length of an array value (0 when absent); cheap, does not copy.
  Result<const GgufArray*> get_array_ref(std::string_view key) const;

  // ---- tensors ----
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // The bytes [p, p + n) of a mapped file will not be read again soon (e.g. weights repacked
  // into another buffer): the whole pages inside the range leave resident memory. A later read
  // maps them again from the file, so this never changes what the bytes are. No-op for bytes
  // given to parse().
  void release_pages(const uint8_t* p, size_t n) const;
  // True when built by assemble() rather than read from bytes in GGUF layout.
  bool assembled() const { return assembled_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  std::vector<std::shared_ptr<const MappedFile>> mappings_;  // open(): the file; assemble(): its sources
  std::vector<std::shared_ptr<const void>> owners_;          // assemble(): buffers tensors point into
  std::span<const uint8_t> bytes_;
  std::string name_;
  bool assembled_ = false;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;

  friend class GgufParser;
};

// Render a value for humans (inspect): arrays longer than `max_items` are summarised.
std::string gguf_value_to_string(const GgufValue& v, size_t max_items = 8);

}  // namespace shuo::format

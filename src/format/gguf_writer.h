// GGUF v3 writer: metadata in insertion order, tensors aligned to general.alignment (32).
// Used by tests (building model variants) and by `shuo quantize` / `shuo convert`.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"

namespace shuo::format {

class GgufWriter {
 public:
  // Sets a key (replacing an existing one in place, else appending).
  void set(const std::string& key, GgufValue value);
  void set_u32(const std::string& key, uint32_t v) { set(key, GgufValue{v}); }
  void set_i32(const std::string& key, int32_t v) { set(key, GgufValue{v}); }
  void set_f32(const std::string& key, float v) { set(key, GgufValue{v}); }
  void set_bool(const std::string& key, bool v) { set(key, GgufValue{v}); }
  void set_str(const std::string& key, std::string v) { set(key, GgufValue{std::move(v)}); }
  void set_str_array(const std::string& key, const std::vector<std::string>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
  // Copies every key of `src` (e.g. to rewrite a model with other tensors).
  void copy_metadata(const GgufFile& src);
  void remove(const std::string& key);

  // Adds a tensor; `data` must hold exactly the bytes its type and shape need and stay alive
  // until write(). ne is in ggml order (fastest first).
  Result<void> add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                          std::span<const uint8_t> data);
  // Same, but the writer keeps its own copy.
  Result<void> add_tensor_copy(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                               std::vector<uint8_t> data);

  Result<void> write(const std::string& path) const;
  std::vector<uint8_t> to_bytes() const;

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    std::span<const uint8_t> data;
    size_t owned = SIZE_MAX;  // index into owned_ when the writer holds the bytes
  };
  template <typename Sink>
  void emit(Sink& sink) const;

  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
  std::vector<std::vector<uint8_t>> owned_;
  uint32_t alignment_ = 32;
};

}  // namespace shuo::format

// GGUF v3 writer that streams tensor data to disk one piece at a time, so a tool that rewrites a
// large model (`shuo quantize`) holds at most one chunk of output in memory. The header and
// tensor table are written first (every tensor's type and shape must be known up front); data
// then follows in declaration order. The file appears under its final name only after finish().
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"

namespace shuo::format {

struct GgufStreamTensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;  // ggml order (fastest first)
};

class GgufStreamWriter {
 public:
  GgufStreamWriter() = default;
  GgufStreamWriter(const GgufStreamWriter&) = delete;
  GgufStreamWriter& operator=(const GgufStreamWriter&) = delete;
  ~GgufStreamWriter();  // an unfinished file is removed

  // Validates the tensor table (block multiples, unique names), creates `path`.tmp and writes
  // header, metadata and tensor infos. Alignment is general.alignment when the metadata has it
  // (a power of two, u32), else 32.
  Result<void> open(const std::string& path, std::vector<std::pair<std::string, GgufValue>> kv,
                    std::vector<GgufStreamTensor> tensors);

  // Bytes tensor i occupies (without padding).
  size_t tensor_bytes(size_t i) const { return sizes_[i]; }

  // Appends data of the current tensor (the next one in declaration order whose bytes are not
  // complete). A tensor may be written in any number of pieces; padding follows automatically
  // once its last byte is in. Error when more bytes arrive than the tensors need.
  Result<void> write(std::span<const uint8_t> data);

  // Checks every tensor is complete, flushes, closes and renames `path`.tmp to `path`.
  Result<void> finish();

 private:
  Result<void> put(const void* p, size_t n);
  Result<void> pad();
  void abandon();

  std::string path_, tmp_path_;
  FILE* f_ = nullptr;
  uint64_t pos_ = 0;
  uint32_t alignment_ = 32;
  std::vector<GgufStreamTensor> tensors_;
  std::vector<size_t> sizes_;
  size_t current_ = 0;          // tensor receiving data
  size_t current_written_ = 0;  // bytes of it written so far
};

}  // namespace shuo::format

// A read-only memory mapping of a whole file, shared by the readers that hand out views into it
// (GGUF, safetensors) and by in-memory GGUF assemblies whose tensors still point into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/result.h"

namespace shuo::format {

class MappedFile {
 public:
  // Maps `path` read-only. Errors (kIo, where = path): cannot open, not a regular file, mmap
  // failure. An empty file maps to an empty span (readers report it in their own words).
  static Result<std::shared_ptr<const MappedFile>> open(const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {static_cast<const uint8_t*>(addr_), size_}; }
  const std::string& path() const { return path_; }
  bool contains(const uint8_t* p, size_t n) const;

  // The whole pages inside [p, p + n) leave resident memory (weights copied elsewhere will not
  // be read again soon). A later read maps them again from the file, so the bytes never change.
  // No-op for ranges outside this mapping.
  void release_pages(const uint8_t* p, size_t n) const;

 private:
  MappedFile(std::string path, void* addr, size_t size) : path_(std::move(path)), addr_(addr), size_(size) {}
  std::string path_;
  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace shuo::format

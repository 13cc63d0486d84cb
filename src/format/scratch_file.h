// Storage for tensors computed while a model loads (quantized at load, LoRA merged): an
// unlinked temporary file, written once with pwrite and then mapped read-only like a model file.
// Why not heap memory: the model loader repacks weights and releases the pages of what it copied
// (MappedFile::release_pages). Released file pages come back from the file when read again;
// released heap pages would come back as zeros, so heap-held weights could never be released
// and memory would hold the computed copy and the repacked one. Page-cache pages of the scratch
// file are also memory the kernel can write back and drop under pressure.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/result.h"
#include "format/mapped_file.h"

namespace shuo::format {

class ScratchFile {
 public:
  // A file of `size` bytes (zeros) in `dir` ("" = $TMPDIR, else /tmp), unlinked at once so that
  // nothing is left behind however the process ends. Errors (kIo, where = dir): cannot create,
  // no space for `size` bytes.
  static Result<ScratchFile> create(const std::string& dir, uint64_t size);

  ScratchFile(ScratchFile&& o) noexcept;
  ScratchFile& operator=(ScratchFile&& o) noexcept;
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  ~ScratchFile();

  uint64_t size() const { return size_; }
  const std::string& dir() const { return dir_; }
  // Writes bytes at `offset` (inside size()). Safe to call from several threads on disjoint ranges.
  Result<void> write(uint64_t offset, std::span<const uint8_t> bytes) const;
  // Maps the whole file read-only; the bytes stay readable through the mapping after this
  // object is gone.
  Result<std::shared_ptr<const MappedFile>> map() const;

 private:
  ScratchFile(int fd, uint64_t size, std::string dir) : fd_(fd), size_(size), dir_(std::move(dir)) {}
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string dir_;
};

}  // namespace shuo::format

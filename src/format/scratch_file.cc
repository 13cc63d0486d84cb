#include "format/scratch_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

namespace shuo::format {

Result<ScratchFile> ScratchFile::create(const std::string& dir_in, uint64_t size) {
  std::string dir = dir_in;
  if (dir.empty()) {
    const char* env = std::getenv("TMPDIR");
    dir = env && *env ? env : "/tmp";
  }
  std::string templ = (std::filesystem::path(dir) / "shuo-scratch-XXXXXX").string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  const int fd = ::mkostemp(buf.data(), O_CLOEXEC);
  if (fd < 0) return Error{ErrorCode::kIo, dir, std::string("cannot create a temporary file: ") + std::strerror(errno)};
  ::unlink(buf.data());
  // Reserve the blocks now, so a full disk is one clear error here rather than a failed write
  // half-way; file systems without fallocate get a sparse file.
  int rc = size ? ::posix_fallocate(fd, 0, off_t(size)) : 0;
  if (rc == EOPNOTSUPP || rc == EINVAL) rc = ::ftruncate(fd, off_t(size)) == 0 ? 0 : errno;
  if (rc != 0) {
    ::close(fd);
    return Error{ErrorCode::kIo, dir,
                 "cannot reserve " + std::to_string(size >> 20) + " MiB for a temporary file: " + std::strerror(rc)};
  }
  return ScratchFile(fd, size, dir);
}

ScratchFile::ScratchFile(ScratchFile&& o) noexcept : fd_(o.fd_), size_(o.size_), dir_(std::move(o.dir_)) { o.fd_ = -1; }

ScratchFile& ScratchFile::operator=(ScratchFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    size_ = o.size_;
    dir_ = std::move(o.dir_);
    o.fd_ = -1;
  }
  return *this;
}

ScratchFile::~ScratchFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> ScratchFile::write(uint64_t offset, std::span<const uint8_t> bytes) const {
  if (offset > size_ || bytes.size() > size_ - offset)
    return Error{ErrorCode::kInternal, dir_, "write past the end of the temporary file"};
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{ErrorCode::kIo, dir_, std::string("writing a temporary file: ") + std::strerror(errno)};
    bytes = bytes.subspan(size_t(n));
    offset += uint64_t(n);
  }
  return {};
}

Result<std::shared_ptr<const MappedFile>> ScratchFile::map() const {
  // The file has no name any more; /proc/self/fd reopens the same inode.
  return MappedFile::open("/proc/self/fd/" + std::to_string(fd_));
}

}  // namespace shuo::format

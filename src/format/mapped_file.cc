#include "format/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace shuo::format {

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{ErrorCode::kIo, path, std::string("cannot open: ") + std::strerror(errno)};
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{ErrorCode::kIo, path, "not a regular file"};
  }
  if (st.st_size == 0) {
    ::close(fd);
    return std::shared_ptr<const MappedFile>(new MappedFile(path, nullptr, 0));
  }
  void* addr = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);
  if (addr == MAP_FAILED) return Error{ErrorCode::kIo, path, std::string("mmap failed: ") + std::strerror(mmap_errno)};
  return std::shared_ptr<const MappedFile>(new MappedFile(path, addr, size_t(st.st_size)));
}

MappedFile::~MappedFile() {
  if (addr_) munmap(addr_, size_);
}

bool MappedFile::contains(const uint8_t* p, size_t n) const {
  const auto base = reinterpret_cast<uintptr_t>(addr_), lo = reinterpret_cast<uintptr_t>(p);
  return addr_ && lo >= base && n <= size_ && lo - base <= size_ - n;
}

void MappedFile::release_pages(const uint8_t* p, size_t n) const {
  if (n == 0 || !contains(p, n)) return;
  const auto page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t lo = reinterpret_cast<uintptr_t>(p), hi = lo + n;
  lo = (lo + page - 1) / page * page;  // inward: neighbours sharing a page stay resident
  hi = hi / page * page;
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

}  // namespace shuo::format

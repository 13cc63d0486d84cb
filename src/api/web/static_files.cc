// Safe static files (see static_files.h).
#include "api/web/static_files.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <system_error>

namespace shuo::api::web {

std::optional<std::string> safe_relative_path(std::string_view p) {
  if (p.empty() || p.front() == '/') return std::nullopt;
  for (unsigned char c : p)
    if (c < 0x20 || c == 0x7f || c == '\\') return std::nullopt;
  size_t start = 0;
  for (;;) {
    const size_t end = p.find('/', start);
    const std::string_view seg = p.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (seg.empty() || seg == "." || seg == "..") return std::nullopt;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return std::string(p);
}

std::string content_type_for(std::string_view path) {
  struct Type {
    std::string_view ext, type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},       {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},  {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},               {".map", "application/json"},
      {".svg", "image/svg+xml"},                   {".png", "image/png"},
      {".ico", "image/x-icon"},                    {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"},                    {".webp", "image/webp"},
  };
  for (const Type& t : kTypes)
    if (path.size() >= t.ext.size() && path.substr(path.size() - t.ext.size()) == t.ext) return std::string(t.type);
  return "application/octet-stream";
}

std::string etag_for(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

Result<std::optional<std::string>> read_below(const std::filesystem::path& root, const std::string& relative) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) return Error{ErrorCode::kIo, root.string(), "the web root is not readable: " + ec.message()};
  // canonical() resolves every symbolic link, so a link (or a link's target) that leads out of
  // the root ends up outside real_root and is refused like "..".
  const fs::path real = fs::canonical(real_root / relative, ec);
  if (ec) return std::optional<std::string>();
  auto [root_end, _] = std::mismatch(real_root.begin(), real_root.end(), real.begin(), real.end());
  if (root_end != real_root.end() || real == real_root) return std::optional<std::string>();
  if (!fs::is_regular_file(real, ec)) return std::optional<std::string>();
  std::ifstream in(real, std::ios::binary);
  if (!in) return Error{ErrorCode::kIo, real.string(), "cannot open"};
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Error{ErrorCode::kIo, real.string(), "cannot read"};
  return std::optional<std::string>(std::move(bytes));
}

}  // namespace shuo::api::web

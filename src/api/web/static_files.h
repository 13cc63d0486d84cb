// Serving files safely: which request paths may name a file, their content types, and reading
// one from a directory without ever leaving it (`shuo serve --web-root`).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace shuo::api::web {

// The relative file path for a decoded request path below the page's root ("assets/app.js"), or
// nothing when it could step outside or is not a plain name: empty, absolute, "." or ".."
// segments, empty segments ("a//b"), backslashes, NUL or other control bytes.
std::optional<std::string> safe_relative_path(std::string_view decoded);

// "text/html; charset=utf-8", "text/javascript; charset=utf-8", ...; application/octet-stream
// for an unknown extension.
std::string content_type_for(std::string_view path);

// A strong ETag for `bytes` ("\"<16 hex digits>\"", FNV-1a 64).
std::string etag_for(std::string_view bytes);

// Reads `relative` (already safe_relative_path) below `root`. Symbolic links are followed only
// while the real path stays inside the real root. nothing: no such regular file (or outside);
// an error: the file exists but cannot be read.
Result<std::optional<std::string>> read_below(const std::filesystem::path& root, const std::string& relative);

}  // namespace shuo::api::web

// Request policies that need no sockets: request ids, API keys, public paths and CORS. Kept apart
// from the connection code so that they can be tested directly.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shuo::api::http {

inline constexpr size_t kMaxRequestIdBytes = 64;

// A client's x-request-id reduced to [A-Za-z0-9._:/+=@-], at most 64 bytes; "" when nothing
// usable is left (the server then generates one).
std::string sanitize_request_id(std::string_view id);

// Unique, unpredictable-enough ids ("req-" + 16 hex digits): a random 64-bit seed mixed with a
// counter. Thread-safe.
class RequestIdGenerator {
 public:
  RequestIdGenerator();
  std::string next();

 private:
  uint64_t seed_;
  std::atomic<uint64_t> counter_{0};
};

// Equal contents, in time that depends only on the lengths (no early exit on a mismatch).
bool constant_time_equal(std::string_view a, std::string_view b);

// `authorization` is "Bearer <key>" (scheme case-insensitive) and the key equals one of `keys`.
// Every key is compared, so the time does not tell which one matched.
bool api_key_matches(const std::vector<std::string>& keys,
                     const std::optional<std::string>& authorization);

// `path` is listed exactly, or a listed entry ending in '*' is a prefix of it ("/static/*").
bool is_public_path(const std::vector<std::string>& public_paths, std::string_view path);

// The Access-Control-Allow-Origin value for a request's Origin: "*" when "*" is configured,
// the origin itself when it is listed, nothing otherwise (or when there is no Origin).
std::optional<std::string> cors_allow_origin(const std::vector<std::string>& origins,
                                             const std::optional<std::string>& origin);

// Header names for Access-Control-Allow-Headers: ours plus the ones a preflight asks for
// (Access-Control-Request-Headers), keeping only token characters.
std::string cors_allow_headers(const std::optional<std::string>& requested);

}  // namespace shuo::api::http

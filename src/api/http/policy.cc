// Request ids, API-key checks, public paths and CORS decisions.
#include "api/http/policy.h"

#include <random>

namespace shuo::api::http {
namespace {

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == ':' || c == '/' || c == '+' || c == '=' || c == '@' ||
         c == '-';
}

// RFC 9110 token characters (header names).
bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string sanitize_request_id(std::string_view id) {
  std::string out;
  for (char c : id) {
    if (out.size() == kMaxRequestIdBytes) break;
    if (id_char(c)) out += c;
  }
  return out;
}

RequestIdGenerator::RequestIdGenerator() {
  std::random_device rd;
  seed_ = (uint64_t(rd()) << 32) ^ rd();
}

std::string RequestIdGenerator::next() {
  uint64_t v = splitmix64(seed_ + counter_.fetch_add(1, std::memory_order_relaxed));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "req-";
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 0xF];
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned char diff = a.size() != b.size();
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

bool api_key_matches(const std::vector<std::string>& keys,
                     const std::optional<std::string>& authorization) {
  if (!authorization) return false;
  std::string_view v = trim(*authorization);
  constexpr std::string_view kScheme = "bearer";
  if (v.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = v[i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  if (v[kScheme.size()] != ' ') return false;
  std::string_view key = trim(v.substr(kScheme.size()));
  if (key.empty()) return false;
  bool ok = false;
  for (const std::string& k : keys) ok |= constant_time_equal(key, k);
  return ok;
}

bool is_public_path(const std::vector<std::string>& public_paths, std::string_view path) {
  for (const std::string& p : public_paths) {
    if (!p.empty() && p.back() == '*') {
      if (path.starts_with(std::string_view(p).substr(0, p.size() - 1))) return true;
    } else if (path == p) {
      return true;
    }
  }
  return false;
}

std::optional<std::string> cors_allow_origin(const std::vector<std::string>& origins,
                                             const std::optional<std::string>& origin) {
  if (!origin || origin->empty()) return std::nullopt;
  for (const std::string& o : origins) {
    if (o == "*") return std::string("*");
  }
  for (const std::string& o : origins) {
    if (o == *origin) return o;
  }
  return std::nullopt;
}

std::string cors_allow_headers(const std::optional<std::string>& requested) {
  std::string out = "Authorization, Content-Type, X-Request-Id";
  if (!requested) return out;
  std::string_view rest = *requested;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view name = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    bool ok = !name.empty() && name.size() <= 64;
    for (char c : name) ok = ok && token_char(c);
    if (ok && out.size() < 2048) {
      out += ", ";
      out += name;
    }
  }
  return out;
}

}  // namespace shuo::api::http

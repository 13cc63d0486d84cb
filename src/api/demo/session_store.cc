// Shared pieces of the session store interface (see session_store.h).
#include "api/demo/session_store.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace shuo::api::demo {

const char* session_kind_name(SessionKind kind) { return kind == SessionKind::kQa ? "qa" : "chat"; }

std::string local_time_iso8601() {
  const auto now = std::chrono::system_clock::now();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t secs = std::time_t(us / 1'000'000);
  const long frac = long(us % 1'000'000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[48];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06ld", frac);
  return buf;
}

}  // namespace shuo::api::demo

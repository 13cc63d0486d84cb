// Helpers for the process-mode tests: where the test backends are, and whether a pid is gone.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>

#include "api/demo/process/child_process.h"

namespace shuo::testing {

// A script in tests/api/backends/.
inline std::string backend_script(const std::string& name) {
  return (std::filesystem::path(SHUO_SOURCE_DIR) / "tests" / "api" / "backends" / name).string();
}

// True when no process (not even a zombie) has this pid: it ended and was reaped.
inline bool pid_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// A path for a file that does not exist yet, unique to this process and `tag`.
inline std::filesystem::path fresh_temp_path(const std::string& tag) {
  auto p = std::filesystem::temp_directory_path() / ("shuo_proc_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove(p);
  return p;
}

// A generous bound for things that should happen at once (never asserted as a speed).
inline api::demo::process::Clock::time_point soon() {
  return api::demo::process::Clock::now() + std::chrono::seconds(20);
}

}  // namespace shuo::testing

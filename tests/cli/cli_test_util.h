// Runs the real shuo binary and captures stdout, stderr and the exit status.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "test_support.h"

namespace shuo::testing {

struct RunResult {
  int status = -1;
  std::string out, err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// args are quoted one by one; stderr goes to a temp file.
inline RunResult run_shuo(const std::vector<std::string>& args) {
  const auto err_path = std::filesystem::temp_directory_path() / ("shuo_cli_err_" + std::to_string(::getpid()));
  std::string cmd = shell_quote(SHUO_BINARY_PATH);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " 2>" + shell_quote(err_path.string());
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = read_file(err_path);
  std::filesystem::remove(err_path);
  return r;
}

}  // namespace shuo::testing

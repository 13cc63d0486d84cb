// Helpers shared by the tests: where the shared test data is, reading small files.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace shuo::testing {

// ../shared/testdata (or $SHUO_TESTDATA). Tests that need it GTEST_SKIP() when it is absent.
inline std::filesystem::path testdata_dir() {
  if (const char* env = std::getenv("SHUO_TESTDATA"); env && *env) return env;
  return SHUO_TESTDATA_DIR;
}

inline bool have_testdata(const std::string& rel) {
  return std::filesystem::exists(testdata_dir() / rel);
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace shuo::testing

#define SHUO_REQUIRE_TESTDATA(rel)                                                    \
  do {                                                                                \
    if (!::shuo::testing::have_testdata(rel))                                         \
      GTEST_SKIP() << "shared test data not found: " << (::shuo::testing::testdata_dir() / (rel)) \
                   << " (clone next to ../shared or set SHUO_TESTDATA)";              \
  } while (0)

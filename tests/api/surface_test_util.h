// Test-only helpers shared by the ChatGLM-style and demo surface tests: a temporary directory,
// /metrics values, named SSE events, and a streamed text/plain body read line by line.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "api/openai_test_util.h"

namespace shuo::api::surface_testing {

using openai::testing::Json;
using openai::testing::Reply;

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> n{0};
    path_ = std::filesystem::temp_directory_path() /
            ("shuo-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string str() const { return path_.string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A gauge or counter from GET /metrics; -1 when absent.
inline double metric(uint16_t port, const std::string& name) {
  Reply r = openai::testing::get(port, "/metrics");
  size_t at = r.body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(r.body.substr(at + name.size() + 2));
}

inline bool wait_for_metric(uint16_t port, const std::string& name, double want) {
  for (int i = 0; i < 500; ++i) {
    if (metric(port, name) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

struct SseEvent {
  std::string event;  // "" when the event has no "event:" line
  Json data;          // null (and a test failure) when data is not JSON / not UTF-8
};

// "event: NAME\ndata: JSON\n\n" events in order. Fails the test on any other line shape.
inline std::vector<SseEvent> sse_events(const std::string& body) {
  std::vector<SseEvent> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated SSE event: " << body.substr(pos);
      break;
    }
    const std::string ev = body.substr(pos, end - pos);
    pos = end + 2;
    SseEvent e;
    size_t line_start = 0;
    while (line_start <= ev.size()) {
      size_t nl = ev.find('\n', line_start);
      const std::string line = ev.substr(line_start, nl == std::string::npos ? std::string::npos : nl - line_start);
      if (line.rfind("event: ", 0) == 0) {
        e.event = line.substr(7);
      } else if (line.rfind("data: ", 0) == 0) {
        e.data = Json::parse(line.substr(6), nullptr, false);  // nlohmann rejects ill-formed UTF-8
        EXPECT_FALSE(e.data.is_discarded()) << "data is not JSON / UTF-8: " << line;
        if (e.data.is_discarded()) e.data = Json();
      } else {
        ADD_FAILURE() << "unexpected SSE line: " << line;
      }
      if (nl == std::string::npos) break;
      line_start = nl + 1;
    }
    out.push_back(std::move(e));
  }
  return out;
}

// The lines of a text/plain body ("key:value"), without their "\n"; fails on a missing final
// newline.
inline std::vector<std::string> body_lines(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string::npos) {
      ADD_FAILURE() << "last line has no newline: " << body.substr(pos);
      out.push_back(body.substr(pos));
      break;
    }
    out.push_back(body.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// A suite whose tests share one `shuo serve` on stories260K, started once with a fresh
// --data-dir and the suite's flags (Derived::serve_args()); its log is printed when a test fails.
template <class Derived>
class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new TempDir(Derived::kName);
    std::vector<std::string> args = Derived::serve_args();
    args.insert(args.end(), {"--data-dir", data_->str()});
    server_ = new openai::testing::ServeProcess(std::move(args));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete data_;
    data_ = nullptr;
  }
  void SetUp() override {
    SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
    ASSERT_TRUE(server_->ok()) << server_->log();
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "--- server log ---\n" << server_->log();
  }
  static uint16_t port() { return server_->port(); }

  static inline TempDir* data_ = nullptr;
  static inline openai::testing::ServeProcess* server_ = nullptr;
};

}  // namespace shuo::api::surface_testing

// Test-only helpers for the OpenAI surface: a real `shuo serve` child process on a free port
// (--port 0; the port is read from its log), blocking HTTP calls and SSE parsing.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/http_test_util.h"
#include "test_support.h"

namespace shuo::api::openai::testing {

using Json = nlohmann::json;
using http::testing::Client;
using http::testing::Reply;

inline std::string stories_model() { return (shuo::testing::testdata_dir() / "stories260K/model.gguf").string(); }

// `shuo serve --model <stories260K> --port 0 --threads 1 <extra>`; stopped with SIGTERM on destruction.
// An empty `model` leaves --model out: shuo serves its built-in demo model.
class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> extra = {}, std::string model = stories_model()) {
    std::vector<std::string> args = {SHUO_BINARY_PATH, "serve", "--port", "0", "--threads", "1"};
    if (!model.empty()) args.insert(args.end(), {"--model", model});
    args.insert(args.end(), extra.begin(), extra.end());
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
    // Read the log until the listening line (or EOF / 30 s), then drain it on a thread.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    static const std::regex kListening(R"(listening on http://[^:]+:(\d+))");
    while (std::chrono::steady_clock::now() < deadline) {
      if (!read_some(200) && eof_) break;  // a quiet moment is not the end: loading may be slow
      std::lock_guard lock(mu_);
      std::smatch m;
      if (std::regex_search(log_, m, kListening)) {
        port_ = uint16_t(std::stoi(m[1].str()));
        break;
      }
    }
    drain_ = std::thread([this] {
      while (read_some(100) || !eof_) {
      }
    });
  }

  ~ServeProcess() { stop(); }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }  // e.g. to SIGKILL it; stop() still reaps it
  bool ok() const { return port_ != 0; }
  std::string log() {
    std::lock_guard lock(mu_);
    return log_;
  }

  // SIGTERM and wait (up to 10 s, then SIGKILL); the exit status as waitpid gives it.
  int stop() {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int st = 0;
    for (;;) {
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    status_ = st;
    eof_ = true;
    if (drain_.joinable()) drain_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return status_;
  }

 private:
  // Appends what the pipe has within timeout_ms; false on EOF or nothing.
  bool read_some(int timeout_ms) {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    std::lock_guard lock(mu_);
    log_.append(buf, size_t(n));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  int status_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> eof_{false};
  std::mutex mu_;
  std::string log_;
  std::thread drain_;
};

inline std::string http_request(const std::string& method, const std::string& path, const std::string& body,
                                const std::vector<std::string>& headers = {}) {
  std::string raw = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : headers) raw += h + "\r\n";
  if (method != "GET" || !body.empty())
    raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  raw += "\r\n" + body;
  return raw;
}

constexpr int kTimeoutMs = 60'000;  // generation on a loaded 2-core CI machine

inline Reply get(uint16_t port, const std::string& path, const std::vector<std::string>& headers = {}) {
  Client c(port, kTimeoutMs);
  c.send(http_request("GET", path, "", headers));
  return c.read_response();
}

inline Reply post(uint16_t port, const std::string& path, const std::string& body,
                  const std::vector<std::string>& headers = {}) {
  Client c(port, kTimeoutMs);
  c.send(http_request("POST", path, body, headers));
  return c.read_response();
}

inline Reply post(uint16_t port, const std::string& path, const Json& body) { return post(port, path, body.dump()); }

// The JSON of a reply body; null (and a test failure) when it does not parse.
inline Json json_of(const Reply& r) {
  Json j = Json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
  return j.is_discarded() ? Json() : j;
}

// SSE "data: ..." payloads in order ("[DONE]" included as it is). Fails the test on any other
// line shape.
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated SSE event: " << body.substr(pos);
      break;
    }
    std::string ev = body.substr(pos, end - pos);
    pos = end + 2;
    if (ev.rfind("data: ", 0) != 0) {
      ADD_FAILURE() << "not a data event: " << ev;
      continue;
    }
    out.push_back(ev.substr(6));
  }
  return out;
}

// Parsed JSON events of a stream that ends in [DONE] (checked).
inline std::vector<Json> sse_json(const std::string& body) {
  std::vector<Json> out;
  auto data = sse_data(body);
  EXPECT_FALSE(data.empty());
  if (data.empty()) return out;
  EXPECT_EQ(data.back(), "[DONE]");
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    Json j = Json::parse(data[i], nullptr, false);  // nlohmann rejects ill-formed UTF-8
    EXPECT_FALSE(j.is_discarded()) << "event " << i << " is not valid JSON / UTF-8: " << data[i];
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace shuo::api::openai::testing

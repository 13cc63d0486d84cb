// Test-only helpers for the HTTP server tests: a blocking POSIX-socket client that reads one
// response at a time (Content-Length, chunked or until close), an in-process server on a
// background thread, and a log sink that captures the access log.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "api/http/server.h"

namespace shuo::api::http::testing {

inline std::string lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return s;
}

struct Reply {
  bool ok = false;  // a whole response was read
  int status = 0;
  Headers headers;
  std::string body;  // de-chunked
  std::optional<std::string> header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (lower_ascii(k) == lower_ascii(name)) return v;
    }
    return std::nullopt;
  }
};

// A blocking client; every read gives up after `timeout_ms` so that a broken server fails a
// test instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port, int timeout_ms = 3000, int rcvbuf_bytes = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf_bytes > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Closes with RST instead of FIN (SO_LINGER 0): an abrupt client.
  void reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Reads the status line and headers of the next response (skipping 1xx unless asked).
  bool read_head(Reply& r, bool keep_1xx = false) {
    for (;;) {
      size_t end;
      while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
        if (!fill()) return false;
      }
      std::string head = buf_.substr(0, end);
      buf_.erase(0, end + 4);
      r = Reply{};
      size_t line_end = head.find("\r\n");
      std::string status_line = head.substr(0, line_end);
      if (status_line.size() < 12 || status_line.compare(0, 7, "HTTP/1.") != 0) return false;
      r.status = std::stoi(status_line.substr(9, 3));
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        std::string line = head.substr(pos, e - pos);
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string v = line.substr(colon + 1);
          while (!v.empty() && v.front() == ' ') v.erase(0, 1);
          r.headers.emplace_back(line.substr(0, colon), v);
        }
        pos = e + 2;
      }
      if (r.status >= 200 || keep_1xx) return true;
    }
  }

  // The next chunk of a chunked body: its data, "" for the last chunk, nullopt on an error.
  std::optional<std::string> read_chunk() {
    size_t e;
    while ((e = buf_.find("\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    size_t size = std::stoul(buf_.substr(0, e), nullptr, 16);
    buf_.erase(0, e + 2);
    while (buf_.size() < size + 2) {
      if (!fill()) return std::nullopt;
    }
    std::string data = buf_.substr(0, size);
    buf_.erase(0, size + 2);
    return data;
  }

  // One whole response. `head_request`: no body follows (HEAD).
  Reply read_response(bool head_request = false) {
    Reply r;
    if (!read_head(r)) return r;
    if (head_request || r.status == 204 || r.status == 304) {
      r.ok = true;
      return r;
    }
    if (auto te = r.header("Transfer-Encoding"); te && lower_ascii(*te) == "chunked") {
      for (;;) {
        auto chunk = read_chunk();
        if (!chunk) return r;
        if (chunk->empty()) break;
        r.body += *chunk;
      }
      r.ok = true;
    } else if (auto cl = r.header("Content-Length")) {
      size_t n = std::stoul(*cl);
      while (buf_.size() < n) {
        if (!fill()) return r;
      }
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
      r.ok = true;
    } else {
      while (fill()) {
      }
      r.body = std::move(buf_);
      buf_.clear();
      r.ok = eof_;
    }
    return r;
  }

  // True when the server closes the connection (EOF or reset) before the read timeout; bytes
  // that arrive first are dropped.
  bool wait_closed() {
    while (fill()) buf_.clear();
    return eof_;
  }

 private:
  // Appends what the socket has; false on EOF, reset or timeout (eof_ tells which).
  bool fill() {
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    eof_ = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    return false;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buf_;
};

inline Reply request(uint16_t port, const std::string& raw) {
  Client c(port);
  c.send(raw);
  return c.read_response();
}

// Collects formatted log lines.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    text_.append(buf.data(), buf.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

// A Server on 127.0.0.1:<ephemeral> running on a background thread; stopped and joined on
// destruction. Routes are added by `setup` before listen().
class TestServer {
 public:
  explicit TestServer(ServerOptions opt, const std::function<void(Server&)>& setup = {}) {
    sink_ = std::make_shared<CaptureSink>();
    opt.host = "127.0.0.1";
    opt.port = 0;
    opt.logger = std::make_shared<spdlog::logger>("http-test", sink_);
    opt.logger->set_level(spdlog::level::debug);
    server_ = std::make_unique<Server>(std::move(opt));
    if (setup) setup(*server_);
    auto port = server_->listen();
    if (port.ok()) {
      port_ = *port;
      thread_ = std::thread([this] {
        server_->run();
        run_done_.store(true);
      });
    }
  }
  ~TestServer() { stop_and_join(); }

  uint16_t port() const { return port_; }
  Server& server() { return *server_; }
  std::string log() { return sink_->text(); }

  // Calls stop() and waits for run() to return, up to `timeout`; false if it did not.
  bool stop_and_join(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    if (!thread_.joinable()) return true;
    server_->stop();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!run_done_.load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    bool ok = run_done_.load();
    thread_.join();  // a hang here still ends the test binary via ctest's timeout
    return ok;
  }

 private:
  std::shared_ptr<CaptureSink> sink_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  std::atomic<bool> run_done_{false};
  std::thread thread_;
};

}  // namespace shuo::api::http::testing

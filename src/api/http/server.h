// The HTTP/1.1 server core every HTTP surface (OpenAI, GLM, demo, web) plugs its routes into:
// keep-alive, limits and timeouts, chunked streaming from any thread, CORS, API keys, request
// ids, an access log and Prometheus metrics. Boost.Beast/Asio are used only in the .cc files.
//
// Threads: run() drives `io_threads` I/O threads; each connection is serialised on its own
// strand. Handlers run on an I/O thread and must not block; they keep the Responder and answer
// later from any thread (the engine's).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/http/message.h"
#include "api/http/metrics.h"
#include "core/result.h"

namespace spdlog {
class logger;
}

namespace shuo::api::http {

struct ServerOptions {
  std::string host = "127.0.0.1";  // an address or a name to resolve; "0.0.0.0" / "::" for all
  uint16_t port = 19327;           // 0: an ephemeral port (listen() returns it)
  int io_threads = 1;
  size_t max_body_bytes = 8 << 20;    // larger bodies get 413
  size_t max_header_bytes = 16 << 10; // larger header blocks get 431
  int header_timeout_ms = 10'000;  // from a request's first byte (or the connect) to its last header
  int read_timeout_ms = 60'000;    // from the end of the headers to the end of the body
  int idle_timeout_ms = 60'000;    // keep-alive: waiting for the next request
  int write_timeout_ms = 30'000;   // one write to a client that does not read
  int max_connections = 256;       // more get 503 with Retry-After, then close
  size_t max_write_queue_bytes = 4 << 20;  // per connection; a stream over it is cancelled
  std::vector<std::string> cors_origins;   // empty: no CORS headers; "*": any origin
  std::vector<std::string> api_keys;       // empty: no key needed
  std::vector<std::string> public_paths;   // need no key: exact ("/health") or prefix ("/static/*")
  int shutdown_grace_ms = 5'000;   // stop(): how long responses in flight may take to finish
  std::shared_ptr<spdlog::logger> logger;  // access and error log; null: spdlog's default logger
};

class Server {
 public:
  explicit Server(ServerOptions options);
  // Call stop() and let run() return first. Responders still held elsewhere stay safe to call
  // (they do nothing); what they keep alive is freed with the last of them.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Before listen(). `method` is matched exactly ("GET"); see Router for patterns.
  void route(std::string method, std::string path_pattern, Handler handler);
  // Before listen(). The shape of every error the server itself sends (404, 405, 413, 401, ...)
  // and of Responder::send_error. Default: openai_error_response.
  void set_error_formatter(ErrorFormatter formatter);

  // Binds and listens; returns the bound port. Errors name "host:port".
  Result<uint16_t> listen();
  // Blocks, serving on `io_threads` threads (this one included), until stop() has finished.
  void run();
  // Thread-safe, idempotent, returns at once. Stops accepting, closes idle connections, lets
  // responses in flight finish for up to shutdown_grace_ms, then cancels the rest (their
  // Responders report cancelled() and fire on_cancel) and closes them; then run() returns.
  void stop();
  // SIGINT and SIGTERM call stop(). Call before run().
  void stop_on_signals();

  Metrics& metrics();
  const ServerOptions& options() const;

  struct Core;  // the io_context and everything the connections share (server_core.h)

 private:
  std::shared_ptr<Core> core_;
};

// install_signal_stop(server) == server.stop_on_signals().
void install_signal_stop(Server& server);

// GET handler that serves `metrics` in the Prometheus text format (mount it at "/metrics").
// `metrics` must outlive the server.
Handler metrics_handler(const Metrics& metrics);

}  // namespace shuo::api::http

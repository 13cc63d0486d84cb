// The HTTP server's plain-data request and response, and the Responder through which a handler
// (or the engine thread it hands work to) answers. No Boost types here: the API surfaces include
// this header, and Beast/Asio stay inside the server's .cc files.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shuo::api::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;   // "GET", "POST", ... as sent (case-sensitive, per RFC 9110)
  std::string path;     // target before '?', not percent-decoded: "/chat/7/clear"
  std::string query;    // target after '?', without it; "" when absent
  Headers headers;      // in arrival order, names as sent
  std::string body;     // at most ServerOptions::max_body_bytes
  std::string request_id;  // the client's x-request-id (sanitised) or a generated one
  std::string remote;      // "ip:port" of the peer
  std::map<std::string, std::string> params;  // {name} segments of the matched route, decoded
  int version = 11;        // 10 for HTTP/1.0, 11 for HTTP/1.1

  // First header with this name, compared case-insensitively.
  std::optional<std::string> header(std::string_view name) const;
  // First `name=value` of the query string, both percent-decoded ('+' is a space).
  std::optional<std::string> query_param(std::string_view name) const;
  // A path parameter of the route ("" when the route has none of that name).
  const std::string& param(const std::string& name) const;
};

struct Response {
  int status = 200;
  Headers headers;  // extra headers; Content-Length, Transfer-Encoding and Connection are the server's
  std::string body;
  std::string content_type = "application/json";
};

// What write() tells the producer about the connection's bounded write queue.
enum class WriteStatus {
  kQueued,  // queued; the client keeps up
  kBusy,    // queued, but more than half of ServerOptions::max_write_queue_bytes is waiting: slow down
  kClosed,  // dropped: the stream is over (ended, cancelled, or the queue overflowed, which cancels it)
};

// One in-flight request's way back to its client. Every method may be called from any thread;
// the work is posted to the connection's strand, so calls made from one thread reach the client
// in the order made. Exactly one of send() or start_stream() (then write()* and end()) is
// honoured; later or out-of-order calls are ignored. If the last reference is dropped before the
// response is complete, the client gets a 500 (nothing sent yet) or the connection is closed (a
// stream without end()), and the error is logged.
class Responder {
 public:
  virtual ~Responder() = default;

  // The whole response, once.
  virtual void send(Response response) = 0;
  // An error response in the server's configured error shape (Server::set_error_formatter).
  virtual void send_error(int status, std::string_view code, std::string_view message) = 0;

  // Starts a streamed response: chunked transfer encoding on HTTP/1.1 (HTTP/1.0: raw body, then
  // close). For "text/event-stream" the server adds Cache-Control: no-cache.
  virtual void start_stream(int status, std::string content_type, Headers headers) = 0;
  // Queues one chunk (empty chunks are skipped). Never blocks. When more than
  // max_write_queue_bytes are waiting the client is too slow: the stream is cancelled.
  virtual WriteStatus write(std::string chunk) = 0;
  // Ends the stream (the terminating chunk); the connection may then serve the next request.
  virtual void end() = 0;

  // True once the client went away (EOF/reset while waiting or streaming, a write error or
  // timeout, queue overflow) or the server's shutdown grace period ran out. Never reset.
  virtual bool cancelled() const = 0;
  // `fn` runs once, on an I/O thread, when the request is cancelled (right away, posted, if it
  // already is). A later call replaces an earlier function that has not run. It must not block.
  virtual void on_cancel(std::function<void()> fn) = 0;

  virtual const std::string& request_id() const = 0;
};

// Runs on an I/O thread: validate, hand work off, return. `request` is valid only during the
// call; copy what the work needs. The Responder may be kept and used from any thread.
using Handler = std::function<void(const Request& request, std::shared_ptr<Responder> responder)>;

// Builds the error response a surface wants for a status, a machine-readable code and a message.
using ErrorFormatter =
    std::function<Response(int status, std::string_view code, std::string_view message)>;

// The default formatter: OpenAI's {"error":{"message","type","param":null,"code"}}.
Response openai_error_response(int status, std::string_view code, std::string_view message);

// JSON string contents for `s` (no surrounding quotes): escapes quote, backslash and control
// characters; bytes that are not valid UTF-8 become U+FFFD so the result is always valid JSON.
std::string json_escape(std::string_view s);

// %XX decoding; with `plus_is_space`, '+' decodes to ' ' (query strings). Malformed escapes are
// kept as they are.
std::string percent_decode(std::string_view s, bool plus_is_space);

}  // namespace shuo::api::http

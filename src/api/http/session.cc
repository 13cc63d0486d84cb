// One connection's life: read a request → dispatch → write the response (whole or chunked, from a
// bounded queue) → keep-alive or close. A read stays pending while a response is in flight so a
// client that disconnects cancels its request at once; pipelined bytes it sends are kept.
#include "api/http/session.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <spdlog/spdlog.h>

namespace shuo::api::http {

namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

constexpr size_t kReadChunkBytes = 16 << 10;
constexpr size_t kMaxPipelinedBytes = 64 << 10;  // buffered while a response is in flight
constexpr int kLingerMs = 1000;                  // after our last byte, wait this long for EOF
constexpr size_t kMaxWriteBatch = 64;            // buffers per gathered write

char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool header_name_ok(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// Header values and status-line text from handlers must not smuggle in CR/LF.
std::string header_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
  return out;
}

// A path or method as it goes into log lines and messages: printable ASCII, bounded.
std::string printable(std::string_view s, size_t max = 256) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c > 0x20 && c < 0x7F) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

std::string reason_phrase(int status) {
  auto st = http::int_to_status(static_cast<unsigned>(status));
  if (st == http::status::unknown) return "Unknown";
  return std::string(http::obsolete_reason(st));
}

std::string hex(size_t n) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ResponderImpl: the handler's (and engine's) side. Thread-safe; everything that touches the
// connection is posted to its strand, tagged with the request's sequence number.

class ResponderImpl final : public Responder {
 public:
  ResponderImpl(std::shared_ptr<Session> s, uint64_t seq, std::string id)
      : s_(std::move(s)), seq_(seq), id_(std::move(id)) {}

  ~ResponderImpl() override {
    if (phase_.load() == kDone || cancelled_.load()) return;
    try {
      post([s = s_, seq = seq_] { s->r_abandoned(seq); });
    } catch (...) {  // destructors never throw; the connection then just times out
    }
  }

  void send(Response r) override {
    int expect = kNew;
    if (!phase_.compare_exchange_strong(expect, kDone)) return;
    post([s = s_, seq = seq_, r = std::move(r)]() mutable { s->r_send(seq, std::move(r)); });
  }

  void send_error(int status, std::string_view code, std::string_view message) override {
    send(s_->core().error(status, code, message));
  }

  void start_stream(int status, std::string content_type, Headers headers) override {
    int expect = kNew;
    if (!phase_.compare_exchange_strong(expect, kStreaming)) return;
    post([s = s_, seq = seq_, status, ct = std::move(content_type),
          h = std::move(headers)]() mutable {
      s->r_start_stream(seq, status, std::move(ct), std::move(h));
    });
  }

  WriteStatus write(std::string chunk) override {
    if (phase_.load() != kStreaming || cancelled_.load()) return WriteStatus::kClosed;
    if (chunk.empty()) return WriteStatus::kQueued;
    const size_t n = chunk.size();
    const size_t max = s_->core().opt.max_write_queue_bytes;
    const size_t queued = s_->pending_bytes.fetch_add(n) + n;
    if (queued > max) {
      s_->pending_bytes.fetch_sub(n);
      cancelled_.store(true);
      post([s = s_, seq = seq_] { s->r_overflow(seq); });
      return WriteStatus::kClosed;
    }
    post([s = s_, seq = seq_, c = std::move(chunk), n]() mutable {
      s->r_write(seq, std::move(c), n);
    });
    return queued > max / 2 ? WriteStatus::kBusy : WriteStatus::kQueued;
  }

  void end() override {
    int expect = kStreaming;
    if (!phase_.compare_exchange_strong(expect, kDone)) return;
    post([s = s_, seq = seq_] { s->r_end(seq); });
  }

  bool cancelled() const override { return cancelled_.load(); }

  void on_cancel(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    if (!fired_) {
      cancel_fn_ = std::move(fn);
      return;
    }
    lock.unlock();
    if (!fn) return;
    if (s_->server_finished()) {  // no I/O thread left to run it
      run_guarded(fn);
      return;
    }
    post([fn = std::move(fn)] { run_guarded(fn); });
  }

  const std::string& request_id() const override { return id_; }

  // On the strand: the request is cancelled (client gone, overflow, shutdown).
  void fire_cancel() {
    cancelled_.store(true);
    std::function<void()> fn;
    {
      std::lock_guard lock(mu_);
      if (fired_) return;
      fired_ = true;
      fn = std::move(cancel_fn_);
    }
    if (fn) run_guarded(fn);
  }

  // On the strand: the response is complete; later calls are ignored, nothing is abandoned.
  void mark_done() { phase_.store(kDone); }

 private:
  enum { kNew, kStreaming, kDone };

  static void run_guarded(const std::function<void()>& fn) {
    try {
      fn();
    } catch (...) {  // an on_cancel callback must not take an I/O thread down
    }
  }

  template <typename F>
  void post(F&& f) {
    if (s_->server_finished()) return;
    asio::post(s_->executor(), std::forward<F>(f));
  }

  std::shared_ptr<Session> s_;
  const uint64_t seq_;
  const std::string id_;
  std::atomic<int> phase_{kNew};
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::function<void()> cancel_fn_;
  bool fired_ = false;
};

// ---------------------------------------------------------------------------------------------
// Session

Session::Session(std::shared_ptr<Server::Core> core, tcp::socket socket, uint64_t id,
                 bool rejected)
    : core_(std::move(core)),
      executor_(socket.get_executor()),
      sock_(std::move(socket)),
      timer_(executor_),
      id_(id),
      rejected_(rejected) {
  error_code ec;
  tcp::endpoint ep = sock_.remote_endpoint(ec);
  if (ec) {
    remote_ = "?";
  } else if (ep.address().is_v6()) {
    remote_ = "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  } else {
    remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
}

void Session::start() {
  if (rejected_) {
    core_->log->warn("http: rejected connection from {}: max_connections={} reached", remote_,
                     core_->opt.max_connections);
    phase_ = Phase::kHandle;
    keep_alive_ = false;
    Response r = core_->error(503, "server_overloaded", "too many open connections; retry later");
    r.headers.emplace_back("Retry-After", "1");
    send_response(std::move(r));
    return;
  }
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(core_->opt.max_header_bytes));
  parser_->body_limit(core_->opt.max_body_bytes);
  parser_->eager(true);
  arm_timer(core_->opt.header_timeout_ms);
  do_read();
}

// --- reading -----------------------------------------------------------------------------------

void Session::do_read() {
  if (reading_ || phase_ == Phase::kClosed) return;
  bool in_flight = phase_ == Phase::kHandle || phase_ == Phase::kStream;
  // A client that pipelines more than this while we answer is not read from until we are done
  // (it then also is not watched for a disconnect; the write timeout still applies).
  if (in_flight && buf_.size() >= kMaxPipelinedBytes) return;
  reading_ = true;
  if (!read_buf_) read_buf_ = std::make_unique<char[]>(kReadChunkBytes);
  sock_.async_read_some(asio::buffer(read_buf_.get(), kReadChunkBytes),
                        [self = shared_from_this()](error_code ec, size_t n) {
                          self->on_read(ec, n);
                        });
}

void Session::on_read(error_code ec, size_t n) {
  reading_ = false;
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    // EOF or reset. While a request is in flight this is how we learn the client went away.
    close(phase_ == Phase::kHandle || phase_ == Phase::kStream ? "client disconnected" : nullptr);
    return;
  }
  if (phase_ != Phase::kLinger) {
    std::memcpy(buf_.prepare(n).data(), read_buf_.get(), n);
    buf_.commit(n);
  }
  if (phase_ == Phase::kRead) {
    parse();
  } else {
    do_read();  // in flight: keep watching (bytes stay buffered); lingering: discard
  }
}

void Session::parse() {
  while (phase_ == Phase::kRead) {
    if (buf_.size() == 0) break;
    if (!got_bytes_) {
      got_bytes_ = true;
      // The first request's header timer runs from the connect; later ones from their first byte.
      if (!first_request_) arm_timer(core_->opt.header_timeout_ms);
    }
    error_code ec;
    size_t used = parser_->put(buf_.data(), ec);
    buf_.consume(used);
    if (ec == http::error::need_more) ec = {};
    if (ec) {
      parse_failed(ec);
      return;
    }
    if (parser_->is_header_done() && !header_done_) {
      header_done_ = true;
      if (!parser_->is_done()) {
        arm_timer(core_->opt.read_timeout_ms);
        const auto& m = parser_->get();
        if (m.version() >= 11 && iequals(m[http::field::expect], "100-continue")) {
          queue("HTTP/1.1 100 Continue\r\n\r\n");
          start_write();
        }
      }
    }
    if (parser_->is_done()) {
      on_request();
      return;
    }
    if (used == 0) break;
  }
  if (phase_ == Phase::kRead) do_read();
}

void Session::parse_failed(error_code ec) {
  disarm_timer();
  int status = 400;
  std::string code = "bad_request", message = "malformed HTTP request: " + ec.message();
  if (ec == http::error::body_limit) {
    status = 413;
    code = "request_too_large";
    message = "request body is larger than " + std::to_string(core_->opt.max_body_bytes) + " bytes";
  } else if (ec == http::error::header_limit) {
    status = 431;
    code = "request_header_fields_too_large";
    message = "request headers are larger than " + std::to_string(core_->opt.max_header_bytes) +
              " bytes";
  }
  if (parser_->is_header_done()) {
    method_ = printable(parser_->get().method_string(), 32);
    std::string_view target = parser_->get().target();
    path_ = printable(target.substr(0, target.find('?')));
  } else {
    method_ = path_ = "-";
  }
  parser_.reset();
  phase_ = Phase::kHandle;
  ++seq_;
  request_id_ = core_->ids.next();
  route_ = "-";
  cors_.clear();
  keep_alive_ = false;  // the rest of the stream cannot be trusted
  head_ = false;
  status_ = 0;
  body_bytes_ = 0;
  start_ = std::chrono::steady_clock::now();
  send_response(core_->error(status, code, message));
}

// --- dispatching -------------------------------------------------------------------------------

void Session::on_request() {
  disarm_timer();
  auto& m = parser_->get();
  Request req;
  req.method = std::string(m.method_string());
  std::string_view target = m.target();
  size_t q = target.find('?');
  req.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
  for (const auto& f : m) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  req.body = std::move(m.body());
  req.remote = remote_;
  req.version = static_cast<int>(m.version());
  keep_alive_ = m.keep_alive() && !stopping_;
  version_ = req.version;
  parser_.reset();

  std::string id = sanitize_request_id(req.header("x-request-id").value_or(""));
  req.request_id = id.empty() ? core_->ids.next() : id;

  phase_ = Phase::kHandle;
  ++seq_;
  request_id_ = req.request_id;
  method_ = printable(req.method, 32);
  path_ = printable(req.path);
  route_ = "unmatched";
  head_ = req.method == "HEAD";
  chunked_ = false;
  response_done_ = false;
  status_ = 0;
  body_bytes_ = 0;
  start_ = std::chrono::steady_clock::now();
  cors_.clear();
  if (!core_->opt.cors_origins.empty()) {
    if (auto allow = cors_allow_origin(core_->opt.cors_origins, req.header("Origin"))) {
      cors_ = "Access-Control-Allow-Origin: " + header_value(*allow) + "\r\n";
      if (*allow != "*") cors_ += "Vary: Origin\r\n";
      cors_ += "Access-Control-Expose-Headers: x-request-id\r\n";
    }
  }

  do_read();  // watch for a disconnect while the request is handled
  dispatch(req);
}

void Session::dispatch(Request& req) {
  const ServerOptions& opt = core_->opt;
  // CORS preflight: answered here, before the key check (browsers send no credentials on it).
  if (!opt.cors_origins.empty() && req.method == "OPTIONS" && req.header("Origin") &&
      req.header("Access-Control-Request-Method")) {
    route_ = "preflight";
    Response r;
    r.status = 204;
    r.content_type.clear();
    if (!cors_.empty()) {
      r.headers = {{"Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS"},
                   {"Access-Control-Allow-Headers",
                    cors_allow_headers(req.header("Access-Control-Request-Headers"))},
                   {"Access-Control-Max-Age", "600"}};
    }
    send_response(std::move(r));
    return;
  }

  if (!opt.api_keys.empty() && !is_public_path(opt.public_paths, req.path) &&
      !api_key_matches(opt.api_keys, req.header("Authorization"))) {
    route_ = "unauthorized";
    Response r = core_->error(401, "invalid_api_key",
                              req.header("Authorization")
                                  ? "incorrect API key provided"
                                  : "missing API key: send the header Authorization: Bearer <key>");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    send_response(std::move(r));
    return;
  }

  Router::Match match = core_->router.match(req.method, req.path);
  if (!match.handler) {
    Response r;
    if (match.path_known) {
      r = core_->error(405, "method_not_allowed",
                       "method " + method_ + " is not allowed for " + path_ + " (allowed: " +
                           match.allow + ")");
      r.headers.emplace_back("Allow", match.allow);
    } else {
      r = core_->error(404, "not_found", "no route for " + method_ + " " + path_);
    }
    send_response(std::move(r));
    return;
  }

  route_ = match.pattern;
  req.params = std::move(match.params);
  auto responder = std::make_shared<ResponderImpl>(shared_from_this(), seq_, request_id_);
  responder_ = responder;
  try {
    (*match.handler)(req, responder);
  } catch (const std::exception& e) {
    core_->log->error("http id={} handler for {} {} threw: {}", request_id_, method_, route_,
                      e.what());
    responder->send_error(500, "internal_error", "internal error (request id " + request_id_ + ")");
  } catch (...) {
    core_->log->error("http id={} handler for {} {} threw", request_id_, method_, route_);
    responder->send_error(500, "internal_error", "internal error (request id " + request_id_ + ")");
  }
}

// --- writing -----------------------------------------------------------------------------------

std::string Session::build_head(int status, std::string_view content_type, const Headers& extra,
                                std::optional<size_t> content_length, bool chunked) const {
  std::string h = version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  h += std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  h += "Server: shuo\r\n";
  if (!content_type.empty()) h += "Content-Type: " + header_value(content_type) + "\r\n";
  if (content_length) h += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  if (chunked) h += "Transfer-Encoding: chunked\r\n";
  h += "x-request-id: " + request_id_ + "\r\n";
  h += cors_;
  for (const auto& [k, v] : extra) {
    if (!header_name_ok(k)) continue;
    // Framing and identity headers are the server's.
    if (iequals(k, "content-length") || iequals(k, "transfer-encoding") ||
        iequals(k, "connection") || iequals(k, "content-type") || iequals(k, "x-request-id")) {
      continue;
    }
    h += k + ": " + header_value(v) + "\r\n";
  }
  if (!keep_alive_) {
    h += "Connection: close\r\n";
  } else if (version_ == 10) {
    h += "Connection: keep-alive\r\n";
  }
  h += "\r\n";
  return h;
}

void Session::send_response(Response r) {
  if (r.status < 100 || r.status > 599) r.status = 500;
  status_ = r.status;
  const bool no_body = r.status < 200 || r.status == 204 || r.status == 304;
  if (no_body) r.body.clear();
  queue(build_head(r.status, no_body ? std::string_view{} : std::string_view(r.content_type),
                   r.headers, no_body ? std::nullopt : std::optional<size_t>(r.body.size()),
                   false));
  if (!head_ && !r.body.empty()) {
    body_bytes_ = r.body.size();
    queue(std::move(r.body));
  }
  response_done_ = true;
  start_write();
}

void Session::queue(std::string data, size_t accounted) {
  outq_.push_back(Out{std::move(data), accounted});
}

void Session::start_write() {
  if (writing_ || phase_ == Phase::kClosed) return;
  const bool in_flight = phase_ == Phase::kHandle || phase_ == Phase::kStream;
  if (outq_.empty()) {
    if (in_flight && response_done_) finish_response();
    return;
  }
  inflight_.clear();
  while (!outq_.empty() && inflight_.size() < kMaxWriteBatch) {
    inflight_.push_back(std::move(outq_.front()));
    outq_.pop_front();
  }
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(inflight_.size());
  for (const Out& o : inflight_) bufs.emplace_back(o.data.data(), o.data.size());
  writing_ = true;
  if (in_flight) arm_timer(core_->opt.write_timeout_ms);
  asio::async_write(sock_, bufs, [self = shared_from_this()](error_code ec, size_t n) {
    self->on_write(ec, n);
  });
}

void Session::on_write(error_code ec, size_t) {
  writing_ = false;
  size_t released = 0;
  for (const Out& o : inflight_) released += o.accounted;
  inflight_.clear();
  pending_bytes.fetch_sub(released);
  if (phase_ == Phase::kClosed) return;
  const bool in_flight = phase_ == Phase::kHandle || phase_ == Phase::kStream;
  if (in_flight) disarm_timer();
  if (ec) {
    close(in_flight ? "write failed" : nullptr);
    return;
  }
  start_write();
}

void Session::finish_response() {
  if (!rejected_) log_access(true);
  if (auto r = responder_.lock()) r->mark_done();
  responder_.reset();
  if (rejected_ || !keep_alive_ || stopping_) {
    linger();
    return;
  }
  phase_ = Phase::kRead;
  got_bytes_ = false;
  header_done_ = false;
  first_request_ = false;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(core_->opt.max_header_bytes));
  parser_->body_limit(core_->opt.max_body_bytes);
  parser_->eager(true);
  arm_timer(core_->opt.idle_timeout_ms);
  parse();  // pipelined bytes first; reads more when they are not a whole request
}

// --- Responder operations (on the strand) ------------------------------------------------------

void Session::r_send(uint64_t seq, Response r) {
  if (seq != seq_ || phase_ != Phase::kHandle) return;
  send_response(std::move(r));
}

void Session::r_start_stream(uint64_t seq, int status, std::string content_type, Headers headers) {
  if (seq != seq_ || phase_ != Phase::kHandle) return;
  if (status < 200 || status > 599) status = 500;
  phase_ = Phase::kStream;
  status_ = status;
  chunked_ = version_ >= 11;
  if (!chunked_) keep_alive_ = false;  // HTTP/1.0: the end of the body is the close
  if (content_type.starts_with("text/event-stream")) {
    bool has_cache_control = false;
    for (const auto& h : headers) has_cache_control |= iequals(h.first, "cache-control");
    if (!has_cache_control) headers.emplace_back("Cache-Control", "no-cache");
    headers.emplace_back("X-Accel-Buffering", "no");  // proxies: do not buffer events
  }
  queue(build_head(status, content_type, headers, std::nullopt, chunked_));
  if (head_) response_done_ = true;  // HEAD: headers only
  start_write();
}

void Session::r_write(uint64_t seq, std::string chunk, size_t accounted) {
  if (seq != seq_ || phase_ != Phase::kStream || response_done_) {
    pending_bytes.fetch_sub(accounted);
    return;
  }
  body_bytes_ += chunk.size();
  if (chunked_) {
    std::string framed = hex(chunk.size()) + "\r\n";
    framed.reserve(framed.size() + chunk.size() + 2);
    framed += chunk;
    framed += "\r\n";
    queue(std::move(framed), accounted);
  } else {
    queue(std::move(chunk), accounted);
  }
  start_write();
}

void Session::r_end(uint64_t seq) {
  if (seq != seq_ || phase_ != Phase::kStream || response_done_) return;
  if (chunked_) queue("0\r\n\r\n");
  response_done_ = true;
  start_write();
}

void Session::r_overflow(uint64_t seq) {
  if (seq != seq_ || phase_ != Phase::kStream) return;
  core_->log->warn("http id={} client too slow: over {} bytes queued", request_id_,
                   core_->opt.max_write_queue_bytes);
  close("write queue overflow");
}

void Session::r_abandoned(uint64_t seq) {
  if (seq != seq_) return;
  if (phase_ == Phase::kHandle) {
    core_->log->error("http id={} {} {}: the handler dropped its responder without answering",
                      request_id_, method_, route_);
    send_response(core_->error(500, "internal_error",
                               "internal error (request id " + request_id_ + ")"));
  } else if (phase_ == Phase::kStream && !response_done_) {
    core_->log->error("http id={} {} {}: stream dropped without end()", request_id_, method_,
                      route_);
    close("stream abandoned");
  }
}

// --- timers, shutdown, closing -----------------------------------------------------------------

void Session::arm_timer(int ms) {
  ++timer_gen_;
  timer_.expires_after(std::chrono::milliseconds(ms));
  timer_.async_wait([self = shared_from_this(), gen = timer_gen_](error_code ec) {
    if (ec || gen != self->timer_gen_) return;
    self->on_timeout();
  });
}

void Session::disarm_timer() {
  ++timer_gen_;
  timer_.cancel();
}

void Session::on_timeout() {
  switch (phase_) {
    case Phase::kRead:
      if (got_bytes_) {
        core_->log->info("http: dropping {}: {} timeout", remote_, header_done_ ? "body" : "header");
      }
      close();
      break;
    case Phase::kHandle:
    case Phase::kStream:
      close("write timeout");
      break;
    case Phase::kLinger:
      close();
      break;
    case Phase::kClosed:
      break;
  }
}

void Session::server_stopping() {
  stopping_ = true;
  switch (phase_) {
    case Phase::kRead:
    case Phase::kLinger:
      close();
      break;
    case Phase::kHandle:
    case Phase::kStream:
      keep_alive_ = false;  // finish this response, then close
      break;
    case Phase::kClosed:
      break;
  }
}

void Session::grace_expired() {
  if (phase_ != Phase::kClosed) close("server shutdown");
}

void Session::linger() {
  phase_ = Phase::kLinger;
  error_code ec;
  sock_.shutdown(tcp::socket::shutdown_send, ec);
  arm_timer(kLingerMs);
  do_read();
}

void Session::close(const char* why) {
  if (phase_ == Phase::kClosed) return;
  const bool in_flight = phase_ == Phase::kHandle || phase_ == Phase::kStream;
  phase_ = Phase::kClosed;
  disarm_timer();
  error_code ec;
  sock_.shutdown(tcp::socket::shutdown_both, ec);
  sock_.close(ec);
  outq_.clear();
  if (in_flight && !rejected_) {
    core_->log->info("http id={} aborted: {}", request_id_, why ? why : "closed");
    log_access(false);
  }
  if (auto r = responder_.lock()) r->fire_cancel();
  responder_.reset();
  core_->unregister(id_, !rejected_);
}

void Session::log_access(bool complete) {
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  const int status = status_ ? status_ : 499;  // nginx's "client closed request"
  const std::string status_text = std::to_string(status);
  core_->metrics
      .counter("shuo_http_requests_total", "HTTP requests by route and status.",
               {{"route", route_}, {"status", status_text}})
      .inc();
  core_->metrics
      .histogram("shuo_http_request_duration_seconds",
                 "Time from a request's last byte to its response's last byte.",
                 Metrics::exponential_buckets(0.001, 4, 10), {{"route", route_}})
      .observe(ms / 1000.0);
  core_->log->info("http id={} remote={} method={} path={} route={} status={} bytes={} ms={:.1f}{}",
                   request_id_, remote_, method_, path_, route_, status, body_bytes_, ms,
                   complete ? "" : " aborted=1");
}

}  // namespace shuo::api::http

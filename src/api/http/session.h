// Internal: one client connection. Reads requests with a fresh Beast parser each, dispatches them
// to handlers, writes whole or chunked responses from a bounded queue, and keeps a read pending
// while a response is in flight so that a client that goes away cancels its request at once.
// Everything here runs on the connection's strand; ResponderImpl (session.cc) posts into it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/http/server_core.h"

namespace shuo::api::http {

class ResponderImpl;

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `rejected`: over max_connections; answer 503 and close without reading a request.
  Session(std::shared_ptr<Server::Core> core, tcp::socket socket, uint64_t id, bool rejected);

  const asio::any_io_executor& executor() const { return executor_; }
  Server::Core& core() { return *core_; }
  bool server_finished() const { return core_->finished.load(); }

  // All of these run on the strand.
  void start();
  void server_stopping();  // the server stops: close when idle, finish what is in flight
  void grace_expired();    // the grace period ran out: cancel and close

  // Posted by the Responder of request `seq` (stale sequence numbers are ignored).
  void r_send(uint64_t seq, Response r);
  void r_start_stream(uint64_t seq, int status, std::string content_type, Headers headers);
  void r_write(uint64_t seq, std::string chunk, size_t accounted);
  void r_end(uint64_t seq);
  void r_overflow(uint64_t seq);
  void r_abandoned(uint64_t seq);

  // Bytes accepted by Responder::write and not yet written to the socket (any thread).
  std::atomic<size_t> pending_bytes{0};

 private:
  enum class Phase { kRead, kHandle, kStream, kLinger, kClosed };
  struct Out {
    std::string data;
    size_t accounted = 0;  // share of pending_bytes to release once written
  };

  void do_read();
  void on_read(boost::system::error_code ec, size_t n);
  void parse();
  void parse_failed(boost::system::error_code ec);
  void on_request();
  void dispatch(Request& req);

  void arm_timer(int ms);
  void disarm_timer();
  void on_timeout();

  std::string build_head(int status, std::string_view content_type, const Headers& extra,
                         std::optional<size_t> content_length, bool chunked) const;
  void send_response(Response r);  // a whole response for the current request
  void queue(std::string data, size_t accounted = 0);
  void start_write();
  void on_write(boost::system::error_code ec, size_t n);
  void finish_response();

  void linger();  // half-close, drain briefly, close (so that the client reads all we sent)
  // Closes the socket; a request in flight is logged as aborted (`why`) and cancelled.
  void close(const char* why = nullptr);
  void log_access(bool complete);

  // Declared first so that it is destroyed last: the socket and timer need its io_context.
  std::shared_ptr<Server::Core> core_;
  asio::any_io_executor executor_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  uint64_t id_;
  bool rejected_;
  std::string remote_;

  // Reads land in read_buf_ and are appended to buf_ when they complete: buf_ is consumed by the
  // parser while a read is pending, so it must never be the read's target.
  std::unique_ptr<char[]> read_buf_;
  boost::beast::flat_buffer buf_;  // received, not yet parsed
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Phase phase_ = Phase::kRead;
  bool reading_ = false;       // an async read is outstanding
  bool first_request_ = true;  // the connect armed the header timer already
  bool got_bytes_ = false;     // the request being read has started
  bool header_done_ = false;
  bool stopping_ = false;      // the server is stopping: no keep-alive
  uint64_t timer_gen_ = 0;

  // The request in flight (phase kHandle / kStream).
  uint64_t seq_ = 0;
  std::weak_ptr<ResponderImpl> responder_;
  std::string request_id_, method_, path_, route_;
  std::string cors_;            // CORS header lines for this request's response
  int version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;           // HEAD: headers only
  bool chunked_ = false;        // the stream uses chunked encoding (HTTP/1.1)
  bool response_done_ = false;  // the whole response is queued
  int status_ = 0;
  uint64_t body_bytes_ = 0;
  std::chrono::steady_clock::time_point start_;

  std::deque<Out> outq_;
  std::vector<Out> inflight_;
  bool writing_ = false;
};

}  // namespace shuo::api::http

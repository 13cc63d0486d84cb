// Internal: what the listener and every connection share (the io_context, routes, options,
// metrics, the connection registry). Included by server.cc and session.cc only, never by a
// public header, because it pulls in Asio.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "api/http/policy.h"
#include "api/http/router.h"
#include "api/http/server.h"

namespace spdlog {
class logger;
}

namespace shuo::api::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class Session;

struct Server::Core : std::enable_shared_from_this<Server::Core> {
  explicit Core(ServerOptions options);

  // The configured error shape; a formatter that throws falls back to the OpenAI shape.
  Response error(int status, std::string_view code, std::string_view message) const;

  // Called by a connection once its socket is closed (on its strand).
  void unregister(uint64_t id, bool counted);

  // On `ctl`: start (or continue) accepting; begin a graceful stop.
  void do_accept();
  void begin_stop();

  ServerOptions opt;
  std::shared_ptr<spdlog::logger> log;
  Router router;
  ErrorFormatter formatter = openai_error_response;
  Metrics metrics;
  Gauge& connections_open;
  Counter& connections_rejected;
  RequestIdGenerator ids;

  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> ctl;  // acceptor, timers below, signals
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  asio::steady_timer grace_timer;
  std::optional<asio::signal_set> signals;

  std::atomic<bool> listening{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> finished{false};  // run() has returned: nothing may be posted any more

  std::mutex mu;  // guards the registry below
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions;
  uint64_t next_session_id = 0;
  int active = 0;  // accepted connections, not counting the ones answered with 503
};

}  // namespace shuo::api::http

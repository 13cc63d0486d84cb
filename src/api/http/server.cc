// The listener, the connection registry, graceful stop and signals. Connections themselves are
// in session.cc.
#include "api/http/server.h"

#include <csignal>
#include <exception>
#include <thread>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "api/http/server_core.h"
#include "api/http/session.h"

namespace shuo::api::http {

using boost::system::error_code;

Server::Core::Core(ServerOptions options)
    : opt(std::move(options)),
      log(opt.logger ? opt.logger : spdlog::default_logger()),
      connections_open(metrics.gauge("shuo_http_connections_open", "Open HTTP connections.")),
      connections_rejected(metrics.counter("shuo_http_connections_rejected_total",
                                           "HTTP connections answered 503 over max_connections.")),
      ioc(opt.io_threads > 1 ? opt.io_threads : 1),
      ctl(asio::make_strand(ioc)),
      acceptor(ctl),
      accept_retry(ctl),
      grace_timer(ctl) {}

Response Server::Core::error(int status, std::string_view code, std::string_view message) const {
  if (formatter) {
    try {
      return formatter(status, code, message);
    } catch (const std::exception& e) {
      log->error("http: error formatter threw: {}", e.what());
    } catch (...) {
      log->error("http: error formatter threw");
    }
  }
  return openai_error_response(status, code, message);
}

void Server::Core::unregister(uint64_t id, bool counted) {
  bool last;
  {
    std::lock_guard lock(mu);
    sessions.erase(id);
    if (counted) --active;
    last = sessions.empty();
  }
  if (counted) connections_open.dec();
  // Stopping and nothing left to wait for: drop the grace timer so that run() can return.
  if (last && stopping.load()) asio::post(ctl, [this] { grace_timer.cancel(); });
}

void Server::Core::do_accept() {
  // Each connection gets its own strand: its handlers never run concurrently.
  acceptor.async_accept(asio::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
    if (stopping.load()) {
      error_code ignored;
      socket.close(ignored);
      return;
    }
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Typically out of file descriptors: back off instead of spinning.
      log->warn("http: accept failed: {}", ec.message());
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](error_code e) {
        if (!e && !stopping.load()) do_accept();
      });
      return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // streamed tokens go out at once
    std::shared_ptr<Session> s;
    bool rejected;
    {
      std::lock_guard lock(mu);
      rejected = active >= opt.max_connections;
      if (!rejected) ++active;
      uint64_t id = next_session_id++;
      s = std::make_shared<Session>(shared_from_this(), std::move(socket), id, rejected);
      sessions.emplace(id, s);
    }
    if (rejected) {
      connections_rejected.inc();
    } else {
      connections_open.inc();
    }
    asio::post(s->executor(), [s] { s->start(); });
    do_accept();
  });
}

void Server::Core::begin_stop() {
  error_code ignored;
  acceptor.close(ignored);
  accept_retry.cancel();
  if (signals) signals->cancel(ignored);
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mu);
    for (auto& [id, weak] : sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  log->info("http: stopping; {} connection(s) open, grace {} ms", live.size(),
            opt.shutdown_grace_ms);
  for (auto& s : live) asio::post(s->executor(), [s] { s->server_stopping(); });
  {
    std::lock_guard lock(mu);
    if (sessions.empty()) return;
  }
  grace_timer.expires_after(std::chrono::milliseconds(opt.shutdown_grace_ms));
  grace_timer.async_wait([this](error_code ec) {
    if (ec) return;
    std::vector<std::shared_ptr<Session>> rest;
    {
      std::lock_guard lock(mu);
      for (auto& [id, weak] : sessions) {
        if (auto s = weak.lock()) rest.push_back(std::move(s));
      }
    }
    if (!rest.empty()) log->info("http: grace period over; cancelling {} connection(s)", rest.size());
    for (auto& s : rest) asio::post(s->executor(), [s] { s->grace_expired(); });
  });
}

// -----------------------------------------------------------------------------------------------

Server::Server(ServerOptions options) : core_(std::make_shared<Core>(std::move(options))) {}

Server::~Server() {
  stop();
  // Handlers posted after run() returned (a Responder racing the end) hold their connection,
  // which holds the core: run them now (they do nothing) so that nothing is leaked.
  if (core_->finished.load()) {
    try {
      core_->ioc.restart();
      core_->ioc.poll();
    } catch (...) {
    }
  }
}

void Server::route(std::string method, std::string path_pattern, Handler handler) {
  if (core_->listening.load()) {
    core_->log->error("http: route {} {} added after listen(); ignored", method, path_pattern);
    return;
  }
  core_->router.add(std::move(method), std::move(path_pattern), std::move(handler));
}

void Server::set_error_formatter(ErrorFormatter formatter) {
  if (core_->listening.load()) {
    core_->log->error("http: set_error_formatter after listen(); ignored");
    return;
  }
  core_->formatter = std::move(formatter);
}

Result<uint16_t> Server::listen() {
  Core& c = *core_;
  const std::string where = c.opt.host + ":" + std::to_string(c.opt.port);
  if (c.listening.load()) return make_error(ErrorCode::kInternal, where, "already listening");
  error_code ec;
  tcp::endpoint endpoint;
  asio::ip::address address = asio::ip::make_address(c.opt.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, c.opt.port);
  } else {
    tcp::resolver resolver(c.ioc);
    auto results = resolver.resolve(c.opt.host, std::to_string(c.opt.port), ec);
    if (ec || results.empty()) {
      return make_error(ErrorCode::kIo, where,
                        "cannot resolve host: " + (ec ? ec.message() : std::string("no address")));
    }
    endpoint = *results.begin();
  }
  auto fail = [&](const char* what) {
    error_code ignored;
    c.acceptor.close(ignored);
    return make_error(ErrorCode::kIo, where, std::string(what) + ": " + ec.message());
  };
  c.acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open socket");
  c.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return fail("cannot set SO_REUSEADDR");
  c.acceptor.bind(endpoint, ec);
  if (ec) return fail("cannot bind");
  c.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen");
  uint16_t port = c.acceptor.local_endpoint(ec).port();
  if (ec) return fail("cannot read the bound port");
  c.listening.store(true);
  asio::post(c.ctl, [core = &c] { core->do_accept(); });
  c.log->info("http: listening on {}:{}", c.opt.host, port);
  return port;
}

void Server::run() {
  Core& c = *core_;
  auto body = [&c] {
    for (;;) {
      try {
        c.ioc.run();
        return;
      } catch (const std::exception& e) {  // a bug in a handler; keep serving
        c.log->error("http: uncaught exception on an I/O thread: {}", e.what());
      } catch (...) {
        c.log->error("http: uncaught exception on an I/O thread");
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < c.opt.io_threads; ++i) threads.emplace_back(body);
  body();
  for (auto& t : threads) t.join();
  c.finished.store(true);
}

void Server::stop() {
  if (core_->stopping.exchange(true)) return;
  asio::post(core_->ctl, [core = core_.get()] { core->begin_stop(); });
}

void Server::stop_on_signals() {
  Core& c = *core_;
  c.signals.emplace(c.ctl, SIGINT, SIGTERM);
  c.signals->async_wait([core = &c](error_code ec, int signal) {
    if (ec) return;
    core->log->info("http: signal {} received; stopping", signal);
    if (!core->stopping.exchange(true)) core->begin_stop();
  });
}

Metrics& Server::metrics() { return core_->metrics; }

const ServerOptions& Server::options() const { return core_->opt; }

void install_signal_stop(Server& server) { server.stop_on_signals(); }

Handler metrics_handler(const Metrics& metrics) {
  return [&metrics](const Request&, std::shared_ptr<Responder> responder) {
    Response r;
    r.content_type = Metrics::kContentType;
    r.body = metrics.render();
    responder->send(std::move(r));
  };
}

}  // namespace shuo::api::http

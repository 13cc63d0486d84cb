// HTTP server core over real sockets on 127.0.0.1: keep-alive, limits, timeouts, errors, CORS,
// API keys, request ids, routing, streaming from other threads, cancellation and shutdown.
#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <random>

#include "api/http_test_util.h"

namespace shuo::api::http {
namespace {

using testing::Client;
using testing::Reply;
using testing::TestServer;
using namespace std::chrono_literals;

constexpr auto kWait = 2s;  // upper bound for things that should happen "at once"

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

std::string post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

Response text(std::string body) {
  Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

// Routes most tests use: GET /hello, POST /echo (body back).
void basic_routes(Server& s) {
  s.route("GET", "/hello", [](const Request&, std::shared_ptr<Responder> r) { r->send(text("hi")); });
  s.route("POST", "/echo", [](const Request& q, std::shared_ptr<Responder> r) { r->send(text(q.body)); });
  s.route("GET", "/health", [](const Request&, std::shared_ptr<Responder> r) { r->send(text("ok")); });
}

// A handler that hands its Responder to the test (the "engine").
struct Parked {
  std::mutex mu;
  std::shared_ptr<Responder> responder;
  std::promise<void> cancelled;
  std::promise<void> arrived;

  Handler handler(bool stream) {
    return [this, stream](const Request&, std::shared_ptr<Responder> r) {
      r->on_cancel([this] { cancelled.set_value(); });
      if (stream) {
        r->start_stream(200, "text/event-stream", {});
        r->write("data: first\n\n");
      }
      {
        std::lock_guard lock(mu);
        responder = r;
      }
      arrived.set_value();
    };
  }
  std::shared_ptr<Responder> get() {
    std::lock_guard lock(mu);
    return responder;
  }
};

TEST(HttpServer, KeepAliveServesTwoRequestsOnOneConnection) {
  TestServer ts({}, basic_routes);
  Client c(ts.port());
  ASSERT_TRUE(c.send(get("/hello")));
  Reply a = c.read_response();
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "hi");
  EXPECT_EQ(a.header("Content-Type"), "text/plain");
  EXPECT_FALSE(a.header("Connection"));  // HTTP/1.1 default: keep-alive
  ASSERT_TRUE(c.send(post("/echo", "second request")));
  Reply b = c.read_response();
  ASSERT_TRUE(b.ok);
  EXPECT_EQ(b.body, "second request");
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  TestServer ts({}, basic_routes);
  Client c(ts.port());
  ASSERT_TRUE(c.send(post("/echo", "one") + post("/echo", "two") + get("/hello")));
  EXPECT_EQ(c.read_response().body, "one");
  EXPECT_EQ(c.read_response().body, "two");
  EXPECT_EQ(c.read_response().body, "hi");
}

TEST(HttpServer, ConnectionCloseAndHttp10AreHonoured) {
  TestServer ts({}, basic_routes);
  Client c(ts.port());
  ASSERT_TRUE(c.send(get("/hello", "Connection: close\r\n")));
  Reply r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed());

  Client old(ts.port());
  ASSERT_TRUE(old.send("GET /hello HTTP/1.0\r\n\r\n"));
  Reply r10 = old.read_response();
  EXPECT_EQ(r10.status, 200);
  EXPECT_EQ(r10.body, "hi");
  EXPECT_TRUE(old.wait_closed());
}

TEST(HttpServer, HeadGetsHeadersOfTheGetRoute) {
  TestServer ts({}, basic_routes);
  Client c(ts.port());
  ASSERT_TRUE(c.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  Reply r = c.read_response(/*head_request=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Length"), "2");
  ASSERT_TRUE(c.send(get("/hello")));  // no stray body bytes before the next response
  EXPECT_EQ(c.read_response().body, "hi");
}

TEST(HttpServer, UnknownPathIs404AndWrongMethodIs405) {
  TestServer ts({}, basic_routes);
  Reply nf = testing::request(ts.port(), get("/nope"));
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.header("Content-Type"), "application/json");
  EXPECT_NE(nf.body.find("\"error\":{\"message\":\"no route for GET /nope\""), std::string::npos)
      << nf.body;
  EXPECT_NE(nf.body.find("\"code\":\"not_found\""), std::string::npos);

  Reply na = testing::request(ts.port(), get("/echo"));
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.header("Allow"), "POST");
  EXPECT_NE(na.body.find("\"code\":\"method_not_allowed\""), std::string::npos);
}

TEST(HttpServer, ErrorFormatterShapesServerErrors) {
  TestServer ts({}, [](Server& s) {
    s.set_error_formatter([](int status, std::string_view code, std::string_view) {
      Response r;
      r.status = status;
      r.body = "{\"detail\":\"" + std::string(code) + "\"}";
      return r;
    });
    s.route("GET", "/fail", [](const Request&, std::shared_ptr<Responder> r) {
      r->send_error(400, "bad_field", "temperature: must be in [0, 2]");
    });
  });
  EXPECT_EQ(testing::request(ts.port(), get("/missing")).body, "{\"detail\":\"not_found\"}");
  Reply r = testing::request(ts.port(), get("/fail"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "{\"detail\":\"bad_field\"}");
}

TEST(HttpServer, OversizedBodyIs413) {
  ServerOptions opt;
  opt.max_body_bytes = 1024;
  TestServer ts(opt, basic_routes);
  // Declared length over the limit: refused as soon as the headers are in.
  Client c(ts.port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"));
  Reply r = c.read_response();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_NE(r.body.find("\"code\":\"request_too_large\""), std::string::npos);
  EXPECT_TRUE(c.wait_closed());

  // Chunked body that grows over the limit.
  Client d(ts.port());
  std::string chunk(600, 'x');
  ASSERT_TRUE(d.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" +
                     chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n"));
  EXPECT_EQ(d.read_response().status, 413);

  // At the limit is fine.
  EXPECT_EQ(testing::request(ts.port(), post("/echo", std::string(1024, 'y'))).body.size(), 1024u);
}

TEST(HttpServer, ExpectContinueGets100BeforeTheBody) {
  TestServer ts({}, basic_routes);
  Client c(ts.port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  Reply interim;
  ASSERT_TRUE(c.read_head(interim, /*keep_1xx=*/true));
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(c.send("body"));
  EXPECT_EQ(c.read_response().body, "body");
}

TEST(HttpServer, MalformedRequestIs400AndCloses) {
  TestServer ts({}, basic_routes);
  Client c(ts.port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nBad Header Line\r\n\r\n"));
  Reply r = c.read_response();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_NE(r.body.find("\"code\":\"bad_request\""), std::string::npos);
  EXPECT_TRUE(c.wait_closed());
}

TEST(HttpServer, HeadersOverTheLimitAre431) {
  ServerOptions opt;
  opt.max_header_bytes = 1024;
  TestServer ts(opt, basic_routes);
  Reply r = testing::request(ts.port(), get("/hello", "X-Big: " + std::string(4000, 'a') + "\r\n"));
  EXPECT_EQ(r.status, 431);
}

TEST(HttpServer, SurvivesGarbageInput) {
  TestServer ts({}, basic_routes);
  std::mt19937 rng(42);
  std::vector<std::string> inputs = {
      "\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET / HTTP/1.1\r\nHost: t\r\n\r\x01",
      "POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "POST /echo HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      std::string("GET /\0 HTTP/1.1\r\n\r\n", 20)};
  for (int i = 0; i < 20; ++i) {
    std::string junk(1 + rng() % 300, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    inputs.push_back(junk);
  }
  for (const std::string& in : inputs) {
    Client c(ts.port(), 1000);
    c.send(in);
    c.close();
  }
  // Still serving.
  EXPECT_EQ(testing::request(ts.port(), get("/hello")).body, "hi");
}

TEST(HttpServer, HeaderTimeoutDropsSlowClient) {
  ServerOptions opt;
  opt.header_timeout_ms = 200;
  TestServer ts(opt, basic_routes);
  Client c(ts.port());
  // Slowloris: a header byte every 50 ms never finishes within the header timeout.
  std::string partial = "GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaa";
  auto start = std::chrono::steady_clock::now();
  bool send_failed = false;
  for (char ch : partial) {
    if (!c.send(std::string(1, ch))) {
      send_failed = true;
      break;
    }
    std::this_thread::sleep_for(50ms);
    if (std::chrono::steady_clock::now() - start > 600ms) break;
  }
  EXPECT_TRUE(send_failed || c.wait_closed());
  EXPECT_NE(ts.log().find("header timeout"), std::string::npos);
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosed) {
  ServerOptions opt;
  opt.idle_timeout_ms = 100;
  TestServer ts(opt, basic_routes);
  Client c(ts.port());
  ASSERT_TRUE(c.send(get("/hello")));
  EXPECT_EQ(c.read_response().status, 200);
  EXPECT_TRUE(c.wait_closed());
}

TEST(HttpServer, OverMaxConnectionsGets503WithRetryAfter) {
  ServerOptions opt;
  opt.max_connections = 1;
  TestServer ts(opt, basic_routes);
  auto first = std::make_unique<Client>(ts.port());
  ASSERT_TRUE(first->send(get("/hello")));
  ASSERT_EQ(first->read_response().status, 200);  // now surely accepted and counted

  Client second(ts.port());
  second.send(get("/hello"));
  Reply r = second.read_response();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("Retry-After"), "1");
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(second.wait_closed());
  EXPECT_EQ(ts.server().metrics().counter("shuo_http_connections_rejected_total", "").value(), 1);

  first.reset();
  Gauge& open = ts.server().metrics().gauge("shuo_http_connections_open", "");
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (open.value() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(open.value(), 0);
  EXPECT_EQ(testing::request(ts.port(), get("/hello")).status, 200);
}

TEST(HttpServer, CorsPreflightAndResponseHeaders) {
  ServerOptions opt;
  opt.cors_origins = {"https://app.example"};
  opt.api_keys = {"secret"};  // a preflight needs no key
  TestServer ts(opt, basic_routes);
  Reply pre = testing::request(
      ts.port(), "OPTIONS /echo HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n"
                 "Access-Control-Request-Method: POST\r\n"
                 "Access-Control-Request-Headers: content-type, x-stainless-os\r\n\r\n");
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("Access-Control-Allow-Origin"), "https://app.example");
  auto methods = pre.header("Access-Control-Allow-Methods").value_or("");
  EXPECT_NE(methods.find("POST"), std::string::npos);
  auto headers = pre.header("Access-Control-Allow-Headers").value_or("");
  EXPECT_NE(headers.find("Authorization"), std::string::npos);
  EXPECT_NE(headers.find("Content-Type"), std::string::npos);
  EXPECT_NE(headers.find("x-stainless-os"), std::string::npos);
  EXPECT_FALSE(pre.header("Content-Length"));

  Reply ok = testing::request(ts.port(), get("/hello", "Origin: https://app.example\r\n"
                                                        "Authorization: Bearer secret\r\n"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(ok.header("Vary"), "Origin");
  // Errors carry CORS headers too, so that a browser can read them.
  Reply denied = testing::request(ts.port(), get("/hello", "Origin: https://app.example\r\n"));
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.header("Access-Control-Allow-Origin"), "https://app.example");

  Reply other = testing::request(ts.port(), get("/hello", "Origin: https://evil.example\r\n"
                                                           "Authorization: Bearer secret\r\n"));
  EXPECT_EQ(other.status, 200);
  EXPECT_FALSE(other.header("Access-Control-Allow-Origin"));
}

TEST(HttpServer, NoCorsHeadersUnlessConfigured) {
  TestServer ts({}, basic_routes);
  Reply r = testing::request(ts.port(), get("/hello", "Origin: https://app.example\r\n"));
  EXPECT_FALSE(r.header("Access-Control-Allow-Origin"));
  Reply pre = testing::request(ts.port(), "OPTIONS /hello HTTP/1.1\r\nHost: t\r\nOrigin: x\r\n"
                                          "Access-Control-Request-Method: GET\r\n\r\n");
  EXPECT_EQ(pre.status, 405);
}

TEST(HttpServer, ApiKeysGuardAllButPublicPaths) {
  ServerOptions opt;
  opt.api_keys = {"k-one", "k-two"};
  opt.public_paths = {"/health"};
  TestServer ts(opt, basic_routes);
  Reply none = testing::request(ts.port(), get("/hello"));
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("\"code\":\"invalid_api_key\""), std::string::npos);
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(testing::request(ts.port(), get("/hello", "Authorization: Bearer k-three\r\n")).status, 401);
  EXPECT_EQ(testing::request(ts.port(), get("/hello", "Authorization: Bearer k-one-\r\n")).status, 401);
  EXPECT_EQ(testing::request(ts.port(), get("/hello", "Authorization: Basic k-two\r\n")).status, 401);
  EXPECT_EQ(testing::request(ts.port(), get("/hello", "Authorization: Bearer k-two\r\n")).status, 200);
  EXPECT_EQ(testing::request(ts.port(), get("/hello", "authorization: bearer k-one\r\n")).status, 200);
  EXPECT_EQ(testing::request(ts.port(), get("/health")).status, 200);
  // Unknown paths are not revealed without a key.
  EXPECT_EQ(testing::request(ts.port(), get("/secret-route")).status, 401);
}

TEST(HttpServer, RequestIdIsEchoedSanitisedOrGenerated) {
  std::string seen;
  std::mutex mu;
  TestServer ts({}, [&](Server& s) {
    s.route("GET", "/id", [&](const Request& q, std::shared_ptr<Responder> r) {
      {
        std::lock_guard lock(mu);
        seen = q.request_id;
      }
      r->send(text(r->request_id()));
    });
  });
  Reply given = testing::request(ts.port(), get("/id", "X-Request-Id: client-abc_123\r\n"));
  EXPECT_EQ(given.header("x-request-id"), "client-abc_123");
  EXPECT_EQ(given.body, "client-abc_123");

  Reply dirty = testing::request(ts.port(), get("/id", "x-request-id: a b\"c<d>" + std::string(100, 'z') + "\r\n"));
  std::string id = dirty.header("x-request-id").value_or("");
  EXPECT_EQ(id.size(), 64u);
  EXPECT_EQ(id.substr(0, 4), "abcd");

  Reply generated = testing::request(ts.port(), get("/id"));
  std::string gen = generated.header("x-request-id").value_or("");
  EXPECT_EQ(gen.size(), 20u);
  EXPECT_EQ(gen.substr(0, 4), "req-");
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen, gen);
  }
  // Errors carry the id too, and it shows up in the access log.
  Reply err = testing::request(ts.port(), get("/nope", "X-Request-Id: trace-404\r\n"));
  EXPECT_EQ(err.header("x-request-id"), "trace-404");
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (ts.log().find("id=trace-404") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  std::string log = ts.log();
  size_t at = log.find("id=trace-404");
  ASSERT_NE(at, std::string::npos) << log;
  std::string line = log.substr(at, log.find('\n', at) - at);
  EXPECT_NE(line.find("remote=127.0.0.1:"), std::string::npos) << line;
  EXPECT_NE(line.find("method=GET path=/nope"), std::string::npos) << line;
  EXPECT_NE(line.find("status=404"), std::string::npos) << line;
  EXPECT_NE(line.find("bytes="), std::string::npos) << line;
  EXPECT_NE(line.find("ms="), std::string::npos) << line;
}

TEST(HttpServer, PathParamsQueryAndSpecificity) {
  TestServer ts({}, [](Server& s) {
    auto show = [](const Request& q, std::shared_ptr<Responder> r) {
      std::string out;
      for (const auto& [k, v] : q.params) out += k + "=" + v + ";";
      out += "q=" + q.query_param("q").value_or("-");
      r->send(text(out));
    };
    s.route("GET", "/chat/{id}", show);
    s.route("POST", "/chat/{id}/clear", show);
    s.route("GET", "/chat/list", [](const Request&, std::shared_ptr<Responder> r) { r->send(text("list")); });
    s.route("GET", "/static/*", show);
  });
  EXPECT_EQ(testing::request(ts.port(), get("/chat/42?q=a+b%21")).body, "id=42;q=a b!");
  EXPECT_EQ(testing::request(ts.port(), post("/chat/7/clear", "")).body, "id=7;q=-");
  EXPECT_EQ(testing::request(ts.port(), get("/chat/list")).body, "list");
  EXPECT_EQ(testing::request(ts.port(), get("/chat/caf%C3%A9")).body, "id=caf\xC3\xA9;q=-");
  EXPECT_EQ(testing::request(ts.port(), get("/static/js/app.js")).body, "*=js/app.js;q=-");
  EXPECT_EQ(testing::request(ts.port(), get("/chat/7/clear")).status, 405);
  EXPECT_EQ(testing::request(ts.port(), get("/chat/")).status, 404);
}

TEST(HttpServer, ChunkedStreamFromAnotherThreadArrivesInOrder) {
  std::vector<std::thread> engine;
  std::mutex mu;
  constexpr int kEvents = 300;
  {
    TestServer ts({}, [&](Server& s) {
      basic_routes(s);
      s.route("POST", "/stream", [&](const Request&, std::shared_ptr<Responder> r) {
        std::lock_guard lock(mu);
        engine.emplace_back([r] {
          r->start_stream(200, "text/event-stream", {{"X-Extra", "1"}});
          for (int i = 0; i < kEvents; ++i) r->write("data: " + std::to_string(i) + "\n\n");
          r->end();
          r->write("ignored after end");
        });
      });
    });
    Client c(ts.port());
    ASSERT_TRUE(c.send(post("/stream", "{}")));
    Reply r = c.read_response();
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/event-stream");
    EXPECT_EQ(r.header("Cache-Control"), "no-cache");
    EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(r.header("X-Extra"), "1");
    std::string expected;
    for (int i = 0; i < kEvents; ++i) expected += "data: " + std::to_string(i) + "\n\n";
    EXPECT_EQ(r.body, expected);
    // The connection is reusable after the stream.
    ASSERT_TRUE(c.send(get("/hello")));
    EXPECT_EQ(c.read_response().body, "hi");
  }
  for (auto& t : engine) t.join();
}

TEST(HttpServer, ClientDisconnectMidStreamCancels) {
  Parked parked;
  TestServer ts({}, [&](Server& s) { s.route("POST", "/stream", parked.handler(true)); });
  auto cancelled = parked.cancelled.get_future();
  Client c(ts.port());
  ASSERT_TRUE(c.send(post("/stream", "{}")));
  Reply head;
  ASSERT_TRUE(c.read_head(head));
  EXPECT_EQ(c.read_chunk(), "data: first\n\n");
  ASSERT_EQ(parked.arrived.get_future().wait_for(kWait), std::future_status::ready);
  std::shared_ptr<Responder> r = parked.get();
  EXPECT_FALSE(r->cancelled());
  c.close();
  ASSERT_EQ(cancelled.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(r->cancelled());
  EXPECT_EQ(r->write("late"), WriteStatus::kClosed);
  r->end();  // harmless
}

TEST(HttpServer, ClientDisconnectWhileWaitingCancels) {
  Parked parked;
  TestServer ts({}, [&](Server& s) { s.route("POST", "/slow", parked.handler(false)); });
  auto cancelled = parked.cancelled.get_future();
  Client c(ts.port());
  ASSERT_TRUE(c.send(post("/slow", "{}")));
  ASSERT_EQ(parked.arrived.get_future().wait_for(kWait), std::future_status::ready);
  c.reset();
  ASSERT_EQ(cancelled.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(parked.get()->cancelled());
  parked.get()->send(text("too late"));  // ignored, no crash
}

TEST(HttpServer, OnCancelRegisteredLateStillRuns) {
  Parked parked;
  TestServer ts({}, [&](Server& s) {
    s.route("POST", "/slow", [&](const Request&, std::shared_ptr<Responder> r) {
      std::lock_guard lock(parked.mu);
      parked.responder = r;
      parked.arrived.set_value();
    });
  });
  Client c(ts.port());
  ASSERT_TRUE(c.send(post("/slow", "")));
  ASSERT_EQ(parked.arrived.get_future().wait_for(kWait), std::future_status::ready);
  c.close();
  auto r = parked.get();
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!r->cancelled() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(r->cancelled());
  auto fired = parked.cancelled.get_future();
  r->on_cancel([&] { parked.cancelled.set_value(); });
  EXPECT_EQ(fired.wait_for(kWait), std::future_status::ready);
}

TEST(HttpServer, SlowReaderOverflowsTheWriteQueueAndIsCancelled) {
  ServerOptions opt;
  opt.max_write_queue_bytes = 64 << 10;
  Parked parked;
  TestServer ts(opt, [&](Server& s) { s.route("POST", "/stream", parked.handler(true)); });
  auto cancelled = parked.cancelled.get_future();
  Client c(ts.port(), 3000, /*rcvbuf_bytes=*/4096);
  ASSERT_TRUE(c.send(post("/stream", "")));  // and never read
  ASSERT_EQ(parked.arrived.get_future().wait_for(kWait), std::future_status::ready);
  auto r = parked.get();
  std::string chunk(4096, 'x');
  bool busy = false, closed = false;
  for (size_t sent = 0; sent < (512u << 20) && !closed; sent += chunk.size()) {
    WriteStatus st = r->write(chunk);
    busy |= st == WriteStatus::kBusy;
    closed = st == WriteStatus::kClosed;
  }
  EXPECT_TRUE(busy);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(r->cancelled());
  EXPECT_EQ(cancelled.wait_for(kWait), std::future_status::ready);
}

TEST(HttpServer, StopDuringStreamCancelsAfterGraceAndRunReturns) {
  ServerOptions opt;
  opt.shutdown_grace_ms = 200;
  Parked parked;
  TestServer ts(opt, [&](Server& s) { s.route("POST", "/stream", parked.handler(true)); });
  auto cancelled = parked.cancelled.get_future();
  Client c(ts.port());
  ASSERT_TRUE(c.send(post("/stream", "")));
  Reply head;
  ASSERT_TRUE(c.read_head(head));
  ASSERT_EQ(parked.arrived.get_future().wait_for(kWait), std::future_status::ready);
  Client idle(ts.port());  // an idle keep-alive connection is closed at once
  ASSERT_TRUE(idle.send(get("/stream")));
  EXPECT_EQ(idle.read_response().status, 405);

  EXPECT_TRUE(ts.stop_and_join(3s));
  EXPECT_EQ(cancelled.wait_for(0s), std::future_status::ready);
  EXPECT_TRUE(parked.get()->cancelled());
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(idle.wait_closed());
  EXPECT_FALSE(Client(ts.port(), 500).connected());  // the listener is gone
}

TEST(HttpServer, StopLetsAStreamFinishWithinGrace) {
  ServerOptions opt;
  opt.shutdown_grace_ms = 3000;
  Parked parked;
  TestServer ts(opt, [&](Server& s) { s.route("POST", "/stream", parked.handler(true)); });
  Client c(ts.port());
  ASSERT_TRUE(c.send(post("/stream", "")));
  ASSERT_EQ(parked.arrived.get_future().wait_for(kWait), std::future_status::ready);
  auto r = parked.get();
  std::thread engine([r] {
    std::this_thread::sleep_for(100ms);
    r->write("data: last\n\n");
    r->end();
  });
  ts.server().stop();
  Reply reply = c.read_response();
  engine.join();
  EXPECT_TRUE(reply.ok);
  EXPECT_EQ(reply.body, "data: first\n\ndata: last\n\n");
  EXPECT_FALSE(r->cancelled());
  c.close();  // the server closes after this response too, but waits for our FIN first
  EXPECT_TRUE(ts.stop_and_join(2s));
}

TEST(HttpServer, SignalStopsTheServer) {
  TestServer ts({}, [](Server& s) {
    basic_routes(s);
    install_signal_stop(s);
  });
  EXPECT_EQ(testing::request(ts.port(), get("/hello")).status, 200);
  std::raise(SIGTERM);
  // stop_and_join's own stop() is a no-op by now; run() must return because of the signal.
  auto deadline = std::chrono::steady_clock::now() + kWait;
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    Client c(ts.port(), 200);
    refused = !c.connected();
    if (!refused) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(ts.stop_and_join(2s));
}

TEST(HttpServer, HandlerErrorsBecome500) {
  TestServer ts({}, [](Server& s) {
    s.route("GET", "/throw", [](const Request&, std::shared_ptr<Responder>) {
      throw std::runtime_error("boom");
    });
    s.route("GET", "/drop", [](const Request&, std::shared_ptr<Responder>) {});
  });
  Reply thrown = testing::request(ts.port(), get("/throw", "X-Request-Id: t1\r\n"));
  EXPECT_EQ(thrown.status, 500);
  EXPECT_NE(thrown.body.find("request id t1"), std::string::npos);
  EXPECT_EQ(testing::request(ts.port(), get("/drop")).status, 500);
}

TEST(HttpServer, MetricsRouteCountsRequests) {
  TestServer ts({}, [](Server& s) {
    basic_routes(s);
    s.route("GET", "/metrics", metrics_handler(s.metrics()));
  });
  Client c(ts.port());
  ASSERT_TRUE(c.send(get("/hello") + get("/hello") + get("/missing") + get("/metrics")));
  c.read_response();
  c.read_response();
  c.read_response();
  Reply m = c.read_response();
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m.body.find("shuo_http_requests_total{route=\"/hello\",status=\"200\"} 2\n"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("shuo_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(m.body.find("shuo_http_connections_open 1\n"), std::string::npos);
  EXPECT_NE(m.body.find("shuo_http_request_duration_seconds_count{route=\"/hello\"} 2\n"), std::string::npos);
}

TEST(HttpServer, ListenErrorNamesHostAndPort) {
  TestServer first({}, basic_routes);
  ServerOptions opt;
  opt.host = "127.0.0.1";
  opt.port = first.port();
  Server second(opt);
  auto r = second.listen();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().where, "127.0.0.1:" + std::to_string(first.port()));
  EXPECT_NE(r.error().message.find("bind"), std::string::npos);
}

TEST(HttpServer, MultipleIoThreadsServeConcurrentClients) {
  ServerOptions opt;
  opt.io_threads = 4;
  TestServer ts(opt, basic_routes);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  std::mutex mu;
  std::string failures;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] {
      Client c(ts.port());
      for (int k = 0; k < 20; ++k) {
        std::string body = std::to_string(i) + ":" + std::to_string(k);
        bool sent = c.send(post("/echo", body));
        Reply r = c.read_response();
        if (r.body == body) {
          ok.fetch_add(1);
        } else {
          std::lock_guard lock(mu);
          failures += body + " sent=" + std::to_string(sent) + " status=" + std::to_string(r.status) +
                      " body=" + r.body + "\n";
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 160) << failures << ts.log();
}

}  // namespace
}  // namespace shuo::api::http

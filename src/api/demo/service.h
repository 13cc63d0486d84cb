// The demo web API (spec/api.md §3, seeds/000_*.txt): chat sessions with a personality and a
// recorded history, and QA sessions, over any ChatBackend/QaBackend (in-process on the engine by
// default, external programs in process mode), persisted in a SessionStore.
//
//   GET  /chat               [{"id", "personality"}] of the live chat sessions
//   POST /chat (no query)    reset: start a session; text/plain lines "stdout:…"/"stderr:…" while
//                            it starts, then "id:<int>" and "personality:<text>" (mounted by the
//                            ChatGLM surface, which shares the path: chat_reset_handler())
//   GET  /chat/{id}          {"id", "personality", "history": [{"dir", "msg", "time"}]} or 404
//   POST /chat/{id}/input    {"msg"} → {"msg": reply}; optional temperature, top_p, max_tokens
//   POST /chat/{id}/clear    the model forgets; the record stays → {"ok": true}
//   GET  /qa                 [{"id"}]
//   POST /qa                 reset: like POST /chat, lines "stdout:"/"stderr:" then "id:<int>"
//   GET  /qa/{id}            {"id", "history": [{"dir", "msg", "time", "title"?}]} (shuo's own)
//   POST /qa/{id}/input      {"title", "text"} → {"answer"}
//   shuo's extensions for the web page (chat_stream.cc): "stream": true on a chat input (SSE
//   deltas, token counts, Stop records the partial reply), "regenerate", PATCH /chat/{id}
//   {"title"}, DELETE /chat/{id}; GET /chat?titles=1 adds each "title".
//
// Every exchange is written to the store (and committed) before its reply is sent, so a reply
// the client saw survives any crash. One message at a time per session (409 while one is being
// answered); any number of sessions at once. A reset whose backend fails before its first log
// line answers a JSON error (502/504 …); after it, the stream ends with an "error:<text>" line.
//
// Threads: handlers run on I/O threads and only parse; store work and the per-session rules run
// on one worker thread (worker.h); backends answer on their own threads (the engine's).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "api/demo/backend.h"
#include "api/demo/session_store.h"
#include "api/http/server.h"
#include "core/result.h"

namespace spdlog {
class logger;
}

namespace shuo::api::demo {

struct DemoOptions {
  std::string default_personality;      // a chat reset without its own `personality`
  size_t max_text_bytes = 64 << 10;     // msg, personality, title + text: larger is a 413
  std::shared_ptr<spdlog::logger> log;  // null: spdlog's default
};

class Service {
 public:
  // `chat` and `qa` must outlive the service.
  Service(ChatBackend& chat, QaBackend& qa, StoreOpener open_store, DemoOptions options);
  ~Service();  // stop()
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Opens the store now and waits for the outcome (start-up: fail fast on a bad --data-dir).
  Result<void> open_store_now();

  // Mounts every route above except POST /chat. The service must outlive the server's run().
  void add_routes(http::Server& server);
  // POST /chat's reset, for the surface that owns the path (glm::Service::add_routes).
  http::Handler chat_reset_handler();

  // Finishes the store work already queued (replies that are done get recorded and sent), then
  // answers 503 to anything new. Call after the HTTP server stopped, before the engine or the
  // backends go away. Idempotent.
  void stop();

  struct Core;  // shared with callbacks that may outlive the Service (service.cc)

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace shuo::api::demo

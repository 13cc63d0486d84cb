// Internal to the demo Service (service.cc, chat_routes.cc, qa_routes.cc): the state its
// handlers and callbacks share, and the flows chat and QA have in common.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/demo/backend.h"
#include "api/demo/service.h"
#include "api/demo/session_store.h"
#include "api/demo/worker.h"
#include "api/http/message.h"
#include "api/openai/errors.h"

namespace shuo::api::demo {

using Json = nlohmann::ordered_json;
using ResponderPtr = std::shared_ptr<http::Responder>;

// Held by the Service and by every callback in flight, so a backend that answers late (after the
// Service is gone) finds a stopped worker rather than freed memory.
struct Service::Core {
  Core(ChatBackend& c, QaBackend& q, StoreOpener o, DemoOptions d);

  ChatBackend& chat;
  QaBackend& qa;
  StoreOpener opener;
  DemoOptions opt;
  spdlog::logger* log;

  // Worker thread only.
  std::unique_ptr<SessionStore> store_;
  std::set<std::pair<SessionKind, int64_t>> busy;  // sessions answering a message

  Worker worker;  // last: stopped (joined) before the members its tasks use go

  Backend& backend(SessionKind kind) { return kind == SessionKind::kQa ? static_cast<Backend&>(qa) : chat; }
  // The store, opened on first use. Worker thread only.
  Result<SessionStore*> store();
  // Runs `task` on the worker; when the worker refuses (queue full, stopping) answers `res`
  // with 503 instead.
  void run(const ResponderPtr& res, std::function<void()> task);
};

using CorePtr = std::shared_ptr<Service::Core>;

// A backend error in the OpenAI error shape (type from the status).
openai::ApiError api_error_of(const BackendError& e);
// Error responses, in the OpenAI error shape every HTTP surface of shuo uses. 5xx other than
// 502/503/504 are bugs: logged with the request id, which is all the client gets.
void send_error(Service::Core& core, http::Responder& res, const BackendError& e);
// A store or validation error: kBadField/kUnsupported → 400, kNotFound → 404, else 500.
void send_error(Service::Core& core, http::Responder& res, const Error& e);
BackendError client_error(int status, std::string code, std::string param, std::string message);
// 413 naming `field` when `size` > `max_bytes`.
std::optional<BackendError> text_too_long(const char* field, size_t size, size_t max_bytes);
BackendError session_not_found(SessionKind kind, const std::string& id_text);

// The store and the recorded session `id` of `kind`; nothing when the answer (store error, 404)
// has been sent. Worker thread.
struct FoundSession {
  SessionStore* store = nullptr;
  SessionRecord session;
};
std::optional<FoundSession> find_session_or_reply(Service::Core& core, SessionKind kind, int64_t id,
                                                  http::Responder& res);
// 404 session_not_running (a reset replaced it) or 409 session_busy, else nothing.
std::optional<BackendError> session_unavailable(Service::Core& core, SessionKind kind, int64_t id);

// A path's {id}: a positive decimal integer, else nothing (→ 404).
std::optional<int64_t> parse_session_id(const std::string& text);

// The body's `name` string: required and non-empty.
Result<std::string> required_text(const Json& body, const char* name);

// The optional sampling fields of an input body (temperature, top_p, max_tokens, seed, ignore_eos).
Result<ReplyOptions> parse_reply_options(const Json& body);

// A reset body: empty (whitespace) or a JSON object (validated by the caller); anything else is
// an error naming "body".
Result<std::optional<Json>> parse_reset_body(const std::string& body);

// Starts a session of `kind` (POST /chat, POST /qa) and streams its start-up as text/plain
// lines; worker thread.
void start_session(const CorePtr& core, SessionKind kind, ResponderPtr res, std::string personality);

// Asks the backend for a reply to `input` in session `id` and records the exchange before
// answering `answer_json(reply)`; worker thread. 404 unknown or not live, 409 busy.
// `ask` gets the session, its turns since the last clear (only when `with_turns`) and `done`.
using AskFn = std::function<CancelFn(const SessionRecord& session, std::vector<ChatTurn> turns,
                                     std::function<void(Outcome<std::string>)> done)>;
void run_exchange(const CorePtr& core, SessionKind kind, int64_t id, ResponderPtr res, MessageRecord input,
                  bool with_turns, AskFn ask, std::function<Json(const std::string& reply)> answer_json);

// JSON of a session's history entry ({"dir", "msg", "time"}, plus "title" for QA questions).
Json history_entry(const MessageRecord& m, bool with_title);

// Route handlers (chat_routes.cc, qa_routes.cc).
void add_chat_routes(const CorePtr& core, http::Server& server);
void add_qa_routes(const CorePtr& core, http::Server& server);
// shuo's extensions for the web page (chat_stream.cc): POST /chat/{id}/input with "stream": true
// (after handle_input parsed the body), PATCH /chat/{id} {"title"}, DELETE /chat/{id}.
void handle_streamed_input(const CorePtr& core, int64_t id, const Json& body, ResponderPtr res);
void add_chat_extension_routes(const CorePtr& core, http::Server& server);
void handle_chat_reset(const CorePtr& core, const http::Request& req, ResponderPtr res);

}  // namespace shuo::api::demo

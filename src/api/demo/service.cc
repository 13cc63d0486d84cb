// The demo API's shared machinery: the worker, errors, resets and recorded exchanges (see
// service.h; the routes are in chat_routes.cc and qa_routes.cc).
#include "api/demo/service.h"

#include <future>
#include <mutex>

#include <spdlog/spdlog.h>

#include "api/demo/service_core.h"
#include "api/openai/errors.h"
#include "api/openai/generation.h"
#include "api/openai/json_fields.h"

namespace shuo::api::demo {

// ---- Core -------------------------------------------------------------------------------------

Service::Core::Core(ChatBackend& c, QaBackend& q, StoreOpener o, DemoOptions d)
    : chat(c), qa(q), opener(std::move(o)), opt(std::move(d)),
      log(opt.log ? opt.log.get() : spdlog::default_logger_raw()) {}

Result<SessionStore*> Service::Core::store() {
  if (store_) return store_.get();
  auto opened = opener();
  if (!opened.ok()) {
    log->error("demo: the session store cannot be opened: {}", opened.error().to_string());
    return opened.error();
  }
  store_ = std::move(*opened);
  return store_.get();
}

void Service::Core::run(const ResponderPtr& res, std::function<void()> task) {
  if (worker.post(std::move(task))) return;
  http::Response r = openai::error_response(
      openai::ApiError{503, "server_error", "unavailable", "", "the demo API is shutting down or overloaded; retry later", 1},
      res->request_id(), nullptr);
  res->send(std::move(r));
}

// ---- errors -----------------------------------------------------------------------------------

BackendError client_error(int status, std::string code, std::string param, std::string message) {
  BackendError e;
  e.status = status;
  e.code = std::move(code);
  e.param = std::move(param);
  e.message = std::move(message);
  return e;
}

std::optional<BackendError> text_too_long(const char* field, size_t size, size_t max_bytes) {
  if (size <= max_bytes) return std::nullopt;
  return client_error(413, "text_too_long", field,
                      std::string(field) + ": is " + std::to_string(size) + " bytes; at most " +
                          std::to_string(max_bytes) + " are accepted");
}

BackendError session_not_found(SessionKind kind, const std::string& id_text) {
  return client_error(404, "session_not_found", "id",
                      std::string("no ") + session_kind_name(kind) + " session " + id_text);
}

openai::ApiError api_error_of(const BackendError& e) {
  openai::ApiError a;
  a.status = e.status;
  a.type = e.status == 429 ? "rate_limit_error" : e.status >= 500 ? "server_error" : "invalid_request_error";
  a.code = e.code;
  a.param = e.param;
  a.message = e.message;
  a.retry_after_s = e.retry_after_s;
  return a;
}

void send_error(Service::Core& core, http::Responder& res, const BackendError& e) {
  const openai::ApiError a = api_error_of(e);
  if (e.status >= 500 && e.status != 502 && e.status != 503 && e.status != 504) {
    // A bug or a broken store: the detail goes to the log; error_response masks it.
    res.send(openai::error_response(a, res.request_id(), core.log));
    return;
  }
  http::Response r;
  r.status = a.status;
  r.body = openai::error_json(a);
  if (a.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(a.retry_after_s));
  res.send(std::move(r));
}

void send_error(Service::Core& core, http::Responder& res, const Error& e) {
  if (e.code == ErrorCode::kNotFound) return send_error(core, res, client_error(404, "session_not_found", e.where, e.message));
  if (e.code == ErrorCode::kBadField || e.code == ErrorCode::kUnsupported) {
    res.send(openai::error_response(openai::to_api_error(e), res.request_id(), core.log));
    return;
  }
  send_error(core, res, client_error(500, "internal_error", "", "demo: " + e.to_string()));
}

// ---- parsing ----------------------------------------------------------------------------------

std::optional<int64_t> parse_session_id(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;  // 18 digits always fit in int64
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v <= 0) return std::nullopt;
  return v;
}

Result<std::string> required_text(const Json& body, const char* name) {
  SHUO_ASSIGN(auto v, openai::get_string(body, name));
  if (!v) return openai::bad_field(name, "is required");
  if (v->empty()) return openai::bad_field(name, "must not be empty");
  return std::move(*v);
}

Result<ReplyOptions> parse_reply_options(const Json& body) {
  ReplyOptions o;
  SHUO_ASSIGN(auto temperature, openai::get_number(body, "temperature", 0.0, 2.0));
  if (temperature) o.temperature = float(*temperature);
  SHUO_ASSIGN(auto top_p, openai::get_number(body, "top_p", 0.0, 1.0));
  if (top_p) o.top_p = float(*top_p);
  SHUO_ASSIGN(auto max_tokens, openai::get_int(body, "max_tokens", 1, INT32_MAX));
  if (max_tokens) o.max_tokens = int32_t(*max_tokens);
  // shuo's own: a reproducible reply (the web page's seed setting), and a reply that does not
  // end by itself (tests that need a long generation to stop).
  SHUO_ASSIGN(auto seed, openai::get_int(body, "seed", 0, (int64_t(1) << 53) - 1));
  if (seed) o.seed = uint64_t(*seed);
  SHUO_ASSIGN(auto ignore_eos, openai::get_bool(body, "ignore_eos"));
  o.ignore_eos = ignore_eos.value_or(false);
  return o;
}

Result<std::optional<Json>> parse_reset_body(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return std::optional<Json>();
  SHUO_ASSIGN(Json j, openai::parse_json_object(body));
  return std::optional<Json>(std::move(j));
}

Json history_entry(const MessageRecord& m, bool with_title) {
  Json e = {{"dir", m.input ? "input" : "output"}, {"msg", m.msg}, {"time", m.time}};
  if (with_title && m.input) e["title"] = m.title;
  return e;
}

// ---- reset ------------------------------------------------------------------------------------

namespace {

// The text/plain stream of one reset. Progress may come from a backend's thread and the end
// from the worker: `mu` keeps the lines in order and the stream started once.
struct ResetStream {
  explicit ResetStream(ResponderPtr r) : res(std::move(r)) {}

  void line(std::string_view text) {
    std::lock_guard lock(mu);
    line_locked(text);
  }
  // Ends with `lines`, or with the error: a JSON error if nothing was streamed yet, else a last
  // "error:" line (the status line went out with the first log line).
  void finish(Service::Core& core, const std::vector<std::string>& lines, const BackendError* error) {
    std::lock_guard lock(mu);
    if (error && !started) return send_error(core, *res, *error);
    if (error) {
      line_locked("error:" + one_line(error->message));
    } else {
      for (const std::string& l : lines) line_locked(l);
    }
    res->end();
  }

  static std::string one_line(std::string s) {
    for (char& c : s)
      if (c == '\n' || c == '\r') c = ' ';
    return s;
  }

 private:
  void line_locked(std::string_view text) {
    if (!started) {
      res->start_stream(200, "text/plain; charset=utf-8", {});
      started = true;
    }
    res->write(std::string(text) + "\n");
  }

  std::mutex mu;
  ResponderPtr res;
  bool started = false;
};

}  // namespace

void start_session(const CorePtr& core, SessionKind kind, ResponderPtr res, std::string personality) {
  auto store = core->store();
  if (!store.ok()) return send_error(*core, *res, store.error());
  auto id = (*store)->allocate_id(kind);
  if (!id.ok()) return send_error(*core, *res, id.error());
  auto stream = std::make_shared<ResetStream>(res);
  auto done = [core, kind, stream, res](Outcome<SessionInfo> out) {
    const bool posted = core->worker.post([core, kind, stream, out = std::move(out)] {
      if (!out.ok()) return stream->finish(*core, {}, &*out.error);
      SessionRecord rec;
      rec.kind = kind;
      rec.id = out.value.id;
      rec.personality = ResetStream::one_line(out.value.personality);
      rec.created = local_time_iso8601();
      auto store = core->store();
      Result<void> saved = store.ok() ? (*store)->create_session(rec) : Result<void>(store.error());
      if (!saved.ok()) {
        core->log->error("demo: cannot record {} session {}: {}", session_kind_name(kind), rec.id,
                         saved.error().to_string());
        const BackendError e = client_error(500, "internal_error", "", "demo: " + saved.error().to_string());
        return stream->finish(*core, {}, &e);
      }
      std::vector<std::string> lines = {"id:" + std::to_string(rec.id)};
      if (kind == SessionKind::kChat) lines.push_back("personality:" + rec.personality);
      stream->finish(*core, lines, nullptr);
    });
    if (!posted) {
      const BackendError e = client_error(503, "unavailable", "", "the demo API is shutting down");
      stream->finish(*core, {}, &e);
    }
  };
  core->backend(kind).start(StartRequest{*id, std::move(personality)},
                            [stream](std::string_view line) { stream->line(line); }, std::move(done));
}

// ---- exchanges --------------------------------------------------------------------------------

std::optional<FoundSession> find_session_or_reply(Service::Core& core, SessionKind kind, int64_t id,
                                                  http::Responder& res) {
  auto store = core.store();
  if (!store.ok()) {
    send_error(core, res, store.error());
    return std::nullopt;
  }
  auto session = (*store)->find_session(kind, id);
  if (!session.ok()) {
    send_error(core, res, session.error());
    return std::nullopt;
  }
  if (!*session) {
    send_error(core, res, session_not_found(kind, std::to_string(id)));
    return std::nullopt;
  }
  return FoundSession{*store, std::move(**session)};
}

std::optional<BackendError> session_unavailable(Service::Core& core, SessionKind kind, int64_t id) {
  const std::string name = std::string(session_kind_name(kind)) + " session " + std::to_string(id);
  if (!core.backend(kind).is_live(id))
    return client_error(404, "session_not_running", "id", name + " is no longer running (a reset replaced it)");
  if (core.busy.count({kind, id}))
    return client_error(409, "session_busy", "id", name + " is still answering the previous message; send one at a time");
  return std::nullopt;
}

void run_exchange(const CorePtr& core, SessionKind kind, int64_t id, ResponderPtr res, MessageRecord input,
                  bool with_turns, AskFn ask, std::function<Json(const std::string& reply)> answer_json) {
  auto found = find_session_or_reply(*core, kind, id, *res);
  if (!found) return;
  if (auto e = session_unavailable(*core, kind, id)) return send_error(*core, *res, *e);
  const auto key = std::make_pair(kind, id);
  std::vector<ChatTurn> turns;
  if (with_turns) {
    auto history = found->store->messages(kind, id, found->session.context_start);
    if (!history.ok()) return send_error(*core, *res, history.error());
    turns.reserve(history->size());
    for (MessageRecord& m : *history) turns.push_back(ChatTurn{m.input, std::move(m.msg)});
  }
  core->busy.insert(key);

  auto done = [core, kind, id, res, key, input = std::move(input),
               answer_json = std::move(answer_json)](Outcome<std::string> out) mutable {
    const bool posted = core->worker.post([core, kind, id, res, key, input = std::move(input),
                                           answer_json = std::move(answer_json), out = std::move(out)]() mutable {
      core->busy.erase(key);
      if (!out.ok()) return send_error(*core, *res, *out.error);
      MessageRecord output;
      output.input = false;
      output.msg = out.value;
      output.time = local_time_iso8601();
      auto store = core->store();
      Result<void> saved = store.ok() ? (*store)->append_exchange(kind, id, std::move(input), std::move(output))
                                      : Result<void>(store.error());
      // A reply that could not be recorded is not given: the client sees the failure and may
      // retry, rather than a reply that a restart would lose.
      if (!saved.ok()) return send_error(*core, *res, saved.error());
      openai::send_json(*res, answer_json(out.value));
    });
    if (!posted) send_error(*core, *res, client_error(503, "unavailable", "", "the demo API is shutting down"));
  };
  CancelFn cancel = ask(found->session, std::move(turns), std::move(done));
  if (cancel) res->on_cancel(std::move(cancel));
}

// ---- Service ----------------------------------------------------------------------------------

Service::Service(ChatBackend& chat, QaBackend& qa, StoreOpener open_store, DemoOptions options)
    : core_(std::make_shared<Core>(chat, qa, std::move(open_store), std::move(options))) {}

Service::~Service() { stop(); }

void Service::stop() { core_->worker.stop(); }

Result<void> Service::open_store_now() {
  std::promise<Result<void>> opened;
  auto outcome = opened.get_future();
  CorePtr core = core_;
  if (!core->worker.post([core, &opened] {
        auto s = core->store();
        opened.set_value(s.ok() ? Result<void>() : Result<void>(s.error()));
      }))
    return Error{ErrorCode::kInternal, "demo", "the demo worker is not running"};
  return outcome.get();
}

void Service::add_routes(http::Server& server) {
  add_chat_routes(core_, server);
  add_qa_routes(core_, server);
}

http::Handler Service::chat_reset_handler() {
  CorePtr core = core_;
  return [core](const http::Request& req, ResponderPtr res) { handle_chat_reset(core, req, std::move(res)); };
}

}  // namespace shuo::api::demo

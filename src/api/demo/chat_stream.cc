// shuo's extensions of the demo chat API for the built-in web page (see service.h):
//
//   POST   /chat/{id}/input  {"msg", "stream": true, temperature?, top_p?, max_tokens?, seed?,
//                            ignore_eos?, "regenerate"?}  → text/event-stream:
//            event: delta  data: {"text": "…"}            whole UTF-8 characters, as generated
//            event: done   data: {"msg", "finish_reason", "usage": {…}, "timing": {…}}
//            event: error  data: {"error": {…}}           a failure after the first delta
//          A failure before the first delta (404, 409, 429, context exceeded) is an ordinary JSON
//          error response. "regenerate": true (without "msg") answers the last recorded input
//          again and replaces its reply. A client that goes away cancels the reply; what was
//          generated until then is recorded (the page's Stop button).
//   PATCH  /chat/{id}        {"title"} → {"id", "title"}: the sidebar's rename
//   DELETE /chat/{id}        → {"ok": true}: the session and its history are removed
//   GET    /chat?titles=1    §3's list with each session's "title" (chat_routes.cc)
#include <mutex>

#include <spdlog/spdlog.h>

#include "api/demo/service_core.h"
#include "api/openai/generation.h"
#include "api/openai/json_fields.h"

namespace shuo::api::demo {

namespace {

constexpr SessionKind kChat = SessionKind::kChat;
constexpr size_t kMaxTitleBytes = 256;

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// One streamed reply. Deltas come from the engine thread and the end from the worker: `mu` starts
// the stream once. The stream starts with the first delta (or the end), so that a refusal before
// any text keeps its HTTP status.
struct EventStream {
  explicit EventStream(ResponderPtr r) : res(std::move(r)) {}

  void event(const char* name, const Json& data) {
    std::lock_guard lock(mu);
    event_locked(name, data);
  }
  // Ends with `data` as the "done" event.
  void done(const Json& data) {
    std::lock_guard lock(mu);
    event_locked("done", data);
    res->end();
  }
  // Ends with an error: the JSON error response if nothing was streamed yet, else an "error" event.
  void fail(Service::Core& core, const BackendError& e) {
    std::lock_guard lock(mu);
    if (!started) return send_error(core, *res, e);
    event_locked("error", Json{{"error", Json::parse(openai::error_json(api_error_of(e)))["error"]}});
    res->end();
  }

 private:
  void event_locked(const char* name, const Json& data) {
    if (!started) {
      res->start_stream(200, "text/event-stream", {});
      started = true;
    }
    res->write(std::string("event: ") + name + "\ndata: " + dump(data) + "\n\n");
  }

  std::mutex mu;
  ResponderPtr res;
  bool started = false;
};

Json done_event(const StreamedReply& r) {
  Json usage = Json::object(), timing = Json::object();
  if (r.prompt_tokens >= 0) usage["prompt_tokens"] = r.prompt_tokens;
  if (r.completion_tokens >= 0) usage["completion_tokens"] = r.completion_tokens;
  timing["seconds"] = r.seconds;
  if (r.first_piece_seconds >= 0) timing["first_token_seconds"] = r.first_piece_seconds;
  // Generation speed after the first piece (the prompt's prefill is not in it).
  if (r.completion_tokens > 1 && r.first_piece_seconds >= 0 && r.seconds > r.first_piece_seconds)
    timing["tokens_per_second"] = (r.completion_tokens - 1) / (r.seconds - r.first_piece_seconds);
  return Json{{"msg", r.text}, {"finish_reason", r.finish}, {"usage", std::move(usage)}, {"timing", std::move(timing)}};
}

// Worker thread: the session's checks, then the backend's streamed reply; `input` is null for a
// regenerate.
void run_streamed_exchange(const CorePtr& core, int64_t id, ResponderPtr res, std::optional<MessageRecord> input,
                           ReplyOptions options) {
  auto found = find_session_or_reply(*core, kChat, id, *res);
  if (!found) return;
  if (auto e = session_unavailable(*core, kChat, id)) return send_error(*core, *res, *e);
  auto history = found->store->messages(kChat, id, found->session.context_start);
  if (!history.ok()) return send_error(*core, *res, history.error());
  const bool regenerate = !input;
  if (regenerate) {
    const size_t n = history->size();
    if (n < 2 || !(*history)[n - 2].input || (*history)[n - 1].input)
      return send_error(*core, *res,
                        client_error(400, "nothing_to_regenerate", "regenerate",
                                     "regenerate: chat session " + std::to_string(id) + " has no reply since its last clear"));
    input = (*history)[n - 2];
    history->resize(n - 2);
  }
  std::vector<ChatTurn> turns;
  turns.reserve(history->size());
  for (MessageRecord& m : *history) turns.push_back(ChatTurn{m.input, std::move(m.msg)});
  const auto key = std::make_pair(kChat, id);
  core->busy.insert(key);

  auto stream = std::make_shared<EventStream>(res);
  auto done = [core, id, key, stream, regenerate, input = *input](Outcome<StreamedReply> out) mutable {
    const bool posted = core->worker.post([core, id, key, stream, regenerate, input = std::move(input),
                                           out = std::move(out)]() mutable {
      core->busy.erase(key);
      if (!out.ok()) return stream->fail(*core, *out.error);
      MessageRecord output;
      output.input = false;
      output.msg = out.value.text;
      output.time = local_time_iso8601();
      auto store = core->store();
      Result<void> saved = !store.ok()   ? Result<void>(store.error())
                           : regenerate ? (*store)->replace_last_output(kChat, id, std::move(output))
                                        : (*store)->append_exchange(kChat, id, std::move(input), std::move(output));
      if (!saved.ok()) {
        core->log->error("demo: cannot record the reply of chat session {}: {}", id, saved.error().to_string());
        return stream->fail(*core, client_error(500, "internal_error", "", "demo: " + saved.error().to_string()));
      }
      stream->done(done_event(out.value));
    });
    if (!posted) stream->fail(*core, client_error(503, "unavailable", "", "the demo API is shutting down"));
  };
  CancelFn cancel = core->chat.send_streamed(
      ChatContext{id, found->session.personality, std::move(turns)}, input->msg, options,
      [stream](std::string_view piece) { stream->event("delta", Json{{"text", piece}}); }, std::move(done));
  if (cancel) res->on_cancel(std::move(cancel));
}

// {id} of the path, or the 404 sent.
std::optional<int64_t> path_id(const CorePtr& core, const http::Request& req, http::Responder& res) {
  const std::string id_text = req.param("id");
  auto id = parse_session_id(id_text);
  if (!id) send_error(*core, res, session_not_found(kChat, id_text));
  return id;
}

void handle_rename(const CorePtr& core, const http::Request& req, ResponderPtr res) {
  auto id = path_id(core, req, *res);
  if (!id) return;
  auto body = openai::parse_json_object(req.body);
  if (!body.ok()) return send_error(*core, *res, body.error());
  auto title = openai::get_string(*body, "title");
  if (!title.ok()) return send_error(*core, *res, title.error());
  if (!*title) return send_error(*core, *res, openai::bad_field("title", "is required"));
  if (title->value().find_first_of("\r\n") != std::string::npos)
    return send_error(*core, *res, openai::bad_field("title", "must be one line"));
  if (auto e = text_too_long("title", title->value().size(), kMaxTitleBytes)) return send_error(*core, *res, *e);
  core->run(res, [core, res, id = *id, title = std::move(**title)] {
    auto found = find_session_or_reply(*core, kChat, id, *res);
    if (!found) return;
    Result<void> saved = found->store->set_title(kChat, id, title);
    if (!saved.ok()) return send_error(*core, *res, saved.error());
    openai::send_json(*res, Json{{"id", id}, {"title", title}});
  });
}

void handle_delete(const CorePtr& core, const http::Request& req, ResponderPtr res) {
  auto id = path_id(core, req, *res);
  if (!id) return;
  core->run(res, [core, res, id = *id] {
    auto found = find_session_or_reply(*core, kChat, id, *res);
    if (!found) return;
    if (core->busy.count({kChat, id}))
      return send_error(*core, *res, client_error(409, "session_busy", "id",
                                                  "chat session " + std::to_string(id) + " is answering a message; stop it first"));
    Result<void> deleted = found->store->delete_session(kChat, id);
    if (!deleted.ok()) return send_error(*core, *res, deleted.error());
    openai::send_json(*res, Json{{"ok", true}});
  });
}

}  // namespace

void handle_streamed_input(const CorePtr& core, int64_t id, const Json& body, ResponderPtr res) {
  auto regenerate = openai::get_bool(body, "regenerate");
  if (!regenerate.ok()) return send_error(*core, *res, regenerate.error());
  std::optional<MessageRecord> input;
  if (regenerate->value_or(false)) {
    if (openai::json_field(body, "msg"))
      return send_error(*core, *res, openai::bad_field("msg", "must be absent with \"regenerate\": true"));
  } else {
    auto msg = required_text(body, "msg");
    if (!msg.ok()) return send_error(*core, *res, msg.error());
    if (auto e = text_too_long("msg", msg->size(), core->opt.max_text_bytes)) return send_error(*core, *res, *e);
    input.emplace();
    input->input = true;
    input->msg = std::move(*msg);
    input->time = local_time_iso8601();
  }
  auto options = parse_reply_options(body);
  if (!options.ok()) return send_error(*core, *res, options.error());
  core->run(res, [core, res, id, input = std::move(input), options = *options]() mutable {
    run_streamed_exchange(core, id, std::move(res), std::move(input), options);
  });
}

void add_chat_extension_routes(const CorePtr& core, http::Server& server) {
  server.route("PATCH", "/chat/{id}", [core](const http::Request& req, ResponderPtr res) {
    handle_rename(core, req, std::move(res));
  });
  server.route("DELETE", "/chat/{id}", [core](const http::Request& req, ResponderPtr res) {
    handle_delete(core, req, std::move(res));
  });
}

}  // namespace shuo::api::demo

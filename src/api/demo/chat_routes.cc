// The demo API's chat routes (see service.h): list, reset, history, input, clear.
#include "api/demo/service_core.h"
#include "api/openai/generation.h"
#include "api/openai/json_fields.h"

namespace shuo::api::demo {

namespace {

constexpr SessionKind kChat = SessionKind::kChat;

// shuo's own "?titles=1" adds each session's "title" (the web page's sidebar); without it the
// entries are exactly §3's.
void handle_list(const CorePtr& core, const http::Request& req, ResponderPtr res) {
  const auto titles = req.query_param("titles");
  const bool with_titles = titles && (*titles == "1" || *titles == "true");
  core->run(res, [core, res, with_titles] {
    auto store = core->store();
    if (!store.ok()) return send_error(*core, *res, store.error());
    auto sessions = (*store)->list_sessions(kChat);
    if (!sessions.ok()) return send_error(*core, *res, sessions.error());
    Json out = Json::array();
    for (const SessionRecord& s : *sessions)
      if (core->chat.is_live(s.id)) {
        Json entry = {{"id", s.id}, {"personality", s.personality}};
        if (with_titles) entry["title"] = s.title;
        out.push_back(std::move(entry));
      }
    openai::send_json(*res, out);
  });
}

void handle_get(const CorePtr& core, const http::Request& req, ResponderPtr res) {
  const std::string id_text = req.param("id");
  auto id = parse_session_id(id_text);
  if (!id) return send_error(*core, *res, session_not_found(kChat, id_text));
  core->run(res, [core, res, id = *id] {
    auto found = find_session_or_reply(*core, kChat, id, *res);
    if (!found) return;
    auto messages = found->store->messages(kChat, id, 0);
    if (!messages.ok()) return send_error(*core, *res, messages.error());
    Json history = Json::array();
    for (const MessageRecord& m : *messages) history.push_back(history_entry(m, false));
    openai::send_json(*res, Json{{"id", id}, {"personality", found->session.personality}, {"history", std::move(history)}});
  });
}

void handle_input(const CorePtr& core, const http::Request& req, ResponderPtr res) {
  const std::string id_text = req.param("id");
  auto id = parse_session_id(id_text);
  if (!id) return send_error(*core, *res, session_not_found(kChat, id_text));
  auto body = openai::parse_json_object(req.body);
  if (!body.ok()) return send_error(*core, *res, body.error());
  auto stream = openai::get_bool(*body, "stream");
  if (!stream.ok()) return send_error(*core, *res, stream.error());
  if (stream->value_or(false)) return handle_streamed_input(core, *id, *body, std::move(res));
  auto msg = required_text(*body, "msg");
  if (!msg.ok()) return send_error(*core, *res, msg.error());
  if (auto e = text_too_long("msg", msg->size(), core->opt.max_text_bytes)) return send_error(*core, *res, *e);
  auto options = parse_reply_options(*body);
  if (!options.ok()) return send_error(*core, *res, options.error());

  MessageRecord input;
  input.input = true;
  input.msg = *msg;
  input.time = local_time_iso8601();  // when it arrived, not when it was answered
  core->run(res, [core, res, id = *id, input = std::move(input), options = *options]() mutable {
    std::string msg = input.msg;
    run_exchange(
        core, kChat, id, res, std::move(input), /*with_turns=*/true,
        [core, msg = std::move(msg), options](const SessionRecord& s, std::vector<ChatTurn> turns,
                                              std::function<void(Outcome<std::string>)> done) {
          return core->chat.send(ChatContext{s.id, s.personality, std::move(turns)}, msg, options, std::move(done));
        },
        [](const std::string& reply) { return Json{{"msg", reply}}; });
  });
}

void handle_clear(const CorePtr& core, const http::Request& req, ResponderPtr res) {
  const std::string id_text = req.param("id");
  auto id = parse_session_id(id_text);
  if (!id) return send_error(*core, *res, session_not_found(kChat, id_text));
  core->run(res, [core, res, id = *id] {
    if (!find_session_or_reply(*core, kChat, id, *res)) return;
    if (auto e = session_unavailable(*core, kChat, id)) return send_error(*core, *res, *e);
    core->chat.forget(id, [core, res, id](Outcome<Done> out) {
      const bool posted = core->worker.post([core, res, id, out = std::move(out)] {
        if (!out.ok()) return send_error(*core, *res, *out.error);
        auto store = core->store();
        Result<void> saved = store.ok() ? (*store)->forget_context(kChat, id) : Result<void>(store.error());
        if (!saved.ok()) return send_error(*core, *res, saved.error());
        openai::send_json(*res, Json{{"ok", true}});
      });
      if (!posted) send_error(*core, *res, client_error(503, "unavailable", "", "the demo API is shutting down"));
    });
  });
}

}  // namespace

void handle_chat_reset(const CorePtr& core, const http::Request& req, ResponderPtr res) {
  auto body = parse_reset_body(req.body);
  if (!body.ok()) return send_error(*core, *res, body.error());
  std::string personality = core->opt.default_personality;
  if (*body) {
    auto p = openai::get_string(**body, "personality");
    if (!p.ok()) return send_error(*core, *res, p.error());
    if (*p) {
      if (p->value().find_first_of("\r\n") != std::string::npos)
        return send_error(*core, *res, openai::bad_field("personality", "must be one line (it is sent as \"personality:<text>\")"));
      if (auto e = text_too_long("personality", p->value().size(), core->opt.max_text_bytes))
        return send_error(*core, *res, *e);
      personality = std::move(**p);
    }
  }
  core->run(res, [core, res, personality = std::move(personality)]() mutable {
    start_session(core, kChat, res, std::move(personality));
  });
}

void add_chat_routes(const CorePtr& core, http::Server& server) {
  server.route("GET", "/chat", [core](const http::Request& req, ResponderPtr res) {
    handle_list(core, req, std::move(res));
  });
  server.route("GET", "/chat/{id}", [core](const http::Request& req, ResponderPtr res) {
    handle_get(core, req, std::move(res));
  });
  server.route("POST", "/chat/{id}/input", [core](const http::Request& req, ResponderPtr res) {
    handle_input(core, req, std::move(res));
  });
  server.route("POST", "/chat/{id}/clear", [core](const http::Request& req, ResponderPtr res) {
    handle_clear(core, req, std::move(res));
  });
  add_chat_extension_routes(core, server);
}

}  // namespace shuo::api::demo

// The demo API's QA routes (see service.h): list, reset, history, input.
#include "api/demo/service_core.h"
#include "api/openai/generation.h"
#include "api/openai/json_fields.h"

namespace shuo::api::demo {

namespace {

constexpr SessionKind kQa = SessionKind::kQa;

void handle_list(const CorePtr& core, ResponderPtr res) {
  core->run(res, [core, res] {
    auto store = core->store();
    if (!store.ok()) return send_error(*core, *res, store.error());
    auto sessions = (*store)->list_sessions(kQa);
    if (!sessions.ok()) return send_error(*core, *res, sessions.error());
    Json out = Json::array();
    for (const SessionRecord& s : *sessions)
      if (core->qa.is_live(s.id)) out.push_back(Json{{"id", s.id}});
    openai::send_json(*res, out);
  });
}

void handle_reset(const CorePtr& core, const http::Request& req, ResponderPtr res) {
  // The source API takes no body; an empty one or any JSON object is fine, other text is not.
  auto body = parse_reset_body(req.body);
  if (!body.ok()) return send_error(*core, *res, body.error());
  core->run(res, [core, res] { start_session(core, kQa, res, {}); });
}

void handle_get(const CorePtr& core, const http::Request& req, ResponderPtr res) {
  const std::string id_text = req.param("id");
  auto id = parse_session_id(id_text);
  if (!id) return send_error(*core, *res, session_not_found(kQa, id_text));
  core->run(res, [core, res, id = *id] {
    auto store = core->store();
    if (!store.ok()) return send_error(*core, *res, store.error());
    auto messages = (*store)->messages(kQa, id, 0);  // kNotFound → 404
    if (!messages.ok()) return send_error(*core, *res, messages.error());
    Json history = Json::array();
    for (const MessageRecord& m : *messages) history.push_back(history_entry(m, true));
    openai::send_json(*res, Json{{"id", id}, {"history", std::move(history)}});
  });
}

void handle_input(const CorePtr& core, const http::Request& req, ResponderPtr res) {
  const std::string id_text = req.param("id");
  auto id = parse_session_id(id_text);
  if (!id) return send_error(*core, *res, session_not_found(kQa, id_text));
  auto body = openai::parse_json_object(req.body);
  if (!body.ok()) return send_error(*core, *res, body.error());
  auto title = openai::get_string(*body, "title");
  if (!title.ok()) return send_error(*core, *res, title.error());
  if (!*title) return send_error(*core, *res, openai::bad_field("title", "is required"));
  auto text = openai::get_string(*body, "text");
  if (!text.ok()) return send_error(*core, *res, text.error());
  QaQuestion q{std::move(**title), text->value_or("")};
  if (q.title.empty() && q.text.empty())
    return send_error(*core, *res, openai::bad_field("title", "title and text are both empty"));
  if (auto e = text_too_long("text", q.title.size() + q.text.size(), core->opt.max_text_bytes))
    return send_error(*core, *res, *e);
  auto options = parse_reply_options(*body);
  if (!options.ok()) return send_error(*core, *res, options.error());

  MessageRecord input;
  input.input = true;
  input.title = q.title;
  input.msg = q.text;
  input.time = local_time_iso8601();
  core->run(res, [core, res, id = *id, input = std::move(input), q = std::move(q), options = *options]() mutable {
    run_exchange(
        core, kQa, id, res, std::move(input), /*with_turns=*/false,
        [core, q = std::move(q), options](const SessionRecord& s, std::vector<ChatTurn>,
                                          std::function<void(Outcome<std::string>)> done) {
          return core->qa.answer(s.id, q, options, std::move(done));
        },
        [](const std::string& answer) { return Json{{"answer", answer}}; });
  });
}

}  // namespace

void add_qa_routes(const CorePtr& core, http::Server& server) {
  server.route("GET", "/qa", [core](const http::Request&, ResponderPtr res) { handle_list(core, std::move(res)); });
  server.route("POST", "/qa", [core](const http::Request& req, ResponderPtr res) {
    handle_reset(core, req, std::move(res));
  });
  server.route("GET", "/qa/{id}", [core](const http::Request& req, ResponderPtr res) {
    handle_get(core, req, std::move(res));
  });
  server.route("POST", "/qa/{id}/input", [core](const http::Request& req, ResponderPtr res) {
    handle_input(core, req, std::move(res));
  });
}

}  // namespace shuo::api::demo

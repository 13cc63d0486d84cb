// ChatGLM-style request parsing (see request.h).
#include "api/glm/request.h"

#include "api/openai/json_fields.h"
#include "api/openai/params.h"

namespace shuo::api::glm {

namespace {

using Json = nlohmann::ordered_json;
using openai::bad_field;
using openai::wrong_type;

// [[q, a], ...] → alternating user/assistant messages.
Result<Json> pairs_to_messages(const Json& history) {
  Json out = Json::array();
  for (size_t i = 0; i < history.size(); ++i) {
    const Json& pair = history[i];
    const std::string where = "history[" + std::to_string(i) + "]";
    if (!pair.is_array())
      return wrong_type(where, "a [question, answer] pair, like history[0]", pair);
    if (pair.size() != 2)
      return bad_field(where, "must be a [question, answer] pair, got " + std::to_string(pair.size()) + " items");
    for (size_t k = 0; k < 2; ++k)
      if (!pair[k].is_string()) return wrong_type(where + "[" + std::to_string(k) + "]", "a string", pair[k]);
    out.push_back(Json{{"role", "user"}, {"content", pair[0]}});
    out.push_back(Json{{"role", "assistant"}, {"content", pair[1]}});
  }
  return out;
}

}  // namespace

Result<GlmRequest> parse_glm_request(std::string_view body, const GlmDefaults& defaults) {
  SHUO_ASSIGN(Json j, openai::parse_json_object(body));
  GlmRequest r;
  SHUO_ASSIGN(auto query, openai::get_string(j, "query"));
  if (!query) return bad_field("query", "is required");
  if (query->empty()) return bad_field("query", "must not be empty");
  r.query = std::move(*query);

  if (const Json* h = openai::json_field(j, "history")) {
    if (!h->is_array()) return wrong_type("history", "an array of [question, answer] pairs or of messages", *h);
    r.history = *h;
    if (!h->empty() && (*h)[0].is_object()) {
      r.form = HistoryForm::kMessages;
      SHUO_ASSIGN(r.messages, openai::parse_chat_messages(*h, "history"));
    } else {
      SHUO_ASSIGN(r.messages, pairs_to_messages(*h));
    }
  }
  r.messages.push_back(Json{{"role", "user"}, {"content", r.query}});

  SHUO_ASSIGN(auto max_length, openai::get_int(j, "max_length", 1, INT32_MAX));
  if (max_length) r.max_length = int32_t(*max_length);
  r.sampling.temperature = defaults.temperature;
  r.sampling.top_p = defaults.top_p;
  SHUO_ASSIGN(auto temperature, openai::get_number(j, "temperature", 0.0, 2.0));
  if (temperature) r.sampling.temperature = float(*temperature);
  SHUO_ASSIGN(auto top_p, openai::get_number(j, "top_p", 0.0, 1.0));
  if (top_p) {
    // As on the OpenAI surface: top_p 0 keeps only the most likely token, which is greedy.
    if (*top_p == 0.0) r.sampling.temperature = 0.0f;
    else r.sampling.top_p = float(*top_p);
  }
  return r;
}

nlohmann::ordered_json history_with_reply(const GlmRequest& r, const std::string& response) {
  Json h = r.history;
  if (r.form == HistoryForm::kMessages) {
    h.push_back(Json{{"role", "user"}, {"content", r.query}});
    h.push_back(Json{{"role", "assistant"}, {"content", response}});
  } else {
    h.push_back(Json::array({r.query, response}));
  }
  return h;
}

ChatPostKind classify_chat_post(std::string_view body) {
  auto parsed = openai::parse_json_object(body);  // (depth-checked)
  if (!parsed.ok()) return ChatPostKind::kOther;
  const Json& j = *parsed;
  if (j.contains("query")) return ChatPostKind::kGlmChat;
  for (const char* f : {"history", "max_length", "top_p", "temperature"})
    if (j.contains(f)) return ChatPostKind::kGlmMissingQuery;
  return ChatPostKind::kOther;
}

}  // namespace shuo::api::glm

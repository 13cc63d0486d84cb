// The ChatGLM-style request (spec/api.md §2, seeds/003_*.txt) as typed values: parsing and
// validation (each error names its field → 400), the chat messages it stands for, and the
// `history` the response returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "engine/sampler.h"

namespace shuo::api::glm {

// What a field the client leaves out becomes: ChatGLM-6B's own chat()/stream_chat() defaults.
struct GlmDefaults {
  float top_p = 0.7f;
  float temperature = 0.95f;
};

// How the client gave `history`; the response's `history` has the same form.
enum class HistoryForm {
  kPairs,     // [[question, answer], ...] (ChatGLM's own form; also for an absent or empty history)
  kMessages,  // [{"role", "content"}, ...] (OpenAI-style)
};

struct GlmRequest {
  std::string query;
  HistoryForm form = HistoryForm::kPairs;
  nlohmann::ordered_json history = nlohmann::ordered_json::array();  // as given (checked)
  // history + {"role": "user", "content": query}, normalised for ChatFormat::render.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::optional<int32_t> max_length;  // prompt + reply tokens; absent: the context per sequence
  engine::SamplingParams sampling;    // temperature 0 (or top_p 0) = greedy
};

// Body fields: query (string, non-empty, required), history (array or null), max_length
// (integer ≥ 1), top_p ([0, 1]), temperature ([0, 2]). Unknown fields are ignored. Errors:
// kBadField naming the field ("query", "history[2][1]", "history[0].role", "body").
Result<GlmRequest> parse_glm_request(std::string_view body, const GlmDefaults& defaults);

// The response's history: the request's, then this exchange ([query, response] or a user and an
// assistant message).
nlohmann::ordered_json history_with_reply(const GlmRequest& r, const std::string& response);

// How POST /chat, which §2 and §3 share, reads a body: a JSON object with a "query" field is a
// ChatGLM chat; one with other ChatGLM fields but no "query" is a chat missing its query (400);
// anything else (empty, or an object without ChatGLM fields) belongs to the demo API's reset.
enum class ChatPostKind { kGlmChat, kGlmMissingQuery, kOther };
ChatPostKind classify_chat_post(std::string_view body);

}  // namespace shuo::api::glm

// ChatHub request validation, turn merging and translation into an engine request.
#include "api/grpc/chat_request.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "text/utf8.h"

namespace shuo::api::chathub {

namespace {

Error bad(std::string where, std::string message) {
  return Error{ErrorCode::kBadField, std::move(where), std::move(message)};
}

Result<void> check_utf8(const std::string& s, const std::string& where) {
  if (text::is_valid_utf8(s)) return {};
  return bad(where, "is not valid UTF-8 (first bad byte at offset " +
                        std::to_string(text::utf8_valid_prefix_len(s)) + ")");
}

std::string fmt(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", double(v));
  return buf;
}

// `name` in [lo, hi] (lo is 0 here, which also means the server default).
Result<void> check_range(float v, const char* name, float lo, float hi) {
  if (std::isfinite(v) && v >= lo && v <= hi) return {};
  return bad(name, "must be in [" + fmt(lo) + ", " + fmt(hi) + "] (0 = server default), got " + fmt(v));
}

}  // namespace

Result<void> validate(const ChatHubRequest& r) {
  SHUO_TRY(check_utf8(r.prompt, "prompt"));
  if (r.prompt.empty()) return bad("prompt", "must not be empty");
  for (size_t i = 0; i < r.history.size(); ++i) {
    const ChatMessage& m = r.history[i];
    const std::string at = "history[" + std::to_string(i) + "]";
    SHUO_TRY(check_utf8(m.role, at + ".role"));
    SHUO_TRY(check_utf8(m.content, at + ".content"));
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      return bad(at + ".role", "must be \"system\", \"user\" or \"assistant\", got \"" + m.role + "\"");
  }
  if (r.max_length < 0) return bad("max_length", "must be ≥ 0 (0 = server default), got " + std::to_string(r.max_length));
  SHUO_TRY(check_range(r.top_p, "top_p", 0, 1));
  SHUO_TRY(check_range(r.temperature, "temperature", 0, 2));
  return {};
}

nlohmann::ordered_json chat_messages(const ChatHubRequest& r) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  auto add = [&out](const std::string& role, const std::string& content) {
    if (!out.empty() && out.back()["role"] == role) {
      std::string joined = out.back()["content"].get<std::string>();
      // An empty side adds no blank line, as the Python original only joins non-empty text.
      if (joined.empty()) {
        joined = content;
      } else if (!content.empty()) {
        joined += "\n\n" + content;
      }
      out.back()["content"] = std::move(joined);
      return;
    }
    out.push_back(nlohmann::ordered_json{{"role", role}, {"content", content}});
  };
  for (const ChatMessage& m : r.history) add(m.role, m.content);
  add("user", r.prompt);
  return out;
}

Result<PreparedChat> prepare_chat(const openai::ServiceState& st, const ChatHubRequest& r,
                                  const ChatHubDefaults& defaults) {
  SHUO_TRY(validate(r));
  auto rendered = st.chat.render(chat_messages(r), /*add_generation_prompt=*/true, nlohmann::ordered_json::object());
  if (!rendered.ok()) return rendered.error();
  openai::ChatPrompt prompt = st.chat.encode(st.tokenizer, *rendered);

  const int32_t n_ctx = st.engine.options().n_ctx;
  int32_t budget = r.max_length > 0 ? r.max_length : defaults.max_length;
  if (budget <= 0 || budget > n_ctx) budget = n_ctx;
  const int64_t n_prompt = int64_t(prompt.ids.size());
  if (n_prompt >= budget) {
    const std::string limit = budget == n_ctx ? "the context per sequence (" + std::to_string(n_ctx) + " tokens)"
                                              : "max_length " + std::to_string(budget);
    return bad("prompt", "history and prompt take " + std::to_string(n_prompt) + " tokens; " + limit +
                             " leaves no room for a reply");
  }

  PreparedChat p;
  p.n_prompt = int32_t(n_prompt);
  p.reply.strip_leading_space = prompt.strip_leading_space;
  p.reply.prompt = std::move(prompt.ids);
  p.reply.max_tokens = budget - int32_t(n_prompt);
  p.reply.sampling.temperature = r.temperature > 0 ? r.temperature : defaults.temperature;
  p.reply.sampling.top_p = r.top_p > 0 ? r.top_p : defaults.top_p;
  return p;
}

}  // namespace shuo::api::chathub

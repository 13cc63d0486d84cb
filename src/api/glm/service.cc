// ChatGLM-style /chat and /stream on the engine (see service.h).
#include "api/glm/service.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include <spdlog/spdlog.h>

#include "api/openai/errors.h"
#include "api/openai/generation.h"
#include "api/openai/json_fields.h"
#include "api/openai/reply.h"

namespace shuo::api::glm {

namespace {

using Json = nlohmann::ordered_json;

std::string sse_delta(const Json& j) { return "event: delta\ndata: " + openai::dump_json(j) + "\n\n"; }

// One /chat or /stream request from submission to its answer. Pieces and the end arrive on the
// engine thread, one at a time; `mu` keeps them behind the submitting thread's start_stream.
struct Exchange {
  Exchange(openai::ServiceState& s, std::shared_ptr<http::Responder> r, GlmRequest q, bool streamed)
      : st(s), res(std::move(r)), request(std::move(q)), stream(streamed) {}

  std::mutex mu;
  openai::ServiceState& st;
  std::shared_ptr<http::Responder> res;
  GlmRequest request;
  bool stream = false;
  std::string response;

  void on_piece(std::string_view piece) {
    std::lock_guard lock(mu);
    response += piece;
    if (!stream) return;
    res->write(sse_delta(Json{{"delta", piece}, {"response", response}, {"finished", false}}));
  }

  void on_done(openai::ReplyResult r) {
    std::lock_guard lock(mu);
    if (r.finish == engine::FinishReason::kError) {
      openai::ApiError e = openai::to_api_error(Error{ErrorCode::kInternal, "engine", r.error});
      if (!stream) return res->send(openai::error_response(e, res->request_id(), st.log.get()));
      if (st.log) st.log->error("glm id={} generation failed: {}", res->request_id(), r.error);
      e.message = "internal error (request id " + res->request_id() + ")";
      res->write("event: error\ndata: " + openai::error_json(e) + "\n\n");
      return res->end();
    }
    if (r.finish == engine::FinishReason::kCancelled) {  // the client is gone: nobody reads this
      if (stream) return res->end();
      return res->send_error(499, "cancelled", "the request was cancelled");
    }
    Json history = history_with_reply(request, response);
    if (stream) {
      res->write(sse_delta(Json{{"delta", ""},
                                {"response", response},
                                {"finished", true},
                                {"query", request.query},
                                {"history", std::move(history)}}));
      return res->end();
    }
    openai::send_json(*res, Json{{"query", request.query}, {"response", response}, {"history", std::move(history)}});
  }
};

}  // namespace

openai::ChatFormat glm_chat_format(std::string_view arch, const openai::ChatFormat& model_format) {
  // A template in the file wins: ChatGLM3 / GLM-4 GGUFs carry theirs (<|user|> tags), and only
  // the original ChatGLM(2)-6B prompt is [Round n].
  if (model_format.has_template()) return model_format;
  if (text::builtin_chat_format_for(arch, false) == text::BuiltinChatFormat::kChatGLM)
    return openai::ChatFormat(std::nullopt, text::BuiltinChatFormat::kChatGLM, model_format.bos_token(),
                              model_format.eos_token());
  return model_format;
}

Service::Service(openai::ServiceState& state, openai::ChatFormat format, GlmDefaults defaults)
    : st_(state), format_(std::move(format)), defaults_(defaults) {}

void Service::handle_chat(const http::Request& req, std::shared_ptr<http::Responder> res, bool stream) {
  auto parsed = parse_glm_request(req.body, defaults_);
  if (!parsed.ok()) return openai::send_error(st_, *res, parsed.error());
  auto rendered = format_.render(parsed->messages, /*add_generation_prompt=*/true, Json::object());
  if (!rendered.ok()) return openai::send_error(st_, *res, rendered.error());
  openai::ChatPrompt prompt = format_.encode(st_.tokenizer, *rendered);

  // ChatGLM's max_length counts prompt and reply together; the context bounds both.
  const int32_t n_ctx = st_.engine.options().n_ctx;
  const int32_t n_prompt = int32_t(std::min<size_t>(prompt.ids.size(), INT32_MAX));
  const int32_t budget = std::min(parsed->max_length.value_or(n_ctx), n_ctx);
  if (n_prompt >= n_ctx)
    return openai::send_error(st_, *res, Error{ErrorCode::kLimit, "context",
        "the prompt (query and history) is " + std::to_string(n_prompt) + " tokens; the context holds " +
        std::to_string(n_ctx) + " per sequence, prompt and reply together"});
  if (n_prompt >= budget)
    return openai::send_error(st_, *res, openai::bad_field("max_length",
        "the prompt (query and history) alone is " + std::to_string(n_prompt) + " tokens, so max_length " +
        std::to_string(budget) + " leaves no room for a reply"));

  openai::ReplySpec spec;
  spec.prompt = std::move(prompt.ids);
  spec.strip_leading_space = prompt.strip_leading_space;
  spec.sampling = parsed->sampling;
  spec.max_tokens = budget - n_prompt;

  auto ex = std::make_shared<Exchange>(st_, res, std::move(*parsed), stream);
  // Under ex->mu until the stream has started: the engine may call back at once, from its thread.
  std::lock_guard lock(ex->mu);
  auto handle = openai::start_reply(
      st_.engine, st_.tokenizer, std::move(spec), [ex](std::string_view piece) { ex->on_piece(piece); },
      [ex](openai::ReplyResult r) { ex->on_done(std::move(r)); });
  if (!handle.ok()) return openai::send_error(st_, *res, handle.error());  // 429 queue full, 400 ...
  if (stream) res->start_stream(200, "text/event-stream", {});
  res->on_cancel([h = *handle] { h->cancel(); });
}

void Service::add_routes(http::Server& server, http::Handler other_chat_post) {
  // Frees the KV blocks kept for prefix reuse (the engine drops them at its next step); running
  // requests keep theirs. ChatGLM's demos freed GPU memory here.
  server.route("GET", "/clear", [this](const http::Request&, std::shared_ptr<http::Responder> res) {
    st_.engine.clear_cache();
    openai::send_json(*res, Json{{"ok", true}});
  });
  server.route("POST", "/stream", [this](const http::Request& req, std::shared_ptr<http::Responder> res) {
    handle_chat(req, std::move(res), /*stream=*/true);
  });
  server.route("POST", "/chat", [this, other = std::move(other_chat_post)](const http::Request& req,
                                                                          std::shared_ptr<http::Responder> res) {
    switch (classify_chat_post(req.body)) {
      case ChatPostKind::kGlmChat: return handle_chat(req, std::move(res), /*stream=*/false);
      case ChatPostKind::kGlmMissingQuery:
        return openai::send_error(st_, *res, openai::bad_field("query", "is required"));
      case ChatPostKind::kOther:
        if (other) return other(req, std::move(res));
        return openai::send_error(st_, *res, openai::bad_field("query", "is required"));
    }
  });
}

}  // namespace shuo::api::glm

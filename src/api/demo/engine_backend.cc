// In-process chat and QA sessions on the engine (see engine_backend.h).
#include "api/demo/engine_backend.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "api/openai/errors.h"
#include "api/openai/reply.h"
#include "text/chat_template.h"

namespace shuo::api::demo {

namespace {

using Json = nlohmann::ordered_json;

BackendError context_error(size_t n_prompt, int32_t n_ctx) {
  BackendError e;
  e.status = 400;
  e.code = "context_length_exceeded";
  e.param = "msg";
  e.message = "msg: the message (with the personality) is " + std::to_string(n_prompt) +
              " tokens; the model's context holds " + std::to_string(n_ctx) + " per sequence, prompt and reply together";
  return e;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

BackendError backend_error_from(const Error& err) {
  const openai::ApiError a = openai::to_api_error(err);
  BackendError e;
  e.status = a.status;
  e.code = a.code;
  e.param = a.param;
  e.message = a.message;
  e.retry_after_s = a.retry_after_s;
  return e;
}

EngineReplier::EngineReplier(engine::Engine& engine, const text::Tokenizer& tok, openai::ChatFormat format,
                             EngineBackendOptions options)
    : engine_(engine), tok_(tok), format_(std::move(format)), options_(options) {}

CancelFn EngineReplier::reply(const std::string& system, const std::vector<ChatTurn>& turns, const std::string& msg,
                              const ReplyOptions& options, std::function<void(Outcome<std::string>)> done) {
  return reply_streamed(system, turns, msg, options, nullptr, [done = std::move(done)](Outcome<StreamedReply> r) {
    if (!r.ok()) return done(Outcome<std::string>{std::move(r.error), {}});
    if (r.value.finish == "cancelled")
      return done(Outcome<std::string>{BackendError{499, "cancelled", "the request was cancelled", {}, 0}, {}});
    done(Outcome<std::string>{std::nullopt, std::move(r.value.text)});
  });
}

CancelFn EngineReplier::reply_streamed(const std::string& system, const std::vector<ChatTurn>& turns,
                                       const std::string& msg, const ReplyOptions& options, PieceFn on_piece,
                                       std::function<void(Outcome<StreamedReply>)> done) {
  const auto start = std::chrono::steady_clock::now();
  auto fail = [&done](BackendError e) -> CancelFn {
    done(Outcome<StreamedReply>{std::move(e), {}});
    return [] {};
  };
  // Messages with the turns from `first` on. A template that rejects a system message (some do:
  // raise_exception) gets the system text as the first user message's first paragraph.
  bool system_inline = false;
  auto render = [&](size_t first) -> Result<std::string> {
    Json messages = Json::array();
    std::string prefix;
    if (!system.empty()) {
      if (system_inline) prefix = system + "\n\n";
      else messages.push_back(Json{{"role", "system"}, {"content", system}});
    }
    for (size_t i = first; i < turns.size(); ++i) {
      std::string content = turns[i].msg;
      if (turns[i].input && !prefix.empty()) content = std::exchange(prefix, "") + content;
      messages.push_back(Json{{"role", turns[i].input ? "user" : "assistant"}, {"content", std::move(content)}});
    }
    messages.push_back(Json{{"role", "user"}, {"content", prefix + msg}});
    return format_.render(messages, /*add_generation_prompt=*/true, Json::object());
  };
  auto encode = [&](size_t first) -> Result<openai::ChatPrompt> {
    auto text = render(first);
    if (!text.ok() && !system.empty() && !system_inline && text::is_raise_exception(text.error())) {
      system_inline = true;
      text = render(first);
    }
    if (!text.ok()) return text.error();
    return format_.encode(tok_, *text);
  };

  const int32_t n_ctx = engine_.options().n_ctx;
  const int32_t want = std::max(1, options.max_tokens.value_or(options_.max_reply_tokens));
  // Where the kept history may start: at a user turn (never mid-exchange), or after all of it.
  std::vector<size_t> starts;
  for (size_t i = 0; i < turns.size(); ++i)
    if (turns[i].input) starts.push_back(i);
  starts.push_back(turns.size());
  // The earliest start that fits: a prompt only shrinks as the start moves on (binary search).
  size_t lo = 0, hi = starts.size() - 1;
  auto best = encode(starts[hi]);
  if (!best.ok()) return fail(backend_error_from(best.error()));
  if (best->ids.size() >= size_t(n_ctx)) return fail(context_error(best->ids.size(), n_ctx));
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    auto p = encode(starts[mid]);
    if (!p.ok()) return fail(backend_error_from(p.error()));
    if (p->ids.size() + size_t(want) <= size_t(n_ctx)) {
      best = std::move(p);
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }

  openai::ReplySpec spec;
  spec.max_tokens = std::min<int32_t>(want, n_ctx - int32_t(best->ids.size()));
  spec.prompt = std::move(best->ids);
  spec.strip_leading_space = best->strip_leading_space;
  spec.sampling.temperature = options.temperature.value_or(options_.temperature);
  spec.sampling.top_p = options.top_p.value_or(options_.top_p);
  if (options.top_p && *options.top_p == 0.0f) {  // as on the other surfaces: top_p 0 is greedy
    spec.sampling.temperature = 0.0f;
    spec.sampling.top_p = 1.0f;
  }
  if (options.seed) {
    spec.sampling.seed = *options.seed;
    spec.sampling.has_seed = true;
  }
  spec.ignore_eos = options.ignore_eos;
  // The time of the first piece: written and read on the engine thread only.
  auto first_piece = std::make_shared<double>(-1.0);
  openai::ReplyPieceFn piece;
  if (on_piece) {
    piece = [start, first_piece, on_piece = std::move(on_piece)](std::string_view text) {
      if (*first_piece < 0) *first_piece = seconds_since(start);
      on_piece(text);
    };
  }
  auto handle = openai::start_reply(engine_, tok_, std::move(spec), std::move(piece),
                                    [done, start, first_piece](openai::ReplyResult r) mutable {
    Outcome<StreamedReply> out;
    if (r.finish == engine::FinishReason::kError) {
      out.error = backend_error_from(Error{ErrorCode::kInternal, "engine", r.error});
    } else {
      out.value.text = std::move(r.text);
      out.value.finish = engine::finish_reason_name(r.finish);
      out.value.prompt_tokens = r.n_prompt;
      out.value.completion_tokens = r.n_generated;
      out.value.seconds = seconds_since(start);
      out.value.first_piece_seconds = *first_piece;
    }
    done(std::move(out));
  });
  if (!handle.ok()) return fail(backend_error_from(handle.error()));
  return [h = *handle] { h->cancel(); };
}

void EngineChatBackend::start(StartRequest request, ProgressFn, std::function<void(Outcome<SessionInfo>)> done) {
  done(Outcome<SessionInfo>{std::nullopt, SessionInfo{request.id, std::move(request.personality)}});
}

CancelFn EngineChatBackend::send(ChatContext context, std::string msg, ReplyOptions options,
                                 std::function<void(Outcome<std::string>)> done) {
  return replier_.reply(context.personality, context.turns, msg, options, std::move(done));
}

CancelFn EngineChatBackend::send_streamed(ChatContext context, std::string msg, ReplyOptions options,
                                          PieceFn on_piece, std::function<void(Outcome<StreamedReply>)> done) {
  return replier_.reply_streamed(context.personality, context.turns, msg, options, std::move(on_piece),
                                 std::move(done));
}

void EngineChatBackend::forget(int64_t, std::function<void(Outcome<Done>)> done) { done(Outcome<Done>{}); }

void EngineQaBackend::start(StartRequest request, ProgressFn, std::function<void(Outcome<SessionInfo>)> done) {
  done(Outcome<SessionInfo>{std::nullopt, SessionInfo{request.id, {}}});
}

CancelFn EngineQaBackend::answer(int64_t, QaQuestion q, ReplyOptions options,
                                 std::function<void(Outcome<std::string>)> done) {
  std::string question = q.title;
  if (!q.text.empty()) question += (question.empty() ? "" : "\n\n") + q.text;
  return replier_.reply(kQaInstruction, {}, question, options, std::move(done));
}

}  // namespace shuo::api::demo

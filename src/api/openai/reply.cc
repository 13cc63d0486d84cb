// One streamed chat reply on the engine (see reply.h).
#include "api/openai/reply.h"

#include <utility>

#include "api/openai/generation.h"

namespace shuo::api::openai {

namespace {

// Lives as long as the engine holds the request's callback. The engine calls it for one request
// on its own thread, one event at a time, so nothing here needs a lock.
struct ReplyState {
  ReplyState(const text::Tokenizer& tok, bool strip, ReplyPieceFn piece, ReplyDoneFn done)
      : text(tok, *text::StopStringMatcher::create({}), strip, /*want_logprobs=*/false),
        on_piece(std::move(piece)), on_done(std::move(done)) {}

  void emit(ChoiceDelta d) {
    if (d.text.empty()) return;
    result.text += d.text;
    if (on_piece) on_piece(d.text);
  }

  void on_event(const engine::TokenEvent& ev) {
    if (ev.token >= 0) emit(text.push(ev));
    if (ev.finish == engine::FinishReason::kNone) return;
    emit(text.finish());
    result.finish = ev.finish;
    result.error = ev.error;
    result.n_prompt = ev.n_prompt;
    result.n_generated = ev.n_generated;
    ReplyDoneFn done = std::move(on_done);
    done(std::move(result));
  }

  ChoiceText text;
  ReplyPieceFn on_piece;
  ReplyDoneFn on_done;
  ReplyResult result;
};

}  // namespace

Result<std::shared_ptr<engine::RequestHandle>> start_reply(engine::Engine& engine, const text::Tokenizer& tok,
                                                           ReplySpec spec, ReplyPieceFn on_piece,
                                                           ReplyDoneFn on_done) {
  auto state = std::make_shared<ReplyState>(tok, spec.strip_leading_space, std::move(on_piece), std::move(on_done));
  engine::EngineRequest req;
  req.prompt = std::move(spec.prompt);
  req.sampling = std::move(spec.sampling);
  req.max_tokens = spec.max_tokens;
  req.ignore_eos = spec.ignore_eos;
  return engine.submit(std::move(req), [state](const engine::TokenEvent& ev) { state->on_event(ev); });
}

}  // namespace shuo::api::openai

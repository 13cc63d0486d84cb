// One chat reply on the engine, for the surfaces that produce a single reply per request
// (ChatGLM-style /chat and /stream, the demo sessions): prompt tokens in, whole UTF-8 pieces out
// as they are generated (ChoiceText, so a character split across tokens is never sent in halves),
// then the whole text once. OpenAI's n/logprobs/stop machinery (generation.h) is not needed here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "engine/engine.h"
#include "engine/request.h"
#include "text/tokenizer.h"

namespace shuo::api::openai {

struct ReplySpec {
  std::vector<int32_t> prompt;       // ≥ 1 token
  bool strip_leading_space = false;  // see ChatPrompt
  engine::SamplingParams sampling;
  int32_t max_tokens = 1;            // prompt + max_tokens ≤ the engine's n_ctx
  bool ignore_eos = false;           // end-of-generation tokens do not end the reply
};

struct ReplyResult {
  std::string text;                  // everything on_piece got, in one string
  engine::FinishReason finish = engine::FinishReason::kStop;  // never kNone
  std::string error;                 // finish == kError: what the engine said
  int32_t n_prompt = 0;
  int32_t n_generated = 0;
};

// Both run on the engine thread and must be quick (no blocking, no engine calls).
using ReplyPieceFn = std::function<void(std::string_view piece)>;  // non-empty, whole characters
using ReplyDoneFn = std::function<void(ReplyResult result)>;       // exactly once, last

// Submits the reply. On success on_done will run exactly once (also after cancel(), with
// kCancelled); on error (kLimit "context" / "queue", kBadField) neither callback ever runs.
// `tok` must outlive the request.
Result<std::shared_ptr<engine::RequestHandle>> start_reply(engine::Engine& engine, const text::Tokenizer& tok,
                                                           ReplySpec spec, ReplyPieceFn on_piece,
                                                           ReplyDoneFn on_done);

}  // namespace shuo::api::openai

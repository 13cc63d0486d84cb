// In-process demo sessions (the default mode of spec/api.md §3): chat and QA on the loaded model
// through the shared engine, so any number of sessions run at once, batched with every other
// surface's requests, and starting one costs nothing. Sessions hold no state here: each reply is
// generated from what the Service passes (personality + recorded history since the last clear),
// which is why they survive a restart of the server.
//
// Chat prompt: messages [system: personality (if any)] + the history as user/assistant turns +
// [user: msg], rendered with the model's chat format. When that is longer than the context
// leaves room for (prompt + max reply), the oldest exchanges are left out. A template that
// refuses system messages gets the personality as the first user message's first paragraph.
//
// QA prompt: [system: kQaInstruction, user: title + "\n\n" + text] (just the title when the text
// is empty), rendered the same way. Each question stands alone.
#pragma once

#include <cstdint>

#include "api/demo/backend.h"
#include "api/openai/chat_format.h"
#include "engine/engine.h"
#include "text/tokenizer.h"

namespace shuo::api::demo {

inline constexpr const char* kQaInstruction =
    "Answer the question. Its first line is the question's title; any further lines give its details.";

struct EngineBackendOptions {
  // The sampling of the interact command line in seeds/000_*.txt (--temperature 0.7 --top_p 0.9).
  float temperature = 0.7f;
  float top_p = 0.9f;
  int32_t max_reply_tokens = 256;  // also bounded by what the prompt leaves of the context
};

// The part both backends share: messages → a prompt that fits → one engine reply.
class EngineReplier {
 public:
  // Everything must outlive the replier.
  EngineReplier(engine::Engine& engine, const text::Tokenizer& tok, openai::ChatFormat format,
                EngineBackendOptions options);

  // `system` (may be empty), then `turns` from the oldest that fits, then the user's `msg`.
  // Errors come through `done`, never from the call; a cancelled reply is an error (499).
  CancelFn reply(const std::string& system, const std::vector<ChatTurn>& turns, const std::string& msg,
                 const ReplyOptions& options, std::function<void(Outcome<std::string>)> done);
  // The same, streamed: `on_piece` (may be null) on the engine thread as characters complete; a
  // cancelled reply ends with its partial text (finish "cancelled").
  CancelFn reply_streamed(const std::string& system, const std::vector<ChatTurn>& turns, const std::string& msg,
                          const ReplyOptions& options, PieceFn on_piece,
                          std::function<void(Outcome<StreamedReply>)> done);

 private:
  engine::Engine& engine_;
  const text::Tokenizer& tok_;
  openai::ChatFormat format_;
  EngineBackendOptions options_;
};

class EngineChatBackend final : public ChatBackend {
 public:
  EngineChatBackend(engine::Engine& engine, const text::Tokenizer& tok, openai::ChatFormat format,
                    EngineBackendOptions options = {})
      : replier_(engine, tok, std::move(format), options) {}

  // Ready at once: the session is the reserved id with the requested personality.
  void start(StartRequest request, ProgressFn progress, std::function<void(Outcome<SessionInfo>)> done) override;
  bool is_live(int64_t) const override { return true; }  // every recorded session can go on
  CancelFn send(ChatContext context, std::string msg, ReplyOptions options,
                std::function<void(Outcome<std::string>)> done) override;
  CancelFn send_streamed(ChatContext context, std::string msg, ReplyOptions options, PieceFn on_piece,
                         std::function<void(Outcome<StreamedReply>)> done) override;
  // Nothing to drop: the Service stops passing the forgotten turns.
  void forget(int64_t id, std::function<void(Outcome<Done>)> done) override;

 private:
  EngineReplier replier_;
};

class EngineQaBackend final : public QaBackend {
 public:
  EngineQaBackend(engine::Engine& engine, const text::Tokenizer& tok, openai::ChatFormat format,
                  EngineBackendOptions options = {})
      : replier_(engine, tok, std::move(format), options) {}

  void start(StartRequest request, ProgressFn progress, std::function<void(Outcome<SessionInfo>)> done) override;
  bool is_live(int64_t) const override { return true; }
  CancelFn answer(int64_t id, QaQuestion question, ReplyOptions options,
                  std::function<void(Outcome<std::string>)> done) override;

 private:
  EngineReplier replier_;
};

// Error → what the client sees (the OpenAI surface's mapping: 400 naming the field, 429 queue
// full with Retry-After, 503 shutting down, 500 otherwise).
BackendError backend_error_from(const Error& e);

}  // namespace shuo::api::demo

// Running completions on the engine, shared by /v1/completions and /v1/chat/completions:
// per-choice text assembly (token → StreamDecoder → StopStringMatcher, so no piece ever holds a
// partial UTF-8 character or anything after a stop string) and the job that submits n
// sequences per prompt and streams or collects their events. The two endpoints differ only in
// their ResponseFormat (JSON shapes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/http/message.h"
#include "api/openai/params.h"
#include "api/openai/service.h"
#include "engine/request.h"
#include "text/stop_strings.h"
#include "text/stream_decoder.h"
#include "text/tokenizer.h"

namespace shuo::api::openai {

using OJson = nlohmann::ordered_json;

struct TokenLogprob {
  int32_t token = -1;
  std::string bytes;       // the token's raw bytes (may be part of a UTF-8 character)
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;  // alternatives, best first
  size_t text_offset = 0;  // bytes of the choice's text before this token
};

// What one choice adds to its output at one event.
struct ChoiceDelta {
  std::string text;
  std::vector<TokenLogprob> logprobs;
  bool empty() const { return text.empty() && logprobs.empty(); }
};

// One choice's token → text path. The same object serves streamed and whole responses, so
// their texts are equal for the same tokens.
class ChoiceText {
 public:
  ChoiceText(const text::Tokenizer& tok, text::StopStringMatcher stops, bool strip_leading_space,
             bool want_logprobs, size_t text_offset0 = 0);

  // A generated token (ev.token >= 0). After a stop string has matched, returns nothing.
  ChoiceDelta push(const engine::TokenEvent& ev);
  // End of generation: the text still held back by the stop matcher. Bytes of a character that
  // never completed are dropped rather than sent as U+FFFD.
  ChoiceDelta finish();
  // A stop string matched: nothing after it is ever returned.
  bool stopped() const { return matcher_.stopped(); }

 private:
  const text::Tokenizer& tok_;
  text::StreamDecoder decoder_;
  text::StopStringMatcher matcher_;
  bool want_logprobs_;
  bool strip_leading_space_;
  size_t raw_offset_;  // raw piece bytes pushed so far (+ the echo's length)
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// {"prompt_tokens", "completion_tokens", "total_tokens"} as both endpoints report it.
inline OJson usage_json(const Usage& u) {
  return OJson{{"prompt_tokens", u.prompt_tokens}, {"completion_tokens", u.completion_tokens},
               {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

struct ChoiceResult {
  std::string text;
  std::vector<TokenLogprob> logprobs;
  std::string finish_reason;
};

// The JSON shapes of one endpoint. Stream methods return one SSE event's JSON.
class ResponseFormat {
 public:
  virtual ~ResponseFormat() = default;
  // Events sent right after the stream starts (chat: each choice's role; completions: echo).
  virtual std::vector<OJson> stream_start(int n_choices) = 0;
  virtual OJson stream_delta(int index, const ChoiceDelta& delta) = 0;
  virtual OJson stream_finish(int index, const std::string& finish_reason) = 0;
  virtual OJson stream_usage(const Usage& usage) = 0;
  virtual OJson whole(const std::vector<ChoiceResult>& choices, const Usage& usage) = 0;
};

// A prompt ready for the engine.
struct PreparedPrompt {
  std::vector<int32_t> ids;
  bool strip_leading_space = false;  // SentencePiece: the reply starts a text (see StreamDecoder)
  std::string echo;                  // text put before each choice's output (completions echo)
};

// A chat rendered by ChatFormat::render as a PreparedPrompt for run_generation (the tokens come
// from ChatFormat::encode, which the other chat surfaces call directly).
PreparedPrompt prepare_chat_prompt(const ServiceState& state, const std::string& rendered);

// Submits prompts × gen.n sequences (choice index = prompt * n + j) and answers through
// `responder`: SSE chunks as tokens arrive when gen.stream, else one JSON response when all are
// done. With gen.num_beams > 1 each prompt is one beam-search request whose n best beams are its
// choices; a stream then gets their text in one burst when the search ends. Submission errors (context, queue full, bad field) are answered as OpenAI errors and
// cancel what was already submitted. A client that goes away cancels every sequence.
void run_generation(ServiceState& state, std::shared_ptr<http::Responder> responder,
                    std::vector<PreparedPrompt> prompts, const GenerationParams& gen,
                    std::unique_ptr<ResponseFormat> format);

// Helpers shared by the handlers.
std::string dump_json(const OJson& j);  // compact, invalid UTF-8 replaced
void send_json(http::Responder& responder, const OJson& body, int status = 200);
void send_error(ServiceState& state, http::Responder& responder, const Error& e);
// kNotFound "model" unless `model` is empty or the served model's id.
Result<void> check_model(const ServiceState& state, const std::string& model);
// A token's text for logprobs: the bytes when they are valid UTF-8, else "bytes:\xNN…" as
// OpenAI spells partial characters; and the bytes as a JSON array of integers.
std::string logprob_token_text(const std::string& bytes);
OJson bytes_array(const std::string& bytes);

}  // namespace shuo::api::openai

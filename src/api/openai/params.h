// Request parsing and validation for the OpenAI surface: JSON body → typed request. A known
// field with a wrong type or out of range is an error naming the field (→ 400); unknown fields
// are ignored; `null` means "not given". Token-level checks (ids in the vocabulary, prompt +
// max_tokens within the context) are left to the engine, which knows the model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "engine/request.h"
#include "engine/sampler.h"

namespace shuo::api::openai {

// One prompt or embedding input: text to encode, or token ids taken as they are.
struct PromptInput {
  bool is_ids = false;
  std::string text;
  std::vector<int32_t> ids;
};

// The fields both completion endpoints share.
struct GenerationParams {
  std::string model;                  // "" when absent
  engine::SamplingParams sampling;    // temperature 0 = greedy (also do_sample false, top_p 0)
  std::optional<int32_t> max_tokens;  // max_completion_tokens or max_tokens; absent: to the context
  int32_t min_tokens = 0;
  bool ignore_eos = false;
  std::vector<std::string> stop;      // ≤ 4, each non-empty
  int32_t n = 1;                      // choices per prompt (with beams: the n best beams)
  // Beam search (num_beams > 1, do_sample absent or false): see engine::BeamParams.
  int32_t num_beams = 1;
  float length_penalty = 1.0f;
  engine::EarlyStopping early_stopping = engine::EarlyStopping::kHeuristic;
  bool want_logprobs = false;
  int32_t top_logprobs = 0;           // 0..20
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
};

struct CompletionRequest {
  GenerationParams gen;
  std::vector<PromptInput> prompts;   // ≥ 1; choices are indexed prompt * n + j
  bool echo = false;                  // prepend the prompt's text to each choice
};

struct ChatRequest {
  GenerationParams gen;
  // Normalised messages for the template: [{"role", "content": string, "name"?}]; "developer"
  // becomes "system", content parts are joined.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  bool add_generation_prompt = true;
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();  // chat_template_kwargs
};

struct EmbeddingRequest {
  std::string model;
  std::vector<PromptInput> inputs;    // ≥ 1
  bool base64 = false;                // encoding_format "base64" (little-endian float32)
};

struct TokenizeRequest {
  std::string content;
  bool add_special = false;
  bool with_pieces = false;
};

struct DetokenizeRequest {
  std::vector<int32_t> tokens;
};

// OpenAI-style messages → the normalised form ChatRequest::messages holds. `name` prefixes the
// error's field ("messages", "history"); an empty array is fine here (callers decide).
Result<nlohmann::ordered_json> parse_chat_messages(const nlohmann::ordered_json& messages,
                                                   const std::string& name);

// Errors: kBadField with `where` = the field ("temperature", "messages[1].content"), or "body"
// for JSON that does not parse or is not an object; kUnsupported for features shuo does not
// have (tools, response_format json); both are 400s.
Result<CompletionRequest> parse_completion_request(std::string_view body);
Result<ChatRequest> parse_chat_request(std::string_view body);
Result<EmbeddingRequest> parse_embedding_request(std::string_view body);
Result<TokenizeRequest> parse_tokenize_request(std::string_view body);
Result<DetokenizeRequest> parse_detokenize_request(std::string_view body);

}  // namespace shuo::api::openai

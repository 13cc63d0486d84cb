// A ChatHub request (proto/chathub.proto, spec/api.md §4) as plain values, its validation and
// its translation into one engine request. No gRPC or protobuf types here: this is the part of
// the surface that is tested without a network.
// (Namespace chathub, not grpc: inside it `grpc::` would not name the gRPC library.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/openai/reply.h"
#include "api/openai/service.h"
#include "core/result.h"

namespace shuo::api::chathub {

struct ChatMessage {
  std::string role;     // "system", "user" or "assistant"
  std::string content;
};

// aihub.ChatRequest. Strings are raw bytes as they came off the wire (not yet known to be UTF-8).
struct ChatHubRequest {
  std::string prompt;                // the new user turn
  std::vector<ChatMessage> history;  // earlier turns, OpenAI-style
  int32_t max_length = 0;            // prompt + reply tokens; 0 = the server default
  float top_p = 0.0f;                // 0 = the server default
  float temperature = 0.0f;          // 0 = the server default
};

// What a field left at proto3's zero becomes. ChatGLM2's own chat() defaults, which is what the
// Python server of 002_*.txt ran when its client left a field out.
struct ChatHubDefaults {
  float top_p = 0.8f;
  float temperature = 0.8f;
  int32_t max_length = 0;  // 0: the engine's context per sequence
};

// Earlier turns plus the prompt as template messages [{"role", "content"}]: consecutive messages
// of one role become one, their contents joined with a blank line (as 002_*.txt's
// messages_to_tuple_history does), and the prompt is the last user turn.
// `r` must have passed validate().
nlohmann::ordered_json chat_messages(const ChatHubRequest& r);

// Field checks, each error naming the field (kBadField → INVALID_ARGUMENT): every string valid
// UTF-8, prompt not empty, roles known, max_length ≥ 0, top_p in [0, 1], temperature in [0, 2]
// (NaN and infinities rejected).
Result<void> validate(const ChatHubRequest& r);

// A request ready for openai::start_reply.
struct PreparedChat {
  openai::ReplySpec reply;
  int32_t n_prompt = 0;
};

// validate → render with the model's chat template (or built-in format) → tokenize → sampling
// and token budget. max_length is the total budget (prompt + reply) as in ChatGLM, capped at the
// context per sequence (the old clients send a fixed 2048 or 8192 whatever the model); a prompt
// that leaves no room for one reply token is kBadField "prompt". Template errors
// (raise_exception) come back as they are.
Result<PreparedChat> prepare_chat(const openai::ServiceState& state, const ChatHubRequest& r,
                                  const ChatHubDefaults& defaults);

}  // namespace shuo::api::chathub

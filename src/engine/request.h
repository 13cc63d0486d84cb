// What an API handler gives the engine (EngineRequest: values only) and what it gets back
// (TokenEvent, delivered on the engine thread to the request's callback). Handlers never touch
// tensors; cancelling is a flag the engine reads every step.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/sampler.h"

namespace shuo::engine {

struct EngineRequest {
  std::vector<int32_t> prompt;        // token ids, ≥ 1
  SamplingParams sampling;
  int32_t max_tokens = 16;            // generated tokens at most
  int32_t min_tokens = 0;             // end-of-generation tokens are ignored before this many
  bool ignore_eos = false;            // never stop on end-of-generation tokens
  int32_t top_logprobs = 0;           // alternatives per token to report (0..20)
  bool want_logprobs = false;         // report the chosen token's log-probability
};

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "cancelled", "error"

struct TokenEvent {
  int32_t token = -1;                 // -1 on a final event that carries no token
  float logprob = 0.0f;               // of `token`, when want_logprobs
  std::vector<std::pair<int32_t, float>> top;  // top_logprobs alternatives
  FinishReason finish = FinishReason::kNone;   // set on the last event of the request
  std::string error;                  // when finish == kError
  int32_t n_prompt = 0;               // usage, filled on the last event
  int32_t n_generated = 0;
};

using TokenEventFn = std::function<void(const TokenEvent&)>;

// The handler's side of a submitted request.
class RequestHandle {
 public:
  explicit RequestHandle(uint64_t id) : id_(id) {}
  uint64_t id() const { return id_; }
  // Stops generation at the engine's next step (the sequence and its cache are freed then);
  // the callback gets a final event with FinishReason::kCancelled.
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  uint64_t id_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace shuo::engine

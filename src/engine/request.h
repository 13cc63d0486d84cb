// What an API handler gives the engine (EngineRequest: values only) and what it gets back
// (TokenEvent, delivered on the engine thread to the request's callback). Handlers never touch
// tensors; cancelling is a flag the engine reads every step.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/sampler.h"

namespace shuo::engine {

// When beam search stops adding finished beams (Hugging Face's `early_stopping`). A beam is
// finished when it ends (end-of-generation token or stop) or reaches max_tokens; the search
// keeps the num_beams best finished ones.
enum class EarlyStopping {
  kHeuristic,  // false: stop once the best live beam, scored at its current length, cannot beat the worst kept
  kFirst,      // true: stop as soon as num_beams beams are finished
  kNever,      // "never": stop only when no live beam can beat the worst kept at any length
};

// Beam search (do_sample false, num_beams ≥ 1). Off when num_beams is 0.
struct BeamParams {
  static constexpr int32_t kMaxBeams = 8;  // also at most EngineOptions::max_running
  int32_t num_beams = 0;        // beams kept per step; 0 = off (sampling/greedy per `sampling`)
  int32_t n_results = 1;        // finished beams reported, best first; 1..num_beams
  // score = Σ log-probabilities / generated_tokens^length_penalty (generated tokens count the
  // end-of-generation token); > 0 favours longer, < 0 shorter replies.
  float length_penalty = 1.0f;
  EarlyStopping early_stopping = EarlyStopping::kHeuristic;
  // Whether the generated tokens (the newest last) reach a stop string; empty = no stop
  // strings. Asked once per token a beam grows by, so it may look only at what the newest
  // token completes. Runs on the engine thread for every candidate: must be quick.
  std::function<bool(std::span<const int32_t> generated)> is_stopped;
};

struct EngineRequest {
  std::vector<int32_t> prompt;        // token ids, ≥ 1
  SamplingParams sampling;
  int32_t max_tokens = 16;            // generated tokens at most
  int32_t min_tokens = 0;             // end-of-generation tokens are ignored before this many
  bool ignore_eos = false;            // never stop on end-of-generation tokens
  int32_t top_logprobs = 0;           // alternatives per token to report (0..20)
  bool want_logprobs = false;         // report the chosen token's log-probability
  BeamParams beam;                    // num_beams ≥ 1: beam search (temperature, top_* unused)
};

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "cancelled", "error"

// One generated token of a finished beam, as TokenEvent reports one of a sampled sequence.
struct BeamToken {
  int32_t token = -1;
  float logprob = 0.0f;               // under the adjusted (bias, penalties) distribution
  std::vector<std::pair<int32_t, float>> top;  // top_logprobs alternatives
};

// A finished beam of a beam-search request.
struct BeamResult {
  std::vector<BeamToken> tokens;      // generated, without the end-of-generation token
  FinishReason finish = FinishReason::kNone;  // kStop (end token or stop string) or kLength
  double sum_logprob = 0.0;           // over the tokens and the end token, if any
  double score = 0.0;                 // sum_logprob / length^length_penalty
};

struct TokenEvent {
  int32_t token = -1;                 // -1 on a final event that carries no token
  float logprob = 0.0f;               // of `token`, when want_logprobs
  std::vector<std::pair<int32_t, float>> top;  // top_logprobs alternatives
  FinishReason finish = FinishReason::kNone;   // set on the last event of the request
  std::string error;                  // when finish == kError
  int32_t n_prompt = 0;               // usage, filled on the last event
  int32_t n_generated = 0;
  // Beam search: no per-token events; the last event carries the n_results best finished beams,
  // best first (n_generated is then the total of their tokens).
  std::vector<BeamResult> beams;
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

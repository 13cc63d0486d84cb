// Per-sequence token sampler: turns one step's logits into a token id, applying the request's
// biases, penalties and filters. Owns its RNG and token counts; the engine thread keeps one per
// sequence and nothing here is shared between threads.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.h"

namespace shuo::engine {

struct SamplingParams {
  float temperature = 1.0f;  // [0, 2]; 0 → greedy (argmax, ties → lowest id)
  int32_t top_k = 0;         // >= 0; 0 = off; larger than the vocabulary = off
  float top_p = 1.0f;        // (0, 1]; 1 = off
  float min_p = 0.0f;        // [0, 1]; 0 = off; keeps p >= min_p * p_max
  // Hugging Face rule, once per distinct id in the penalty window: logit > 0 ? logit / p : logit * p.
  float repetition_penalty = 1.0f;  // > 0; 1 = off
  float presence_penalty = 0.0f;    // [-2, 2]; OpenAI: logit -= presence if count > 0
  float frequency_penalty = 0.0f;   // [-2, 2]; OpenAI: logit -= frequency * count
  // The penalty window: the last `penalty_last_n` accepted tokens (prompt and generated alike).
  // -1 = the whole context, 0 = penalties see nothing (all three are off).
  int32_t penalty_last_n = -1;
  // (token id, bias) added to the logit before anything else; bias in [-100, 100], -100 ≈ ban.
  std::vector<std::pair<int32_t, float>> logit_bias;
  uint64_t seed = 0;
  bool has_seed = false;  // seeded → reproducible draws; unseeded → seeded from random_device
};

// Checks every field against the ranges above; the error's `where` names the field, e.g.
// {kBadField, "temperature", "must be in [0, 2], got 3.5"}.
Result<void> validate(const SamplingParams& p, int32_t n_vocab);

// Order of operations in sample(), fixed so that results do not depend on the caller:
//   1. logit_bias (added)
//   2. repetition penalty (HF), then presence and frequency penalties (OpenAI), over the window
//   3. temperature == 0: return argmax (ties → lowest id); steps 4-9 are skipped
//   4. top_k: keep the k largest logits (ties → lower ids)
//   5. temperature: divide by T
//   6. softmax over the survivors
//   7. top_p: keep the smallest prefix, by descending probability, whose mass reaches top_p
//   8. min_p: drop p < min_p * p_max
//   9. renormalize and draw one token with the sequence's RNG
// Cost: O(V) per step (one exp per surviving token), O(V log k) worst case for top_k, and
// O(V + m log m) for top_p where m is about the nucleus size; no O(V log V) sort of the
// vocabulary except for a nearly flat distribution under top_p.
class Sampler {
 public:
  // `p` must have passed validate(p, n_vocab).
  explicit Sampler(SamplingParams p, int32_t n_vocab);

  // Records a context token (prompt or generated) for the penalties. The engine calls it for
  // every prompt token and for each token sample() returns; sample() does not record by itself.
  void accept(int32_t token);

  // logits: [n_vocab] raw scores of the next token, modified in place: on return they hold the
  // values after steps 1-2 (bias and penalties; NaN replaced by -inf). Steps 4-9 work on their
  // own scratch, so temperature and filters are not visible there. Returns the chosen id.
  int32_t sample(std::span<float> logits);

  // Steps 1-2 alone, in place: logit_bias, then the penalties; NaN becomes -inf. Beam search
  // ranks continuations by the log-softmax of these values (it never draws).
  void adjust(std::span<float> logits) const;

  // out[i] = logits[i] - logsumexp(logits); out.size() == logits.size(). For API logprobs.
  static void log_softmax(std::span<const float> logits, std::span<float> out);

  // The n largest (id, value) pairs by descending value, ties → lower id; fewer if the span is
  // shorter, none if n <= 0. NaN sorts last.
  static std::vector<std::pair<int32_t, float>> top_n(std::span<const float> logits, int n);

  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float weight;  // exp((logit - max) / T), in (0, 1]; the best candidate has 1
  };
  static bool better(const Candidate& a, const Candidate& b);
  void apply_penalties(std::span<float> logits) const;
  int32_t draw(std::span<const float> logits, float max_logit);
  void keep_top_k(std::span<const float> logits, size_t k);
  size_t keep_nucleus(double total_weight);

  SamplingParams params_;
  int32_t n_vocab_;
  std::mt19937_64 rng_;
  std::unordered_map<int32_t, int32_t> counts_;  // id → occurrences inside the penalty window
  std::deque<int32_t> window_;                   // only when penalty_last_n > 0
  std::vector<Candidate> cand_;                  // scratch: survivors of the filters so far
};

}  // namespace shuo::engine

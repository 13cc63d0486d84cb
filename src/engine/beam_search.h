// Beam search for one request on the batched engine (BeamParams in request.h). Each live beam
// is a sequence with its own KvCache; a beam chosen to continue another is a fork of that
// beam's cache, so beams share every block of their common prefix and copy only the partly
// filled block they write into next (copy on write). The engine feeds every live beam's pending
// token in its batch and hands the logits to advance(), which picks the next beams.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/request.h"
#include "engine/sampler.h"
#include "model/kv_cache.h"

namespace shuo::engine {

class BeamSearch {
 public:
  struct Settings {
    BeamParams params;           // num_beams ≥ 1
    int32_t max_tokens = 16;     // generated tokens per beam at most
    int32_t min_tokens = 0;      // end tokens are masked before this many
    bool ignore_eos = false;     // end tokens always masked
    bool want_logprobs = false;  // (the log-probability of each token is kept regardless)
    int32_t top_logprobs = 0;    // alternatives kept per token
  };

  // KV blocks the beams can hold at once: the prompt's full blocks (shared by every beam, never
  // written again) plus, for each beam, its own blocks from there to prompt + max_tokens. This
  // is what the engine promises a beam request before it starts, so it never runs out.
  static int32_t blocks_needed(int32_t n_prompt, int32_t max_tokens, int32_t num_beams, int32_t block_size);

  // `kv` holds the prompt's blocks (the engine prefills it as beam 0); `sampler` has accepted
  // the prompt. Reserves what the beams may need beyond the blocks `kv` holds; nullptr when the
  // pool cannot promise that many now (the request waits for running ones to finish).
  static std::unique_ptr<BeamSearch> create(Settings settings, model::KvCache kv, int32_t n_prompt,
                                            Sampler sampler);

  size_t n_live() const { return live_.size(); }
  model::KvCache& kv(size_t beam) { return live_[beam].kv; }
  // The token live beam `beam` feeds next (its newest); valid until the next advance().
  const int32_t* pending(size_t beam) const { return &live_[beam].tokens.back(); }

  enum class Status { kRunning, kDone, kOutOfBlocks };
  // One step: logits[i] are live beam i's next-token logits [n_vocab] (beam 0's are the
  // prompt's last logits at the first step). Ranks every continuation by its beam's summed
  // log-probability, keeps the num_beams best as the next live beams (caches forked, the block
  // each writes next made private), and moves ended ones to the finished set. kOutOfBlocks
  // cannot happen while the reservation holds (a bug if it does).
  Status advance(std::span<const float* const> logits, int32_t n_vocab, std::span<const int32_t> eog_ids);

  // The n_results best finished beams, best first; fewer only if fewer ever finished.
  std::vector<BeamResult> results() const;
  // Blocks still promised to this search (for tests and stats).
  int32_t reserved_blocks() const { return reservation_.size(); }

 private:
  struct Beam {
    model::KvCache kv;
    Sampler sampler;               // the beam's own penalty counts
    std::vector<int32_t> tokens;   // generated so far; the newest is pending (not in kv yet)
    int32_t node = -1;             // the newest token's node, -1 before the first
    double sum = 0.0;              // Σ log-probabilities of `tokens`
  };
  // Generated tokens form a tree: each beam's tokens are the path from its node to the root.
  struct Node {
    int32_t parent;
    BeamToken token;
  };
  struct Finished {
    int32_t node;           // its last kept token
    FinishReason finish;
    double sum, score;
  };

  BeamSearch(Settings settings, model::KvCache kv, Sampler sampler, int32_t blocks_needed);
  void add_finished(int32_t node, FinishReason finish, double sum, int32_t length);
  bool search_is_over(int32_t n_generated) const;
  double score(double sum, int32_t length) const;
  void top_up_reservation();

  Settings s_;
  std::vector<Beam> live_;
  std::vector<Node> nodes_;
  std::vector<Finished> finished_;  // the num_beams best so far, best first
  model::KvReservation reservation_;
  int32_t blocks_needed_;
  std::vector<float> lp_;           // scratch: [n_live, n_vocab] log-probabilities
};

}  // namespace shuo::engine

// Single-sequence generation: prefill the prompt in one pass, then decode one token at a time.
// This is the loop behind `shuo generate` and the engine tests; the serving scheduler (issue 6)
// batches many such sequences in one forward call.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "core/result.h"
#include "engine/sampler.h"
#include "model/model.h"

namespace shuo::engine {

struct GenerationStats {
  int32_t n_prompt = 0;
  int32_t n_generated = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;     // time of the decode forwards (after the first token)
  std::string finish_reason;     // "stop" (end-of-generation token or callback), "length"
};

struct GenerationCallbacks {
  std::function<bool(int32_t)> is_end;     // end-of-generation token (not emitted); may be empty
  std::function<bool(int32_t)> on_token;   // each generated token; return false to stop
};

// Runs prompt (≥ 1 token) through `kv` (which must be empty or hold a prefix of it — the
// caller decides; tokens are appended), then samples up to max_tokens tokens.
Result<GenerationStats> generate(model::Model& model, model::KvCache& kv, tensor::ThreadPool& pool,
                                 std::span<const int32_t> prompt, int32_t max_tokens,
                                 Sampler& sampler, const GenerationCallbacks& cb);

}  // namespace shuo::engine

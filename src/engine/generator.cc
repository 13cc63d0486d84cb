// generate(): prefill + decode loop (see generator.h).
#include "engine/generator.h"

#include <chrono>

namespace shuo::engine {

Result<GenerationStats> generate(model::Model& model, model::KvCache& kv, tensor::ThreadPool& pool,
                                 std::span<const int32_t> prompt, int32_t max_tokens,
                                 Sampler& sampler, const GenerationCallbacks& cb) {
  using Clock = std::chrono::steady_clock;
  GenerationStats st;
  st.n_prompt = static_cast<int32_t>(prompt.size());
  if (prompt.empty()) return Error{ErrorCode::kBadField, "prompt", "needs at least one token"};
  if (int64_t(kv.n_past()) + int64_t(prompt.size()) + std::max(0, max_tokens - 1) > kv.capacity())
    return Error{ErrorCode::kLimit, "context",
                 "prompt (" + std::to_string(prompt.size()) + " tokens) + max_tokens (" + std::to_string(max_tokens) +
                     ") exceeds the context size " + std::to_string(kv.capacity())};
  for (int32_t t : prompt) sampler.accept(t);

  const int32_t V = model.config().n_vocab;
  model::ForwardOutput out;
  std::vector<float> logits(V);
  auto t0 = Clock::now();
  model::SeqChunk chunk{&kv, prompt, false};
  SHUO_TRY(model.forward({&chunk, 1}, out, pool));
  st.prefill_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  st.finish_reason = "length";
  auto t1 = Clock::now();
  for (int32_t i = 0; i < max_tokens; ++i) {
    std::copy(out.row(0, 0, V), out.row(0, 0, V) + V, logits.begin());
    const int32_t tok = sampler.sample(logits);
    if (cb.is_end && cb.is_end(tok)) { st.finish_reason = "stop"; break; }
    sampler.accept(tok);
    ++st.n_generated;
    if (cb.on_token && !cb.on_token(tok)) { st.finish_reason = "stop"; break; }
    if (i + 1 == max_tokens) break;  // no forward for a token nobody will sample after
    model::SeqChunk step{&kv, {&tok, 1}, false};
    SHUO_TRY(model.forward({&step, 1}, out, pool));
  }
  st.decode_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return st;
}

}  // namespace shuo::engine

// The engine: one thread owns the model, the KV caches and the samplers, and runs steps.
// Each step admits queued requests, builds one batch of sequence chunks — prompt chunks of new
// requests (chunked so that a long prompt does not stall running streams) next to one decode
// token per running sequence — runs one forward, samples, and publishes token events.
// This is continuous batching: a request joins the running batch at the next step.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/result.h"
#include "engine/request.h"
#include "model/model.h"
#include "tensor/thread_pool.h"

namespace shuo::engine {

struct EngineOptions {
  int32_t n_ctx = 2048;            // positions per sequence (prompt + generated) at most; capped
                                   // at the model's max_positions() (learned position tables)
  int32_t max_running = 8;         // sequences decoded together
  int32_t max_queue = 64;          // waiting requests; beyond it submit() fails with kLimit
  int32_t prefill_budget = 512;    // prompt tokens per step, shared by all prefilling sequences
  int32_t threads = 0;             // kernel threads (0 = physical cores)
  int32_t kv_blocks = 0;           // KV pool size in blocks of 16 positions (0: max_running × n_ctx)
  bool prefix_cache = true;        // reuse cached KV blocks of equal prompt prefixes
  // KV cache elements: F16 halves the cache's memory and the bytes attention reads per token
  // (llama.cpp's default too); F32 keeps results bit-comparable with F32 references.
  format::GgmlType kv_type = format::GgmlType::F16;
  std::function<bool(int32_t)> is_eog;  // end-of-generation tokens (tokenizer's); may be empty
};

struct EngineStats {
  int64_t queued = 0;              // waiting for a slot
  int64_t running = 0;             // sequences in the batch (a beam request counts num_beams)
  int64_t prompt_tokens = 0;       // totals since start
  int64_t generated_tokens = 0;
  int64_t steps = 0;
  int64_t kv_bytes = 0;            // KV memory of blocks in use by running sequences
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;      // referenced by running sequences
  int64_t kv_blocks_cached = 0;    // unreferenced, kept for prefix reuse (evictable)
  int64_t kv_blocks_reserved = 0;  // promised to running beam searches, not allocated yet
  int64_t prefix_hit_tokens = 0;   // prompt tokens taken from cached blocks instead of computed
};

class Engine {
 public:
  // `model` must outlive the engine. Starts the engine thread.
  Engine(model::Model& model, EngineOptions opts);
  ~Engine();  // cancels everything still queued or running, then joins
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates and queues a request. on_event runs on the engine thread for every token and once
  // more (or only) with a finish reason; it must be quick and must not call back into the engine.
  // Errors: kBadField (empty prompt, bad sampling field — `where` names it; "num_beams" also
  // when beams exceed min(8, max_running) or the KV pool), kLimit with where "context" (prompt +
  // max_tokens > n_ctx) or "queue" (full: retry later). A beam request (req.beam.num_beams ≥ 1)
  // takes num_beams batch slots and gets no token events, only a last one with its results.
  Result<std::shared_ptr<RequestHandle>> submit(EngineRequest req, TokenEventFn on_event);

  EngineStats stats() const;
  // Forgets the cached (unreferenced) KV blocks at the engine's next step; running sequences
  // are untouched. For the /clear endpoints.
  void clear_cache();
  const EngineOptions& options() const { return opts_; }
  const model::Model& model() const { return model_; }

 private:
  struct Sequence;
  void loop();
  void step(std::vector<std::unique_ptr<Sequence>>& running, const std::vector<int32_t>& eog_ids);
  void finish(Sequence& s, FinishReason why, std::string error = {});
  void emit(Sequence& s, TokenEvent ev);  // into outbox_; the last event takes the callback along
  void deliver();                          // runs the outbox's callbacks, after stats are current
  bool start(Sequence& s);          // blocks for the sequence, reusing a cached prefix
  Result<void> validate_beams(const EngineRequest& req) const;
  void publish_full_blocks(Sequence& s);
  // Hands a beam request's logits rows (one per live beam) to its search; emits its results
  // when the search is over.
  void advance_beams(Sequence& s, std::span<const float* const> rows, const std::vector<int32_t>& eog_ids);

  model::Model& model_;
  EngineOptions opts_;
  tensor::ThreadPool pool_;
  std::shared_ptr<model::KvBlockPool> kv_pool_;  // engine thread only
  struct Outgoing {
    TokenEventFn owned;                  // a finished sequence's callback (it is gone by delivery)
    const TokenEventFn* live = nullptr;  // a running sequence's callback
    TokenEvent event;
  };
  std::vector<Outgoing> outbox_;         // engine thread only

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Sequence>> queue_;
  bool stop_ = false;
  bool clear_requested_ = false;
  uint64_t next_id_ = 1;
  EngineStats stats_;  // guarded by mu_

  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace shuo::engine

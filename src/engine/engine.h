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
  int32_t n_ctx = 2048;            // positions per sequence (prompt + generated) at most
  int32_t max_running = 8;         // sequences decoded together
  int32_t max_queue = 64;          // waiting requests; beyond it submit() fails with kLimit
  int32_t prefill_budget = 512;    // prompt tokens per step, shared by all prefilling sequences
  int32_t threads = 0;             // kernel threads (0 = physical cores)
  std::function<bool(int32_t)> is_eog;  // end-of-generation tokens (tokenizer's); may be empty
};

struct EngineStats {
  int64_t queued = 0;              // waiting for a slot
  int64_t running = 0;             // sequences in the batch
  int64_t prompt_tokens = 0;       // totals since start
  int64_t generated_tokens = 0;
  int64_t steps = 0;
  int64_t kv_bytes = 0;            // KV cache memory held by running sequences
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
  // Errors: kBadField (empty prompt, bad sampling field — `where` names it), kLimit with where
  // "context" (prompt + max_tokens > n_ctx) or "queue" (full: retry later).
  Result<std::shared_ptr<RequestHandle>> submit(EngineRequest req, TokenEventFn on_event);

  EngineStats stats() const;
  const EngineOptions& options() const { return opts_; }
  const model::Model& model() const { return model_; }

 private:
  struct Sequence;
  void loop();
  void step(std::vector<std::unique_ptr<Sequence>>& running, const std::vector<int32_t>& eog_ids);
  void finish(Sequence& s, FinishReason why, std::string error = {});

  model::Model& model_;
  EngineOptions opts_;
  tensor::ThreadPool pool_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Sequence>> queue_;
  bool stop_ = false;
  uint64_t next_id_ = 1;
  EngineStats stats_;  // guarded by mu_

  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace shuo::engine

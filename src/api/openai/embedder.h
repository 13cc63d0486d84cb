// Embeddings for /v1/embeddings: a causal LM's embedding of a text is the mean of its last
// layer's (final-normed) hidden states over the input tokens, L2-normalised.
//
// The engine thread owns its Model; the embedder loads a second Model on the same GGUF file
// (weights are shared through the mapping; only activations are its own) and runs it on its
// own thread with its own kernel pool, so embeddings never stall generation steps.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"
#include "model/model.h"
#include "tensor/thread_pool.h"

namespace shuo::api::openai {

class Embedder {
 public:
  // `file` must outlive the embedder. `max_tokens`: the longest input; `max_queue`: waiting jobs.
  static Result<std::unique_ptr<Embedder>> create(const format::GgufFile& file, int threads,
                                                  int32_t max_tokens, int max_queue);
  ~Embedder();  // finishes the running job, fails the queued ones, joins
  Embedder(const Embedder&) = delete;
  Embedder& operator=(const Embedder&) = delete;

  using Vectors = std::vector<std::vector<float>>;  // [inputs][n_embd]
  using Done = std::function<void(Result<Vectors>)>;

  // Queues one request (several inputs); `done` runs on the embedder's thread. Errors at once:
  // kBadField "input" (empty input, token id out of range), kLimit "context" (an input longer
  // than max_tokens), kLimit "queue" (full).
  Result<void> submit(std::vector<std::vector<int32_t>> inputs, Done done);

  int32_t n_embd() const { return model_->config().n_embd; }

  // The embedding of one token sequence on `model` (used by the worker; exposed for tests).
  static Result<std::vector<float>> embed(model::Model& model, std::span<const int32_t> tokens,
                                          tensor::ThreadPool& pool);

 private:
  Embedder(std::unique_ptr<model::Model> model, int threads, int32_t max_tokens, int max_queue);
  void loop();

  struct Job {
    std::vector<std::vector<int32_t>> inputs;
    Done done;
  };

  std::unique_ptr<model::Model> model_;
  tensor::ThreadPool pool_;
  int32_t max_tokens_;
  int max_queue_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stop_ = false;
  std::thread thread_;  // last
};

}  // namespace shuo::api::openai

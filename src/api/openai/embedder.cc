// Embeddings on a model of their own, on their own thread (see embedder.h).
#include "api/openai/embedder.h"

#include <cmath>

namespace shuo::api::openai {

Result<std::unique_ptr<Embedder>> Embedder::create(const format::GgufFile& file, int threads,
                                                   int32_t max_tokens, int max_queue) {
  SHUO_ASSIGN(auto model, model::load_model(file));
  return std::unique_ptr<Embedder>(new Embedder(std::move(model), threads, max_tokens, max_queue));
}

Embedder::Embedder(std::unique_ptr<model::Model> model, int threads, int32_t max_tokens, int max_queue)
    : model_(std::move(model)),
      pool_(threads > 0 ? threads : tensor::physical_core_count()),
      max_tokens_(max_tokens),
      max_queue_(max_queue) {
  thread_ = std::thread([this] { loop(); });
}

Embedder::~Embedder() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  for (Job& j : queue_) j.done(Error{ErrorCode::kLimit, "engine", "shutting down"});
}

Result<void> Embedder::submit(std::vector<std::vector<int32_t>> inputs, Done done) {
  const int32_t V = model_->config().n_vocab;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string where = inputs.size() == 1 ? "input" : "input[" + std::to_string(i) + "]";
    if (inputs[i].empty()) return Error{ErrorCode::kBadField, where, "has no tokens"};
    if (int64_t(inputs[i].size()) > max_tokens_)
      return Error{ErrorCode::kLimit, "context", where + " has " + std::to_string(inputs[i].size()) +
                                                     " tokens, at most " + std::to_string(max_tokens_) + " fit"};
    for (int32_t t : inputs[i])
      if (t < 0 || t >= V)
        return Error{ErrorCode::kBadField, where, "token id " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(V) + ")"};
  }
  {
    std::lock_guard lock(mu_);
    if (stop_) return Error{ErrorCode::kLimit, "engine", "shutting down"};
    if (int(queue_.size()) >= max_queue_)
      return Error{ErrorCode::kLimit, "queue", "the embedding queue is full (" + std::to_string(max_queue_) + " waiting); retry later"};
    queue_.push_back(Job{std::move(inputs), std::move(done)});
  }
  wake_.notify_one();
  return {};
}

Result<std::vector<float>> Embedder::embed(model::Model& model, std::span<const int32_t> tokens,
                                           tensor::ThreadPool& pool) {
  const int32_t E = model.config().n_embd;
  model::KvCache kv = model.make_cache(int32_t(tokens.size()));
  model::SeqChunk chunk;
  chunk.kv = &kv;
  chunk.tokens = tokens;
  chunk.no_logits = true;
  chunk.hidden = true;
  model::ForwardOutput out;
  SHUO_TRY(model.forward(std::span<const model::SeqChunk>(&chunk, 1), out, pool));
  // Mean over tokens, in double so that long inputs do not lose precision, then L2-normalise.
  std::vector<double> sum(size_t(E), 0.0);
  for (size_t t = 0; t < tokens.size(); ++t) {
    const float* h = out.hidden_row(0, int64_t(t), E);
    for (int32_t i = 0; i < E; ++i) sum[size_t(i)] += h[i];
  }
  double norm = 0.0;
  for (double& v : sum) {
    v /= double(tokens.size());
    norm += v * v;
  }
  norm = std::sqrt(norm);
  std::vector<float> e(static_cast<size_t>(E));
  for (int32_t i = 0; i < E; ++i) e[size_t(i)] = norm > 0 ? float(sum[size_t(i)] / norm) : 0.0f;
  return e;
}

void Embedder::loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Vectors vectors;
    Error error;
    bool ok = true;
    for (const auto& input : job.inputs) {
      auto e = embed(*model_, input, pool_);
      if (!e.ok()) {
        ok = false;
        error = e.error();
        break;
      }
      vectors.push_back(std::move(*e));
    }
    if (ok) job.done(std::move(vectors));
    else job.done(std::move(error));
  }
}

}  // namespace shuo::api::openai

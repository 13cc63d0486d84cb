// Engine: the step loop of continuous batching (see engine.h).
#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shuo::engine {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kNone: return "";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "";
}

struct Engine::Sequence {
  std::shared_ptr<RequestHandle> handle;
  EngineRequest req;
  TokenEventFn on_event;
  std::unique_ptr<model::KvCache> kv;   // allocated when the sequence starts running
  std::unique_ptr<Sampler> sampler;
  int32_t n_prefilled = 0;              // prompt tokens already in the cache
  int32_t n_generated = 0;
  int32_t pending = -1;                 // sampled token not yet fed back through the model
  bool done = false;
};

Engine::Engine(model::Model& model, EngineOptions opts)
    : model_(model),
      opts_(std::move(opts)),
      pool_(opts_.threads > 0 ? opts_.threads : tensor::physical_core_count()) {
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  for (auto& s : queue_) finish(*s, FinishReason::kCancelled);
}

Result<std::shared_ptr<RequestHandle>> Engine::submit(EngineRequest req, TokenEventFn on_event) {
  const int32_t V = model_.config().n_vocab;
  if (req.prompt.empty()) return Error{ErrorCode::kBadField, "prompt", "must contain at least one token"};
  for (int32_t t : req.prompt)
    if (t < 0 || t >= V) return Error{ErrorCode::kBadField, "prompt", "token id " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(V) + ")"};
  if (req.max_tokens < 1) return Error{ErrorCode::kBadField, "max_tokens", "must be ≥ 1, got " + std::to_string(req.max_tokens)};
  if (req.min_tokens < 0 || req.min_tokens > req.max_tokens) return Error{ErrorCode::kBadField, "min_tokens", "must be in [0, max_tokens]"};
  if (req.top_logprobs < 0 || req.top_logprobs > 20) return Error{ErrorCode::kBadField, "top_logprobs", "must be in [0, 20]"};
  SHUO_TRY(validate(req.sampling, V));
  const int64_t need = int64_t(req.prompt.size()) + req.max_tokens;
  if (need > opts_.n_ctx)
    return Error{ErrorCode::kLimit, "context", "this request needs " + std::to_string(need) + " tokens (" + std::to_string(req.prompt.size()) +
                                                   " in the prompt + " + std::to_string(req.max_tokens) + " to generate), the context holds " + std::to_string(opts_.n_ctx)};
  auto s = std::make_unique<Sequence>();
  s->req = std::move(req);
  s->on_event = std::move(on_event);
  std::shared_ptr<RequestHandle> handle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return Error{ErrorCode::kLimit, "engine", "shutting down"};
    if (int64_t(queue_.size()) >= opts_.max_queue)
      return Error{ErrorCode::kLimit, "queue", "the request queue is full (" + std::to_string(opts_.max_queue) + " waiting); retry later"};
    handle = std::make_shared<RequestHandle>(next_id_++);
    s->handle = handle;
    queue_.push_back(std::move(s));
    stats_.queued = int64_t(queue_.size());
  }
  wake_.notify_one();
  return handle;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Engine::finish(Sequence& s, FinishReason why, std::string error) {
  if (s.done) return;
  s.done = true;
  TokenEvent ev;
  ev.finish = why;
  ev.error = std::move(error);
  ev.n_prompt = int32_t(s.req.prompt.size());
  ev.n_generated = s.n_generated;
  if (s.on_event) s.on_event(ev);
}

void Engine::loop() {
  std::vector<std::unique_ptr<Sequence>> running;
  // End-of-generation ids, masked while min_tokens is unmet or ignore_eos is set.
  std::vector<int32_t> eog_ids;
  if (opts_.is_eog)
    for (int32_t id = 0; id < model_.config().n_vocab; ++id)
      if (opts_.is_eog(id)) eog_ids.push_back(id);

  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty() || !running.empty(); });
      if (stop_) break;
      // Admit waiting requests into free slots (FIFO).
      while (int32_t(running.size()) < opts_.max_running && !queue_.empty()) {
        running.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stats_.queued = int64_t(queue_.size());
    }
    for (auto& s : running) {
      if (s->kv) continue;
      s->kv = std::make_unique<model::KvCache>(model_.make_cache(int32_t(s->req.prompt.size()) + s->req.max_tokens));
      s->sampler = std::make_unique<Sampler>(s->req.sampling, model_.config().n_vocab);
      for (int32_t t : s->req.prompt) s->sampler->accept(t);
    }
    step(running, eog_ids);
    int64_t kv = 0;
    for (auto& s : running) kv += int64_t(s->kv->size_bytes());
    std::lock_guard<std::mutex> lock(mu_);
    stats_.running = int64_t(running.size());
    stats_.kv_bytes = kv;
  }
  for (auto& s : running) finish(*s, FinishReason::kCancelled);
}

void Engine::step(std::vector<std::unique_ptr<Sequence>>& running, const std::vector<int32_t>& eog_ids) {
  // Cancelled requests leave before any work is spent on them.
  for (auto& s : running)
    if (s->handle->cancelled()) finish(*s, FinishReason::kCancelled);
  std::erase_if(running, [](const auto& s) { return s->done; });
  if (running.empty()) return;

  // One chunk per sequence: the next piece of its prompt, or its pending token.
  std::vector<model::SeqChunk> chunks;
  std::vector<Sequence*> owners;
  int32_t budget = std::max(1, opts_.prefill_budget);
  int64_t prompt_tokens = 0;
  for (auto& s : running) {
    const int32_t n_prompt = int32_t(s->req.prompt.size());
    if (s->n_prefilled < n_prompt) {
      if (budget == 0) continue;  // waits for the next step
      const int32_t n = std::min(budget, n_prompt - s->n_prefilled);
      budget -= n;
      model::SeqChunk c;
      c.kv = s->kv.get();
      c.tokens = std::span<const int32_t>(s->req.prompt.data() + s->n_prefilled, size_t(n));
      c.no_logits = s->n_prefilled + n < n_prompt;
      s->n_prefilled += n;
      prompt_tokens += n;
      chunks.push_back(c);
    } else {
      model::SeqChunk c;
      c.kv = s->kv.get();
      c.tokens = std::span<const int32_t>(&s->pending, 1);
      chunks.push_back(c);
    }
    owners.push_back(s.get());
  }

  model::ForwardOutput out;
  auto r = model_.forward(chunks, out, pool_);
  if (!r.ok()) {
    for (Sequence* s : owners) finish(*s, FinishReason::kError, r.error().to_string());
    std::erase_if(running, [](const auto& s) { return s->done; });
    return;
  }

  const int32_t V = model_.config().n_vocab;
  std::vector<float> logits(V), logprobs;
  int64_t generated = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].no_logits) continue;
    Sequence& s = *owners[i];
    const float* row = out.row(i, 0, V);
    std::copy(row, row + V, logits.begin());
    if (s.req.ignore_eos || s.n_generated < s.req.min_tokens)
      for (int32_t id : eog_ids) logits[id] = -std::numeric_limits<float>::infinity();
    const int32_t tok = s.sampler->sample(logits);
    if (std::find(eog_ids.begin(), eog_ids.end(), tok) != eog_ids.end()) {
      finish(s, FinishReason::kStop);
      continue;
    }
    s.sampler->accept(tok);
    s.pending = tok;
    ++s.n_generated;
    ++generated;
    TokenEvent ev;
    ev.token = tok;
    if (s.req.want_logprobs || s.req.top_logprobs > 0) {
      logprobs.resize(V);
      Sampler::log_softmax(logits, logprobs);
      ev.logprob = logprobs[tok];
      if (s.req.top_logprobs > 0) ev.top = Sampler::top_n(logprobs, s.req.top_logprobs);
    }
    if (s.n_generated >= s.req.max_tokens) {
      ev.finish = FinishReason::kLength;
      ev.n_prompt = int32_t(s.req.prompt.size());
      ev.n_generated = s.n_generated;
      s.done = true;
    }
    if (s.on_event) s.on_event(ev);
  }
  std::erase_if(running, [](const auto& s) { return s->done; });

  std::lock_guard<std::mutex> lock(mu_);
  stats_.prompt_tokens += prompt_tokens;
  stats_.generated_tokens += generated;
  ++stats_.steps;
}

}  // namespace shuo::engine

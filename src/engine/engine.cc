// Engine: the step loop of continuous batching (see engine.h).
#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "engine/beam_search.h"

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
  std::unique_ptr<model::KvCache> kv;   // allocated when the sequence starts running (not for beams)
  std::unique_ptr<BeamSearch> beams;    // beam search: owns the caches of its live beams
  std::unique_ptr<Sampler> sampler;
  int32_t n_prefilled = 0;              // prompt tokens already in the cache
  int32_t n_generated = 0;
  int32_t pending = -1;                 // sampled token not yet fed back through the model
  bool done = false;
  std::vector<int32_t> history;         // every token fed so far: prompt, then generated
  int32_t n_published = 0;              // full blocks published for prefix reuse
  uint64_t last_hash = 0;               // chain hash up to the last published block

  // Batch slots taken: a beam request holds one per beam from the start, so that its beams
  // never wait for room once it runs.
  int32_t slots() const { return req.beam.num_beams > 0 ? req.beam.num_beams : 1; }
  // The cache the prompt is prefilled into.
  model::KvCache& prompt_cache() { return beams ? beams->kv(0) : *kv; }
};

Engine::Engine(model::Model& model, EngineOptions opts)
    : model_(model),
      opts_(std::move(opts)),
      pool_(opts_.threads > 0 ? opts_.threads : tensor::physical_core_count()) {
  // No sequence may outgrow a learned position table (gpt2): requests past it are refused at
  // submit like any other context overflow instead of failing mid-generation.
  opts_.n_ctx = std::min(opts_.n_ctx, model_.config().max_positions());
  const int32_t bs = model::KvBlockPool::kDefaultBlockSize;
  const int32_t per_seq = (opts_.n_ctx + bs - 1) / bs;
  // At least one full-context sequence must fit, or a valid request could wait forever.
  const int32_t n_blocks = std::max(opts_.kv_blocks > 0 ? opts_.kv_blocks : per_seq * std::max(1, opts_.max_running), per_seq);
  kv_pool_ = model_.make_block_pool(n_blocks, bs, opts_.kv_type);
  stats_.kv_blocks_total = n_blocks;
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
  deliver();
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
  if (req.beam.num_beams != 0) SHUO_TRY(validate_beams(req));
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

Result<void> Engine::validate_beams(const EngineRequest& req) const {
  const BeamParams& b = req.beam;
  const int32_t limit = std::min(BeamParams::kMaxBeams, opts_.max_running);
  if (b.num_beams < 0 || b.num_beams > limit)
    return Error{ErrorCode::kBadField, "num_beams", "must be in [1, " + std::to_string(limit) + "] (at most " + std::to_string(BeamParams::kMaxBeams) +
                                                        " and at most the sequences this server runs together), got " + std::to_string(b.num_beams)};
  if (b.n_results < 1 || b.n_results > b.num_beams)
    return Error{ErrorCode::kBadField, "n", "must be in [1, num_beams = " + std::to_string(b.num_beams) + "] with beam search, got " + std::to_string(b.n_results)};
  if (!std::isfinite(b.length_penalty)) return Error{ErrorCode::kBadField, "length_penalty", "must be a finite number"};
  const int32_t need = BeamSearch::blocks_needed(int32_t(req.prompt.size()), req.max_tokens, b.num_beams, kv_pool_->block_size());
  if (need > kv_pool_->n_blocks())
    return Error{ErrorCode::kBadField, "num_beams", std::to_string(b.num_beams) + " beams of " + std::to_string(req.max_tokens) + " tokens need " + std::to_string(need) +
                                                        " KV blocks, the cache has " + std::to_string(kv_pool_->n_blocks()) + "; use fewer beams or a smaller max_tokens"};
  return {};
}

void Engine::clear_cache() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    clear_requested_ = true;
  }
  wake_.notify_one();
}

bool Engine::start(Sequence& s) {
  const auto& prompt = s.req.prompt;
  auto kv = std::make_unique<model::KvCache>(kv_pool_);
  const int32_t bs = kv_pool_->block_size();
  uint64_t hash = 0;
  int32_t matched = 0;
  std::vector<uint64_t> hashes;
  if (opts_.prefix_cache) {
    while (matched + bs <= int32_t(prompt.size())) {
      std::span<const int32_t> toks(prompt.data() + matched, size_t(bs));
      const uint64_t h = model::KvBlockPool::chain_hash(hash, toks);
      auto b = kv_pool_->lookup(h, toks);
      if (!b) break;
      kv->append_shared(*b);
      hashes.push_back(h);
      hash = h;
      matched += bs;
    }
    // The last prompt token must go through the model to give the first logits.
    if (matched > 0 && matched == int32_t(prompt.size())) {
      kv->pop_block();
      hashes.pop_back();
      matched -= bs;
      hash = hashes.empty() ? 0 : hashes.back();
    }
  }
  // A beam request's cache holds the prompt; its beams grow on demand from a reservation.
  const int32_t positions = int32_t(prompt.size()) + (s.req.beam.num_beams > 0 ? 0 : s.req.max_tokens);
  if (!kv->reserve(positions)) return false;  // pool full: wait
  kv->set_n_past(matched);
  auto sampler = std::make_unique<Sampler>(s.req.sampling, model_.config().n_vocab);
  for (int32_t t : prompt) sampler->accept(t);
  if (s.req.beam.num_beams > 0) {
    BeamSearch::Settings bs_settings{s.req.beam, s.req.max_tokens, s.req.min_tokens, s.req.ignore_eos,
                                     s.req.want_logprobs, s.req.top_logprobs};
    s.beams = BeamSearch::create(std::move(bs_settings), std::move(*kv), int32_t(prompt.size()), *sampler);
    if (!s.beams) return false;  // its blocks cannot be promised yet: wait
  } else {
    s.kv = std::move(kv);
    s.sampler = std::move(sampler);
  }
  s.n_prefilled = matched;
  s.n_published = matched / bs;
  s.last_hash = hash;
  s.history = prompt;
  std::lock_guard<std::mutex> lock(mu_);
  stats_.prefix_hit_tokens += matched;
  return true;
}

void Engine::publish_full_blocks(Sequence& s) {
  if (!opts_.prefix_cache) return;
  const int32_t bs = kv_pool_->block_size();
  // Beams publish only their shared prompt blocks (history holds just the prompt for them).
  model::KvCache& kv = s.prompt_cache();
  const int32_t filled = std::min(kv.n_past(), int32_t(s.history.size()));
  while ((s.n_published + 1) * bs <= filled) {
    std::span<const int32_t> toks(s.history.data() + int64_t(s.n_published) * bs, size_t(bs));
    s.last_hash = model::KvBlockPool::chain_hash(s.last_hash, toks);
    kv_pool_->publish(kv.blocks()[s.n_published], s.last_hash, toks);
    ++s.n_published;
  }
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Engine::emit(Sequence& s, TokenEvent ev) {
  if (!s.on_event) return;
  Outgoing o;
  if (ev.finish != FinishReason::kNone) o.owned = std::move(s.on_event);
  else o.live = &s.on_event;
  o.event = std::move(ev);
  outbox_.push_back(std::move(o));
}

void Engine::deliver() {
  for (auto& o : outbox_) {
    if (o.live) (*o.live)(o.event);
    else o.owned(o.event);
  }
  outbox_.clear();
}

void Engine::finish(Sequence& s, FinishReason why, std::string error) {
  if (s.done) return;
  s.done = true;
  TokenEvent ev;
  ev.finish = why;
  ev.error = std::move(error);
  ev.n_prompt = int32_t(s.req.prompt.size());
  ev.n_generated = s.n_generated;
  emit(s, std::move(ev));
}

void Engine::advance_beams(Sequence& s, std::span<const float* const> rows, const std::vector<int32_t>& eog_ids) {
  s.n_generated += int32_t(rows.size());
  switch (s.beams->advance(rows, model_.config().n_vocab, eog_ids)) {
    case BeamSearch::Status::kRunning:
      return;
    case BeamSearch::Status::kOutOfBlocks:
      // The reservation makes this unreachable; failing the request beats corrupting a cache.
      finish(s, FinishReason::kError, "beam search ran out of KV blocks");
      return;
    case BeamSearch::Status::kDone:
      break;
  }
  s.done = true;
  TokenEvent ev;
  ev.beams = s.beams->results();
  ev.finish = ev.beams.empty() ? FinishReason::kStop : ev.beams.front().finish;
  ev.n_prompt = int32_t(s.req.prompt.size());
  for (const BeamResult& b : ev.beams) ev.n_generated += int32_t(b.tokens.size());
  s.beams.reset();  // every beam's blocks and the reservation go back now, before the stats
  emit(s, std::move(ev));
}

void Engine::loop() {
  std::vector<std::unique_ptr<Sequence>> running;
  // End-of-generation ids, masked while min_tokens is unmet or ignore_eos is set.
  std::vector<int32_t> eog_ids;
  if (opts_.is_eog)
    for (int32_t id = 0; id < model_.config().n_vocab; ++id)
      if (opts_.is_eog(id)) eog_ids.push_back(id);

  for (;;) {
    std::vector<std::unique_ptr<Sequence>> admitted;
    bool clear = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || clear_requested_ || !queue_.empty() || !running.empty(); });
      if (stop_) break;
      clear = std::exchange(clear_requested_, false);
      // Take waiting requests for the free slots (FIFO); they start below, outside the lock.
      int32_t used = 0;
      for (const auto& s : running) used += s->slots();
      while (!queue_.empty() && used + queue_.front()->slots() <= opts_.max_running) {
        used += queue_.front()->slots();
        admitted.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (clear) kv_pool_->drop_cached();
    for (size_t i = 0; i < admitted.size(); ++i) {
      if (admitted[i]->handle->cancelled()) {
        finish(*admitted[i], FinishReason::kCancelled);
        continue;
      }
      if (!start(*admitted[i])) {
        // Not enough free KV blocks now: this and the later ones wait at the queue's front.
        std::lock_guard<std::mutex> lock(mu_);
        for (size_t j = admitted.size(); j-- > i;) queue_.push_front(std::move(admitted[j]));
        admitted.resize(i);
        break;
      }
      running.push_back(std::move(admitted[i]));
    }
    step(running, eog_ids);
    std::erase_if(running, [](const auto& s) { return s->done; });  // frees their blocks
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.queued = int64_t(queue_.size());
      stats_.running = 0;
      for (const auto& s : running) stats_.running += s->slots();
      stats_.kv_blocks_used = kv_pool_->n_in_use();
      stats_.kv_blocks_reserved = kv_pool_->n_reserved();
      stats_.kv_blocks_cached = kv_pool_->n_cached();
      stats_.kv_bytes = int64_t(kv_pool_->n_in_use()) * int64_t(kv_pool_->block_bytes());
    }
    deliver();  // clients see a finish only once the stats show it
  }
  for (auto& s : running) finish(*s, FinishReason::kCancelled);
  deliver();
}

void Engine::step(std::vector<std::unique_ptr<Sequence>>& running, const std::vector<int32_t>& eog_ids) {
  // Cancelled requests leave before any work is spent on them.
  for (auto& s : running)
    if (s->handle->cancelled()) finish(*s, FinishReason::kCancelled);
  std::erase_if(running, [](const auto& s) { return s->done; });
  if (running.empty()) return;

  // One chunk per sequence: the next piece of its prompt, or its pending token (one per live
  // beam of a beam request).
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
      c.kv = &s->prompt_cache();
      c.tokens = std::span<const int32_t>(s->req.prompt.data() + s->n_prefilled, size_t(n));
      c.no_logits = s->n_prefilled + n < n_prompt;
      s->n_prefilled += n;
      prompt_tokens += n;
      chunks.push_back(c);
      owners.push_back(s.get());
    } else if (s->beams) {
      for (size_t b = 0; b < s->beams->n_live(); ++b) {
        model::SeqChunk c;
        c.kv = &s->beams->kv(b);
        c.tokens = std::span<const int32_t>(s->beams->pending(b), 1);
        chunks.push_back(c);
        owners.push_back(s.get());
      }
    } else {
      model::SeqChunk c;
      c.kv = s->kv.get();
      s->history.push_back(s->pending);
      c.tokens = std::span<const int32_t>(&s->history.back(), 1);
      chunks.push_back(c);
      owners.push_back(s.get());
    }
  }

  model::ForwardOutput out;
  auto r = model_.forward(chunks, out, pool_);
  if (!r.ok()) {
    for (Sequence* s : owners) finish(*s, FinishReason::kError, r.error().to_string());
    return;
  }

  for (size_t i = 0; i < owners.size(); ++i)
    if (i == 0 || owners[i] != owners[i - 1]) publish_full_blocks(*owners[i]);
  const int32_t V = model_.config().n_vocab;
  std::vector<float> logits(V), logprobs;
  int64_t generated = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].no_logits) continue;
    Sequence& s = *owners[i];
    if (s.beams) {
      // A beam request's chunks are adjacent: one logits row per live beam.
      std::vector<const float*> rows;
      for (; i < chunks.size() && owners[i] == &s; ++i) rows.push_back(out.row(i, 0, V));
      --i;
      generated += int64_t(rows.size());
      advance_beams(s, rows, eog_ids);
      continue;
    }
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
    emit(s, std::move(ev));
  }

  std::lock_guard<std::mutex> lock(mu_);
  stats_.prompt_tokens += prompt_tokens;
  stats_.generated_tokens += generated;
  ++stats_.steps;
}

}  // namespace shuo::engine

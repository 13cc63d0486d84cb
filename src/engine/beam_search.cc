// BeamSearch: candidate ranking, the finished set and the forking of beam caches (see
// beam_search.h). The rules follow Hugging Face's BeamSearchScorer, so results can be compared.
#include "engine/beam_search.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace shuo::engine {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
}

int32_t BeamSearch::blocks_needed(int32_t n_prompt, int32_t max_tokens, int32_t num_beams, int32_t block_size) {
  const int32_t shared = n_prompt / block_size;
  const int32_t total = int32_t((int64_t(n_prompt) + max_tokens + block_size - 1) / block_size);
  return shared + num_beams * (total - shared);
}

BeamSearch::BeamSearch(Settings settings, model::KvCache kv, Sampler sampler, int32_t blocks_needed)
    : s_(std::move(settings)), reservation_(kv.shared_pool()), blocks_needed_(blocks_needed) {
  live_.push_back(Beam{std::move(kv), std::move(sampler), {}, -1, 0.0});
}

std::unique_ptr<BeamSearch> BeamSearch::create(Settings settings, model::KvCache kv, int32_t n_prompt,
                                               Sampler sampler) {
  const int32_t need = blocks_needed(n_prompt, settings.max_tokens, settings.params.num_beams, kv.block_size());
  const int32_t held = int32_t(kv.blocks().size());
  std::unique_ptr<BeamSearch> search(new BeamSearch(std::move(settings), std::move(kv), std::move(sampler), need));
  if (!search->reservation_.resize(std::max(0, need - held))) return nullptr;
  return search;
}

double BeamSearch::score(double sum, int32_t length) const {
  return sum / std::pow(double(std::max(1, length)), double(s_.params.length_penalty));
}

void BeamSearch::add_finished(int32_t node, FinishReason finish, double sum, int32_t length) {
  const size_t keep = size_t(s_.params.num_beams);
  const double sc = score(sum, length);
  if (finished_.size() >= keep && sc <= finished_.back().score) return;
  // After the equal ones: at equal scores the beam that finished first ranks first.
  auto at = std::upper_bound(finished_.begin(), finished_.end(), sc,
                             [](double v, const Finished& f) { return v > f.score; });
  finished_.insert(at, Finished{node, finish, sum, sc});
  if (finished_.size() > keep) finished_.pop_back();
}

bool BeamSearch::search_is_over(int32_t n_generated) const {
  if (finished_.size() < size_t(s_.params.num_beams)) return false;
  double best = -std::numeric_limits<double>::infinity();
  for (const Beam& b : live_) best = std::max(best, b.sum);
  double attainable = 0.0;
  switch (s_.params.early_stopping) {
    case EarlyStopping::kFirst:
      return true;
    case EarlyStopping::kHeuristic:
      // Hugging Face's default: the best live beam as if it ended now.
      attainable = score(best, n_generated);
      break;
    case EarlyStopping::kNever:
      // Sums only fall as beams grow; with length_penalty > 0 the longest reply scores best.
      attainable = score(best, s_.params.length_penalty > 0.0f ? s_.max_tokens : n_generated);
      break;
  }
  return finished_.back().score >= attainable;
}

void BeamSearch::top_up_reservation() {
  // Beams just dropped returned their private blocks to the pool; promise them again so that the
  // search can always grow to blocks_needed_ distinct blocks.
  std::vector<int32_t> held;
  for (const Beam& b : live_) held.insert(held.end(), b.kv.blocks().begin(), b.kv.blocks().end());
  std::sort(held.begin(), held.end());
  held.erase(std::unique(held.begin(), held.end()), held.end());
  const int32_t want = std::max(0, blocks_needed_ - int32_t(held.size()));
  if (!reservation_.resize(want) && !live_.empty())
    reservation_.resize(std::min(want, reservation_.size() + std::max(0, live_[0].kv.pool().n_available())));
}

BeamSearch::Status BeamSearch::advance(std::span<const float* const> logits, int32_t n_vocab,
                                       std::span<const int32_t> eog_ids) {
  assert(logits.size() == live_.size());
  const int32_t B = s_.params.num_beams;
  const size_t V = size_t(n_vocab);
  auto is_eog = [&](int32_t t) { return std::find(eog_ids.begin(), eog_ids.end(), t) != eog_ids.end(); };

  // Each live beam's log-probabilities under its own bias and penalties; its 2B best tokens are
  // enough: at most B of all candidates end a beam, so B others always continue.
  struct Candidate {
    double sum;
    int32_t beam, token;
  };
  std::vector<Candidate> cands;
  lp_.resize(live_.size() * V);
  std::vector<float> adjusted(V);
  for (size_t i = 0; i < live_.size(); ++i) {
    std::copy(logits[i], logits[i] + V, adjusted.begin());
    live_[i].sampler.adjust(adjusted);
    if (s_.ignore_eos || int32_t(live_[i].tokens.size()) < s_.min_tokens)
      for (int32_t id : eog_ids)
        if (id >= 0 && size_t(id) < V) adjusted[id] = kNegInf;
    std::span<float> lp(lp_.data() + i * V, V);
    Sampler::log_softmax(adjusted, lp);
    for (const auto& [tok, v] : Sampler::top_n(lp, 2 * B))
      if (v > kNegInf) cands.push_back({live_[i].sum + double(v), int32_t(i), tok});
  }
  std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    if (a.sum != b.sum) return a.sum > b.sum;
    return a.beam != b.beam ? a.beam < b.beam : a.token < b.token;
  });

  auto new_node = [&](int32_t beam, int32_t token) {
    const float* lp = lp_.data() + size_t(beam) * V;
    Node n{live_[beam].node, BeamToken{token, lp[token], {}}};
    if (s_.top_logprobs > 0) n.token.top = Sampler::top_n(std::span<const float>(lp, V), s_.top_logprobs);
    nodes_.push_back(std::move(n));
    return int32_t(nodes_.size() - 1);
  };

  // Best first: a continuation that ends (end token, stop string) becomes a finished beam if it
  // ranks among the B best, as in Hugging Face; the others fill the B live slots.
  struct Choice {
    int32_t parent, token;
    double sum;
  };
  std::vector<Choice> chosen;
  for (size_t rank = 0; rank < cands.size() && chosen.size() < size_t(B); ++rank) {
    const Candidate& c = cands[rank];
    Beam& parent = live_[c.beam];
    const int32_t length = int32_t(parent.tokens.size()) + 1;
    if (is_eog(c.token)) {
      if (rank < size_t(B)) add_finished(parent.node, FinishReason::kStop, c.sum, length);
      continue;
    }
    if (s_.params.is_stopped) {
      parent.tokens.push_back(c.token);  // (its pending pointer is not needed any more)
      const bool stopped = s_.params.is_stopped(parent.tokens);
      parent.tokens.pop_back();
      if (stopped) {
        if (rank < size_t(B)) add_finished(new_node(c.beam, c.token), FinishReason::kStop, c.sum, length);
        continue;
      }
    }
    chosen.push_back({c.beam, c.token, c.sum});
  }

  // The next live beams. A parent's last chosen child takes its cache and sampler over; earlier
  // children fork them (blocks shared, nothing copied until a write).
  std::vector<int32_t> last_child(live_.size(), -1);
  for (size_t j = 0; j < chosen.size(); ++j) last_child[chosen[j].parent] = int32_t(j);
  std::vector<Beam> next;
  next.reserve(chosen.size());
  for (size_t j = 0; j < chosen.size(); ++j) {
    const Choice& c = chosen[j];
    const int32_t node = new_node(c.parent, c.token);
    Beam& p = live_[c.parent];
    if (last_child[c.parent] == int32_t(j))
      next.push_back(Beam{std::move(p.kv), std::move(p.sampler), std::move(p.tokens), node, c.sum});
    else
      next.push_back(Beam{p.kv.fork(), p.sampler, p.tokens, node, c.sum});
    next.back().tokens.push_back(c.token);
    next.back().sampler.accept(c.token);
  }
  live_ = std::move(next);  // beams that were not continued release their blocks here

  if (live_.empty()) return Status::kDone;
  const int32_t n_generated = int32_t(live_[0].tokens.size());
  if (n_generated >= s_.max_tokens) {
    for (const Beam& b : live_) add_finished(b.node, FinishReason::kLength, b.sum, n_generated);
    live_.clear();
    return Status::kDone;
  }
  if (search_is_over(n_generated)) {
    live_.clear();
    return Status::kDone;
  }
  top_up_reservation();
  for (Beam& b : live_)
    if (!b.kv.prepare_append(1, &reservation_)) return Status::kOutOfBlocks;
  return Status::kRunning;
}

std::vector<BeamResult> BeamSearch::results() const {
  std::vector<BeamResult> out;
  const size_t n = std::min(finished_.size(), size_t(s_.params.n_results));
  for (size_t i = 0; i < n; ++i) {
    const Finished& f = finished_[i];
    BeamResult r;
    r.finish = f.finish;
    r.sum_logprob = f.sum;
    r.score = f.score;
    for (int32_t node = f.node; node >= 0; node = nodes_[node].parent) r.tokens.push_back(nodes_[node].token);
    std::reverse(r.tokens.begin(), r.tokens.end());
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace shuo::engine

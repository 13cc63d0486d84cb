// Sampler: biases, penalties, greedy / top-k / temperature / top-p / min-p, and the draw.
#include "engine/sampler.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace shuo::engine {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Shortest round-trip form of the value's own type, so messages echo what the client sent
// ("0.1", not "0.100000" or the float widened to double, "0.10000000149011612").
template <typename T>
std::string num(T v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

Error bad(std::string field, std::string message) {
  return make_error(ErrorCode::kBadField, std::move(field), std::move(message));
}

// NaN comparisons break the strict weak ordering that heaps and sorts rely on.
float key(float v) { return std::isnan(v) ? kNegInf : v; }

}  // namespace

Result<void> validate(const SamplingParams& p, int32_t n_vocab) {
  if (n_vocab <= 0)
    return make_error(ErrorCode::kInternal, "n_vocab", "must be > 0, got " + num(n_vocab));
  if (!(p.temperature >= 0.0f && p.temperature <= 2.0f))
    return bad("temperature", "must be in [0, 2], got " + num(p.temperature));
  if (p.top_k < 0) return bad("top_k", "must be >= 0 (0 = off), got " + num(p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
    return bad("top_p", "must be in (0, 1], got " + num(p.top_p));
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f))
    return bad("min_p", "must be in [0, 1], got " + num(p.min_p));
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    return bad("repetition_penalty", "must be > 0, got " + num(p.repetition_penalty));
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f))
    return bad("presence_penalty", "must be in [-2, 2], got " + num(p.presence_penalty));
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f))
    return bad("frequency_penalty", "must be in [-2, 2], got " + num(p.frequency_penalty));
  if (p.penalty_last_n < -1)
    return bad("penalty_last_n", "must be >= -1 (-1 = whole context), got " + num(p.penalty_last_n));
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= n_vocab)
      return bad("logit_bias",
                 "token id " + num(id) + " out of range [0, " + num(n_vocab) + ")");
    if (!(bias >= -100.0f && bias <= 100.0f))
      return bad("logit_bias",
                 "bias for token " + num(id) + " must be in [-100, 100], got " + num(bias));
  }
  return {};
}

Sampler::Sampler(SamplingParams p, int32_t n_vocab) : params_(std::move(p)), n_vocab_(n_vocab) {
  assert(validate(params_, n_vocab_).ok());
  if (params_.has_seed) {
    rng_.seed(params_.seed);
  } else {
    std::random_device rd;  // 32 bits per call; use two so the whole 64-bit seed space is reachable
    rng_.seed((uint64_t{rd()} << 32) ^ rd());
  }
}

void Sampler::accept(int32_t token) {
  if (token < 0 || token >= n_vocab_ || params_.penalty_last_n == 0) return;
  ++counts_[token];
  if (params_.penalty_last_n > 0) {
    window_.push_back(token);
    if (window_.size() > static_cast<size_t>(params_.penalty_last_n)) {
      const int32_t old = window_.front();
      window_.pop_front();
      if (--counts_[old] == 0) counts_.erase(old);
    }
  }
}

void Sampler::apply_penalties(std::span<float> logits) const {
  const float rep = params_.repetition_penalty;
  const float presence = params_.presence_penalty;
  const float frequency = params_.frequency_penalty;
  if (rep == 1.0f && presence == 0.0f && frequency == 0.0f) return;
  for (const auto& [id, count] : counts_) {
    if (static_cast<size_t>(id) >= logits.size()) continue;
    float l = logits[id];
    if (rep != 1.0f) l = l > 0.0f ? l / rep : l * rep;
    l -= presence + frequency * static_cast<float>(count);
    logits[id] = l;
  }
}

void Sampler::adjust(std::span<float> logits) const {
  for (const auto& [id, bias] : params_.logit_bias)
    if (static_cast<size_t>(id) < logits.size()) logits[id] += bias;
  apply_penalties(logits);
  for (float& v : logits)
    if (std::isnan(v)) v = kNegInf;
}

int32_t Sampler::sample(std::span<float> logits) {
  assert(!logits.empty());
  adjust(logits);

  // The argmax: the first maximum is the lowest id.
  int32_t best = 0;
  float best_logit = kNegInf;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float v = logits[i];
    if (v > best_logit) {
      best_logit = v;
      best = static_cast<int32_t>(i);
    }
  }
  if (params_.temperature == 0.0f || best_logit == kNegInf) return best;
  return draw(logits, best_logit);
}

// Ranking used by every filter: larger logit first, ties → lower id.
bool Sampler::better(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

void Sampler::keep_top_k(std::span<const float> logits, size_t k) {
  // Bounded heap whose front is the worst of the k kept so far. Ids arrive in increasing order,
  // so a newcomer beats the front only with a strictly larger logit: one compare for most tokens.
  cand_.clear();
  for (size_t i = 0; i < logits.size(); ++i) {
    const Candidate c{static_cast<int32_t>(i), logits[i], 0.0f};
    if (cand_.size() < k) {
      cand_.push_back(c);
      std::push_heap(cand_.begin(), cand_.end(), better);
    } else if (c.logit > cand_.front().logit) {
      std::pop_heap(cand_.begin(), cand_.end(), better);
      cand_.back() = c;
      std::push_heap(cand_.begin(), cand_.end(), better);
    }
  }
  std::sort(cand_.begin(), cand_.end(), better);
}

size_t Sampler::keep_nucleus(double total_weight) {
  // Sorting every candidate would cost O(V log V). Instead bucket the weights by their float bit
  // pattern (monotone in the value for positive floats; 8 buckets per power of two), find the
  // bucket where the cumulative mass reaches top_p, and sort only the candidates up to it.
  constexpr int kBins = 256;              // 32 octaves; weights below 2^-32 share the last bin
  constexpr uint32_t kOneKey = 0x3F8u;    // bit_cast<uint32_t>(1.0f) >> 20
  auto bin_of = [](float w) {
    const uint32_t key = std::bit_cast<uint32_t>(w) >> 20;
    return static_cast<int>(std::min<uint32_t>(kOneKey - key, kBins - 1));
  };
  std::array<double, kBins> mass{};
  for (const Candidate& c : cand_) mass[bin_of(c.weight)] += c.weight;

  const double target = double{params_.top_p} * total_weight;
  int last = kBins - 1;
  double cum = 0.0;
  for (int b = 0; b < kBins; ++b) {
    cum += mass[b];
    // The slack covers summation-order rounding, so the exact walk below ends inside `last`.
    if (cum >= target * (1.0 + 1e-9)) {
      last = b;
      break;
    }
  }
  const auto head = std::partition(cand_.begin(), cand_.end(),
                                   [&](const Candidate& c) { return bin_of(c.weight) <= last; });
  std::sort(cand_.begin(), head, better);

  const size_t n = static_cast<size_t>(head - cand_.begin());
  cum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (cum >= target) return i;  // the mass before i already reaches top_p
    cum += cand_[i].weight;
  }
  return n;
}

int32_t Sampler::draw(std::span<const float> logits, float max_logit) {
  const size_t k = static_cast<size_t>(params_.top_k);
  if (k > 0 && k < logits.size()) {
    keep_top_k(logits, k);
  } else {
    cand_.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i)
      cand_[i] = Candidate{static_cast<int32_t>(i), logits[i], 0.0f};
  }

  // Relative to the best logit (a survivor of every filter): exp stays in range, w_max = 1 and
  // p = w / sum(w). Sums are double so that 152k small terms do not lose the tail.
  const float inv_t = 1.0f / params_.temperature;
  double total = 0.0;
  for (Candidate& c : cand_) {
    c.weight = std::exp((c.logit - max_logit) * inv_t);
    total += c.weight;
  }

  if (params_.top_p < 1.0f) cand_.resize(keep_nucleus(total));
  if (params_.min_p > 0.0f) {
    // p_i >= min_p * p_max  <=>  w_i >= min_p, because w_max = 1.
    std::erase_if(cand_, [&](const Candidate& c) { return c.weight < params_.min_p; });
  }

  double sum = 0.0;
  for (const Candidate& c : cand_) sum += c.weight;
  // 53 random bits → u in [0, 1). Done by hand because std::uniform_real_distribution's output
  // is not specified bit-for-bit, and seeded runs must repeat across standard libraries.
  const double r = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * sum;
  double cum = 0.0;
  int32_t last_positive = cand_.front().id;
  for (const Candidate& c : cand_) {
    if (c.weight <= 0.0f) continue;  // never pick a zero-probability token
    last_positive = c.id;
    cum += c.weight;
    if (r < cum) return c.id;
  }
  return last_positive;  // rounding left r just past the final sum
}

void Sampler::log_softmax(std::span<const float> logits, std::span<float> out) {
  assert(out.size() == logits.size());
  double m = kNegInf;
  for (float v : logits) m = std::max<double>(m, key(v));
  if (m == kNegInf) {  // nothing is possible; keep every entry -inf rather than NaN
    std::fill(out.begin(), out.end(), kNegInf);
    return;
  }
  double sum = 0.0;
  for (float v : logits) sum += std::exp(double{key(v)} - m);
  const double lse = m + std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i)
    out[i] = static_cast<float>(double{key(logits[i])} - lse);
}

std::vector<std::pair<int32_t, float>> Sampler::top_n(std::span<const float> logits, int n) {
  if (n <= 0) return {};
  const size_t count = std::min(static_cast<size_t>(n), logits.size());
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + count, ids.end(), [&](int32_t a, int32_t b) {
    const float ka = key(logits[a]), kb = key(logits[b]);
    return ka > kb || (ka == kb && a < b);
  });
  std::vector<std::pair<int32_t, float>> result;
  result.reserve(count);
  for (size_t i = 0; i < count; ++i) result.emplace_back(ids[i], logits[ids[i]]);
  return result;
}

}  // namespace shuo::engine

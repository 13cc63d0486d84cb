// Sampler tests: exact support of each filter, penalty arithmetic, seeding, validation, and the
// sampled distribution against softmax(logits / T) within a computed statistical bound.
#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace shuo::engine {
namespace {

SamplingParams seeded(uint64_t seed = 42) {
  SamplingParams p;
  p.seed = seed;
  p.has_seed = true;
  return p;
}

// Draws `n` tokens, each from a fresh copy of `logits` (sample() writes into them).
std::vector<int32_t> draws(Sampler& s, const std::vector<float>& logits, int n) {
  std::vector<int32_t> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    std::vector<float> scratch = logits;
    out.push_back(s.sample(scratch));
  }
  return out;
}

std::set<int32_t> support(const std::vector<int32_t>& tokens) {
  return {tokens.begin(), tokens.end()};
}

std::vector<float> log_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

// Plain reference: softmax(logits[keep] / t) over the kept ids, zero elsewhere.
std::vector<double> softmax_ref(const std::vector<float>& logits, double t,
                                const std::vector<int32_t>& keep) {
  std::vector<double> p(logits.size(), 0.0);
  double m = -INFINITY, z = 0.0;
  for (int32_t i : keep) m = std::max(m, double{logits[i]});
  for (int32_t i : keep) z += p[i] = std::exp((logits[i] - m) / t);
  for (double& v : p) v /= z;
  return p;
}

// Each bin's count must lie within 5 standard deviations of its binomial mean (+1 for
// discreteness). With k bins the chance that a correct sampler fails is below k * 5.7e-7.
void expect_matches(const std::vector<int32_t>& tokens, const std::vector<double>& p) {
  const double n = static_cast<double>(tokens.size());
  std::vector<double> count(p.size(), 0.0);
  for (int32_t t : tokens) count.at(t) += 1.0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double mean = n * p[i];
    const double sigma = std::sqrt(n * p[i] * (1.0 - p[i]));
    EXPECT_LE(std::abs(count[i] - mean), 5.0 * sigma + 1.0)
        << "id " << i << ": expected " << mean << " ± " << 5.0 * sigma << ", got " << count[i];
  }
}

// ---- greedy ----

TEST(SamplerGreedy, PicksArgmax) {
  SamplingParams p = seeded();
  p.temperature = 0.0f;
  Sampler s(p, 5);
  std::vector<float> l = {0.1f, -3.0f, 7.5f, 7.4f, 2.0f};
  EXPECT_EQ(s.sample(l), 2);
}

TEST(SamplerGreedy, TiesGoToLowestId) {
  SamplingParams p = seeded();
  p.temperature = 0.0f;
  Sampler s(p, 5);
  std::vector<float> l = {1.0f, 3.0f, 2.0f, 3.0f, 3.0f};
  EXPECT_EQ(s.sample(l), 1);
}

TEST(SamplerGreedy, NanIsNeverPicked) {
  SamplingParams p = seeded();
  p.temperature = 0.0f;
  Sampler s(p, 3);
  std::vector<float> l = {NAN, -1.0f, NAN};
  EXPECT_EQ(s.sample(l), 1);
  EXPECT_EQ(l[0], -INFINITY);
}

// ---- filters, each alone: exact support ----

TEST(SamplerFilters, TopKReturnsOnlyTheKBest) {
  SamplingParams p = seeded();
  p.top_k = 2;
  Sampler s(p, 5);
  const std::vector<float> l = {1.0f, 0.9f, 1.2f, 0.95f, -1.0f};  // best two: ids 2, 0
  EXPECT_EQ(support(draws(s, l, 2000)), (std::set<int32_t>{0, 2}));
}

TEST(SamplerFilters, TopKTiesKeepLowerIds) {
  SamplingParams p = seeded();
  p.top_k = 2;
  Sampler s(p, 4);
  const std::vector<float> l = {0.0f, 1.0f, 1.0f, 1.0f};
  EXPECT_EQ(support(draws(s, l, 2000)), (std::set<int32_t>{1, 2}));
}

TEST(SamplerFilters, TopPDropsTheTail) {
  SamplingParams p = seeded();
  p.top_p = 0.6f;
  Sampler s(p, 3);
  // 0.5 < 0.6 so id 1 is needed; 0.5 + 0.3 >= 0.6 so id 2 is not.
  EXPECT_EQ(support(draws(s, log_of({0.5, 0.3, 0.2}), 2000)), (std::set<int32_t>{0, 1}));
}

TEST(SamplerFilters, TopPKeepsTheFirstTokenEvenWhenItAloneExceedsP) {
  SamplingParams p = seeded();
  p.top_p = 0.3f;
  Sampler s(p, 3);
  EXPECT_EQ(support(draws(s, log_of({0.2, 0.5, 0.3}), 500)), (std::set<int32_t>{1}));
}

TEST(SamplerFilters, MinPDropsTokensBelowTheScaledMax) {
  SamplingParams p = seeded();
  p.min_p = 0.5f;  // threshold 0.5 * 0.4 = 0.2
  Sampler s(p, 5);
  EXPECT_EQ(support(draws(s, log_of({0.21, 0.4, 0.19, 0.1, 0.1}), 2000)),
            (std::set<int32_t>{0, 1}));
}

TEST(SamplerFilters, MinPOneIsGreedyLike) {
  SamplingParams p = seeded();
  p.min_p = 1.0f;
  Sampler s(p, 3);
  EXPECT_EQ(support(draws(s, {0.0f, 2.0f, 1.9f}, 500)), (std::set<int32_t>{1}));
}

TEST(SamplerFilters, TopPTiesKeepLowerIds) {
  SamplingParams p = seeded();
  p.top_p = 0.25f;  // ten equal tokens: mass before id 2 is 0.2 < 0.25, before id 3 is 0.3
  Sampler s(p, 10);
  EXPECT_EQ(support(draws(s, std::vector<float>(10, 0.0f), 1000)), (std::set<int32_t>{0, 1, 2}));
}

// A head of 100 tokens whose weights span several of top_p's buckets, at shuffled positions in
// a long tail: the nucleus ends inside a bucket, so bucketing, partition and the exact walk all
// have to agree with a plain full-sort reference. Members have p ≈ 0.01, so 2000 draws see each.
TEST(SamplerFilters, TopPMatchesFullSortReference) {
  const int32_t v = 20000;
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<float> tail(-6.0f, -4.0f);
  std::vector<float> l(v);
  for (float& x : l) x = tail(gen);
  std::vector<int32_t> head(v);
  std::iota(head.begin(), head.end(), 0);
  std::shuffle(head.begin(), head.end(), gen);
  head.resize(100);
  for (size_t i = 0; i < head.size(); ++i) l[head[i]] = 5.0f - 0.01f * static_cast<float>(i);

  const double top_p = 0.5;
  std::vector<int32_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  const std::vector<double> prob = softmax_ref(l, 1.0, order);
  std::set<int32_t> nucleus;
  double cum = 0.0;
  for (int32_t id : order) {
    if (cum >= top_p) break;
    nucleus.insert(id);
    cum += prob[id];
  }
  ASSERT_GT(nucleus.size(), 20u);  // cut inside the head, not at its edge
  ASSERT_LT(nucleus.size(), 90u);

  SamplingParams p = seeded(3);
  p.top_p = static_cast<float>(top_p);
  Sampler s(p, v);
  EXPECT_EQ(support(draws(s, l, 2000)), nucleus);
}

TEST(SamplerFilters, TopKOnLargeVocabulary) {
  const int32_t v = 152064;
  std::vector<float> l(v);
  std::mt19937_64 gen(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : l) x = normal(gen);
  std::vector<int32_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  const std::set<int32_t> best(order.begin(), order.begin() + 5);

  SamplingParams p = seeded();
  p.top_k = 5;
  p.temperature = 0.5f;
  Sampler s(p, v);
  EXPECT_EQ(support(draws(s, l, 300)), best);  // each of the 5 has p > 0.1
}

// ---- distribution ----

TEST(SamplerDistribution, MatchesSoftmaxOverTemperature) {
  const std::vector<float> l = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, 1.5f, -2.0f, 0.25f};
  std::vector<int32_t> all(l.size());
  std::iota(all.begin(), all.end(), 0);
  for (float t : {0.7f, 1.0f, 1.8f}) {
    SCOPED_TRACE(t);
    SamplingParams p = seeded(100);
    p.temperature = t;
    Sampler s(p, static_cast<int32_t>(l.size()));
    expect_matches(draws(s, l, 100000), softmax_ref(l, t, all));
  }
}

TEST(SamplerDistribution, TopKThenTemperatureRenormalizes) {
  const std::vector<float> l = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, 1.5f};
  SamplingParams p = seeded(5);
  p.top_k = 3;
  p.temperature = 1.5f;
  Sampler s(p, static_cast<int32_t>(l.size()));
  expect_matches(draws(s, l, 100000), softmax_ref(l, 1.5, {4, 5, 0}));
}

TEST(SamplerDistribution, TopPRenormalizesTheNucleus) {
  SamplingParams p = seeded(6);
  p.top_p = 0.85f;
  Sampler s(p, 4);
  const std::vector<float> l = log_of({0.4, 0.3, 0.2, 0.1});
  expect_matches(draws(s, l, 100000), softmax_ref(l, 1.0, {0, 1, 2}));
}

// ---- penalties and bias: sample() leaves the adjusted logits in place ----

TEST(SamplerPenalties, RepetitionFollowsTheHuggingFaceRule) {
  SamplingParams p = seeded();
  p.temperature = 0.0f;
  p.repetition_penalty = 2.0f;
  Sampler s(p, 4);
  s.accept(0);
  s.accept(1);
  s.accept(1);  // counted once: the rule is per distinct id
  std::vector<float> l = {3.0f, -1.5f, 1.0f, 0.0f};
  s.sample(l);
  EXPECT_FLOAT_EQ(l[0], 1.5f);   // positive: divided
  EXPECT_FLOAT_EQ(l[1], -3.0f);  // negative: multiplied
  EXPECT_FLOAT_EQ(l[2], 1.0f);   // unseen: untouched
}

TEST(SamplerPenalties, RepetitionChangesTheGreedyChoice) {
  SamplingParams p = seeded();
  p.temperature = 0.0f;
  p.repetition_penalty = 1.5f;
  Sampler s(p, 3);
  s.accept(0);
  std::vector<float> pos = {2.0f, 1.5f, -9.0f};  // 2 / 1.5 = 1.33 < 1.5
  EXPECT_EQ(s.sample(pos), 1);
  std::vector<float> neg = {-1.0f, -1.2f, -9.0f};  // -1 * 1.5 = -1.5 < -1.2
  EXPECT_EQ(s.sample(neg), 1);
}

TEST(SamplerPenalties, PresenceAndFrequencyFollowTheOpenAIRule) {
  SamplingParams p = seeded();
  p.temperature = 0.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p, 4);
  for (int32_t t : {3, 3, 2}) s.accept(t);
  std::vector<float> l = {0.0f, 1.0f, 2.0f, 3.0f};
  s.sample(l);
  EXPECT_FLOAT_EQ(l[0], 0.0f);
  EXPECT_FLOAT_EQ(l[1], 1.0f);
  EXPECT_FLOAT_EQ(l[2], 2.0f - 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(l[3], 3.0f - 0.5f - 0.5f);
}

TEST(SamplerPenalties, NegativePenaltiesEncourage) {
  SamplingParams p = seeded();
  p.temperature = 0.0f;
  p.presence_penalty = -1.0f;
  Sampler s(p, 3);
  s.accept(2);
  std::vector<float> l = {1.0f, 0.0f, 0.5f};
  EXPECT_EQ(s.sample(l), 2);
}

TEST(SamplerPenalties, WindowSeesOnlyTheLastNTokens) {
  SamplingParams p = seeded();
  p.temperature = 0.0f;
  p.frequency_penalty = 1.0f;
  p.penalty_last_n = 2;
  Sampler s(p, 4);
  for (int32_t t : {0, 0, 1, 2}) s.accept(t);  // window: {1, 2}
  std::vector<float> l = {5.0f, 5.0f, 5.0f, 5.0f};
  s.sample(l);
  EXPECT_EQ(l, (std::vector<float>{5.0f, 4.0f, 4.0f, 5.0f}));
}

TEST(SamplerPenalties, WindowZeroDisablesPenalties) {
  SamplingParams p = seeded();
  p.temperature = 0.0f;
  p.frequency_penalty = 1.0f;
  p.repetition_penalty = 2.0f;
  p.penalty_last_n = 0;
  Sampler s(p, 2);
  s.accept(0);
  std::vector<float> l = {5.0f, 1.0f};
  s.sample(l);
  EXPECT_EQ(l, (std::vector<float>{5.0f, 1.0f}));
}

TEST(SamplerPenalties, BiasComesBeforeRepetition) {
  SamplingParams p = seeded();
  p.temperature = 0.0f;
  p.repetition_penalty = 2.0f;
  p.logit_bias = {{0, 3.0f}};
  Sampler s(p, 2);
  s.accept(0);
  std::vector<float> l = {-2.0f, 0.0f};  // (-2 + 3) / 2 = 0.5; bias last would give -1
  s.sample(l);
  EXPECT_FLOAT_EQ(l[0], 0.5f);
}

TEST(SamplerBias, AddsAndBans) {
  SamplingParams p = seeded();
  p.logit_bias = {{3, 10.0f}, {0, -100.0f}};
  p.temperature = 0.0f;
  Sampler greedy(p, 4);
  std::vector<float> l = {2.0f, 1.0f, 0.5f, 0.0f};
  EXPECT_EQ(greedy.sample(l), 3);
  EXPECT_FLOAT_EQ(l[3], 10.0f);
  EXPECT_FLOAT_EQ(l[0], -98.0f);

  p.temperature = 1.0f;
  p.logit_bias = {{0, -100.0f}};
  Sampler s(p, 4);
  EXPECT_EQ(support(draws(s, {2.0f, 1.0f, 0.5f, 0.0f}, 2000)), (std::set<int32_t>{1, 2, 3}));
}

// ---- seeding ----

TEST(SamplerSeed, SameSeedSameSequenceDifferentSeedDifferent) {
  std::vector<float> l(1000, 0.0f);  // uniform: 1000^-200 chance two seeds agree
  Sampler a(seeded(1234), 1000), b(seeded(1234), 1000), c(seeded(1235), 1000);
  const auto sa = draws(a, l, 200), sb = draws(b, l, 200), sc = draws(c, l, 200);
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(SamplerSeed, UnseededSamplersDiffer) {
  std::vector<float> l(1000, 0.0f);
  Sampler a(SamplingParams{}, 1000), b(SamplingParams{}, 1000);
  EXPECT_NE(draws(a, l, 50), draws(b, l, 50));
}

// ---- helpers for logprobs ----

TEST(SamplerHelpers, LogSoftmax) {
  const std::vector<float> l = {1.0f, 2.0f, 3.0f, -INFINITY};
  std::vector<float> out(l.size());
  Sampler::log_softmax(l, out);
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(out[i], l[i] - lse, 1e-6) << i;
  EXPECT_EQ(out[3], -INFINITY);

  const std::vector<float> huge = {1000.0f, 1000.0f};  // no overflow
  std::vector<float> out2(2);
  Sampler::log_softmax(huge, out2);
  EXPECT_NEAR(out2[0], -std::log(2.0), 1e-6);
}

TEST(SamplerHelpers, TopNOrdersByValueThenId) {
  const std::vector<float> l = {0.5f, 2.0f, 0.5f, 3.0f, NAN};
  const auto top = Sampler::top_n(l, 4);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0], (std::pair<int32_t, float>{3, 3.0f}));
  EXPECT_EQ(top[1], (std::pair<int32_t, float>{1, 2.0f}));
  EXPECT_EQ(top[2], (std::pair<int32_t, float>{0, 0.5f}));
  EXPECT_EQ(top[3], (std::pair<int32_t, float>{2, 0.5f}));
  EXPECT_EQ(Sampler::top_n(l, 0).size(), 0u);
  EXPECT_EQ(Sampler::top_n(l, 99).size(), 5u);
}

// ---- validation ----

void expect_bad(const SamplingParams& p, const std::string& field, const std::string& message = "") {
  const Result<void> r = validate(p, 100);
  ASSERT_FALSE(r.ok()) << field;
  EXPECT_EQ(r.error().code, ErrorCode::kBadField);
  EXPECT_EQ(r.error().where, field);
  if (!message.empty()) {
    EXPECT_EQ(r.error().message, message);
  }
}

TEST(SamplerValidate, DefaultsAreValid) { EXPECT_TRUE(validate(SamplingParams{}, 100).ok()); }

TEST(SamplerValidate, ErrorsNameTheField) {
  SamplingParams p;
  p.temperature = 3.5f;
  expect_bad(p, "temperature", "must be in [0, 2], got 3.5");
  p = {};
  p.temperature = NAN;
  expect_bad(p, "temperature");
  p = {};
  p.top_k = -1;
  expect_bad(p, "top_k");
  p = {};
  p.top_p = 0.0f;
  expect_bad(p, "top_p", "must be in (0, 1], got 0");
  p = {};
  p.top_p = 1.5f;
  expect_bad(p, "top_p");
  p = {};
  p.min_p = -0.1f;
  expect_bad(p, "min_p", "must be in [0, 1], got -0.1");
  p = {};
  p.repetition_penalty = 0.0f;
  expect_bad(p, "repetition_penalty");
  p = {};
  p.presence_penalty = 2.5f;
  expect_bad(p, "presence_penalty");
  p = {};
  p.frequency_penalty = -3.0f;
  expect_bad(p, "frequency_penalty");
  p = {};
  p.penalty_last_n = -2;
  expect_bad(p, "penalty_last_n");
  p = {};
  p.logit_bias = {{100, 1.0f}};
  expect_bad(p, "logit_bias", "token id 100 out of range [0, 100)");
  p = {};
  p.logit_bias = {{-1, 1.0f}};
  expect_bad(p, "logit_bias");
  p = {};
  p.logit_bias = {{5, 101.0f}};
  expect_bad(p, "logit_bias");
}

TEST(SamplerValidate, BoundsAreInclusiveWhereDocumented) {
  SamplingParams p;
  p.temperature = 2.0f;
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  p.presence_penalty = -2.0f;
  p.frequency_penalty = 2.0f;
  p.top_k = 1000000;
  p.logit_bias = {{0, -100.0f}, {99, 100.0f}};
  EXPECT_TRUE(validate(p, 100).ok());
}

}  // namespace
}  // namespace shuo::engine

// Scalar reference kernels against the plain math (double precision) on odd sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "tensor/fp16.h"

using namespace shuo::kernels;

namespace {
std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
}  // namespace

TEST(Ops, RmsNormMatchesFormula) {
  for (int n : {1, 7, 33, 4099}) {
    auto x = random_vec(n, 1), w = random_vec(n, 2);
    std::vector<float> out(n);
    rmsnorm_ref(x.data(), w.data(), n, 1e-5f, out.data());
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double inv = 1.0 / std::sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; ++i) ASSERT_NEAR(out[i], x[i] * inv * w[i], 1e-5 * (1 + std::fabs(x[i] * inv * w[i]))) << "n " << n << " i " << i;
  }
}

TEST(Ops, LayerNormHasZeroMeanUnitVariance) {
  const int n = 257;
  auto x = random_vec(n, 3, 4.0f);
  std::vector<float> w(n, 1.0f), out(n);
  layernorm_ref(x.data(), w.data(), nullptr, n, 1e-6f, out.data());
  double mean = 0, var = 0;
  for (float v : out) mean += v;
  mean /= n;
  for (float v : out) var += (v - mean) * (v - mean);
  EXPECT_NEAR(mean, 0.0, 1e-5);
  EXPECT_NEAR(var / n, 1.0, 1e-4);
}

TEST(Ops, SoftmaxSumsToOneAndKeepsOrder) {
  for (int n : {1, 7, 33, 4099}) {
    auto x = random_vec(n, 4, 10.0f);
    auto y = x;
    softmax_ref(y.data(), n);
    double sum = 0;
    for (float v : y) sum += v;
    ASSERT_NEAR(sum, 1.0, 1e-5);
    for (int i = 1; i < n; ++i) ASSERT_EQ(x[i] > x[0], y[i] > y[0]);
  }
  std::vector<float> big = {1000.0f, 1000.0f};  // no overflow
  softmax_ref(big.data(), 2);
  EXPECT_FLOAT_EQ(big[0], 0.5f);
}

TEST(Ops, SwigluMatchesFormula) {
  auto g = random_vec(33, 5, 3.0f), u = random_vec(33, 6);
  std::vector<float> out(33);
  swiglu_ref(g.data(), u.data(), 33, out.data());
  for (int i = 0; i < 33; ++i) ASSERT_NEAR(out[i], g[i] / (1 + std::exp(-double(g[i]))) * u[i], 1e-6);
}

TEST(Ops, RopeRotatesPairsAndPreservesNorms) {
  const int heads = 3, hd = 16;
  auto v = random_vec(heads * hd, 7);
  for (auto layout : {RopeLayout::kInterleaved, RopeLayout::kNeox}) {
    auto table = make_rope_table(hd, 10000.0, 1.0, layout, {});
    auto r = v;
    rope_ref(r.data(), heads, hd, 0, table);
    for (int i = 0; i < heads * hd; ++i) ASSERT_FLOAT_EQ(r[i], v[i]);  // position 0 = identity
    rope_ref(r.data(), heads, hd, 37, table);
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < hd / 2; ++j) {
        const int a = layout == RopeLayout::kInterleaved ? 2 * j : j;
        const int b = layout == RopeLayout::kInterleaved ? 2 * j + 1 : j + hd / 2;
        const double theta = 37.0 * std::pow(10000.0, -2.0 * j / hd);
        const double x = v[h * hd + a], y = v[h * hd + b];
        ASSERT_NEAR(r[h * hd + a], x * std::cos(theta) - y * std::sin(theta), 1e-5);
        ASSERT_NEAR(r[h * hd + b], x * std::sin(theta) + y * std::cos(theta), 1e-5);
      }
  }
}

TEST(Ops, RopeFactorsAndPartialDims) {
  // Llama 3 style divisors; only the first 4 of 8 dims rotate.
  auto table = make_rope_table(4, 10000.0, 0.5, RopeLayout::kInterleaved, {2.0f, 4.0f});
  EXPECT_NEAR(table.inv_freq[0], 0.5 / 2.0, 1e-12);
  EXPECT_NEAR(table.inv_freq[1], 0.5 * std::pow(10000.0, -0.5) / 4.0, 1e-12);
  std::vector<float> v = {1, 0, 1, 0, 5, 6, 7, 8};
  rope_ref(v.data(), 1, 8, 3, table);
  EXPECT_FLOAT_EQ(v[4], 5);
  EXPECT_FLOAT_EQ(v[7], 8);
  EXPECT_NEAR(v[0], std::cos(3 * 0.25), 1e-6);
}

class AttentionVariants : public ::testing::TestWithParam<int> {};

// Every variant this CPU runs against plain double-precision math.
// An F16 or Q8_0 cache is checked against the same math on the values it stores (rounded).
void check_attention(int hd, int n_head, int n_kv, int pos0, int n_tok, int bs,
                     shuo::format::GgmlType type = shuo::format::GgmlType::F32) {
  const auto cpu = detect_cpu_features();
  std::vector<std::pair<const char*, AttentionFn>> fns = {{"ref", attention_ref}};
  if (cpu.has_avx512()) fns.push_back({"avx512", attention_avx512});
  if (cpu.has_avx2_fma()) fns.push_back({"avx2", attention_avx2});
  for (const auto& [name, fn] : fns) {
    const int total = pos0 + n_tok;
    auto q = random_vec(n_tok * n_head * hd, 8), k = random_vec(total * n_kv * hd, 9), v = random_vec(total * n_kv * hd, 10);
    std::vector<float> out(q.size());
    shuo::tensor::ThreadPool pool(2);
    AttentionShape s{n_head, n_kv, hd, 1.0f / std::sqrt(float(hd))};
    // The cache as stored (kv_store_row), then k and v become what it holds.
    const int64_t row = int64_t(n_kv) * hd;
    const size_t rb = kv_row_bytes(type, row);
    std::vector<uint8_t> ks(total * rb), vs(total * rb);
    for (int p = 0; p < total; ++p) {
      kv_store_row(&k[p * row], row, type, &ks[p * rb]);
      kv_store_row(&v[p * row], row, type, &vs[p * rb]);
      kv_load_row(&ks[p * rb], row, type, &k[p * row]);
      kv_load_row(&vs[p * rb], row, type, &v[p * row]);
    }
    // The cache in blocks of bs positions (the last one partly filled).
    std::vector<const void*> kb, vb;
    for (int p = 0; p < total; p += bs) {
      kb.push_back(ks.data() + p * rb);
      vb.push_back(vs.data() + p * rb);
    }
    fn(q.data(), n_tok, pos0, KvBlocksView{kb.data(), vb.data(), bs, type}, s, out.data(), pool);
    for (int t = 0; t < n_tok; ++t)
      for (int h = 0; h < n_head; ++h) {
        const int kvh = h / (n_head / n_kv);
        std::vector<double> w(pos0 + t + 1);
        double mx = -1e30, sum = 0;
        for (int p = 0; p <= pos0 + t; ++p) {
          double d = 0;
          for (int i = 0; i < hd; ++i) d += double(q[(t * n_head + h) * hd + i]) * k[(p * n_kv + kvh) * hd + i];
          w[p] = d * s.scale;
          mx = std::max(mx, w[p]);
        }
        for (auto& x : w) sum += (x = std::exp(x - mx));
        for (int i = 0; i < hd; ++i) {
          double o = 0;
          for (int p = 0; p <= pos0 + t; ++p) o += w[p] / sum * v[(p * n_kv + kvh) * hd + i];
          ASSERT_NEAR(out[(t * n_head + h) * hd + i], o, 1e-5)
              << name << " hd " << hd << " bs " << bs << " t " << t << " h " << h << " i " << i;
        }
      }
  }
}

// Head dims 8, 20 (a tail for 8-wide SIMD), 24 (a tail for 16-wide SIMD) and 64, blocks of 3 positions.
TEST_P(AttentionVariants, MatchNaiveGroupedQuery) { check_attention(GetParam(), 4, 2, 5, 3, 3); }

// A prompt longer than one job of 16 tokens, groups of 7 query heads (qwen2-0.5b), blocks of
// 16 and of 5 positions, and a long cached prefix (the online softmax rescales many times).
TEST_P(AttentionVariants, LongPromptsAndWideGroups) {
  check_attention(GetParam(), 14, 2, 40, 37, 16);
  check_attention(GetParam(), 14, 2, 3, 20, 5);
}

// The same over an F16 cache, head dims with and without a 16-wide tail.
TEST_P(AttentionVariants, F16Cache) {
  check_attention(GetParam(), 4, 2, 5, 3, 3, shuo::format::GgmlType::F16);
  check_attention(GetParam(), 14, 2, 40, 37, 16, shuo::format::GgmlType::F16);
  check_attention(GetParam(), 14, 2, 3, 1, 5, shuo::format::GgmlType::F16);
}

INSTANTIATE_TEST_SUITE_P(HeadDims, AttentionVariants, ::testing::Values(8, 20, 24, 64));

// A Q8_0 cache: head sizes that are whole blocks of 32, several heads per row (a head's row
// starts inside the position's row of blocks), blocks of 3 and 16 positions.
TEST(Attention, Q8_0Cache) {
  for (int hd : {32, 64, 128}) {
    check_attention(hd, 4, 2, 5, 3, 3, shuo::format::GgmlType::Q8_0);
    check_attention(hd, 14, 2, 40, 37, 16, shuo::format::GgmlType::Q8_0);
    check_attention(hd, 14, 2, 3, 1, 5, shuo::format::GgmlType::Q8_0);
  }
}

// What fits where: Q8_0 only for whole blocks; the row sizes the pool allocates.
TEST(Attention, KvTypeFitsAndRowBytes) {
  using shuo::format::GgmlType;
  EXPECT_TRUE(kv_type_fits(GgmlType::F16, 8));
  EXPECT_TRUE(kv_type_fits(GgmlType::Q8_0, 64));
  EXPECT_FALSE(kv_type_fits(GgmlType::Q8_0, 8));
  EXPECT_FALSE(kv_type_fits(GgmlType::Q8_0, 48));
  EXPECT_FALSE(kv_type_fits(GgmlType::Q4_0, 64));
  EXPECT_EQ(kv_row_bytes(GgmlType::F32, 128), 512u);
  EXPECT_EQ(kv_row_bytes(GgmlType::F16, 128), 256u);
  EXPECT_EQ(kv_row_bytes(GgmlType::Q8_0, 128), 136u);
}

// A Q8_0 row round-trips within half a quantization step of each block's largest magnitude.
TEST(Attention, Q8_0RowRoundTrip) {
  auto x = random_vec(256, 3);
  x[5] = 0.0f;
  x[40] = -7.5f;
  std::vector<uint8_t> q(kv_row_bytes(shuo::format::GgmlType::Q8_0, 256));
  std::vector<float> back(256);
  kv_store_row(x.data(), 256, shuo::format::GgmlType::Q8_0, q.data());
  kv_load_row(q.data(), 256, shuo::format::GgmlType::Q8_0, back.data());
  for (int b = 0; b < 8; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    for (int i = 0; i < 32; ++i) EXPECT_NEAR(back[b * 32 + i], x[b * 32 + i], amax / 127 * 0.5f + 1e-3f) << b << " " << i;
  }
  EXPECT_EQ(back[5], 0.0f);
}

namespace {
void check_swiglu_variant(SwigluFn fn) {
  // Odd length (a scalar tail), large magnitudes (exp saturates to 0 / inf), zero.
  std::vector<float> gate(1037), up(1037);
  for (size_t i = 0; i < gate.size(); ++i) {
    gate[i] = -120.0f + 240.0f * float(i) / float(gate.size());
    up[i] = 0.5f + float(i % 7);
  }
  gate[3] = 0.0f;
  std::vector<float> want(gate.size()), got(gate.size());
  swiglu_ref(gate.data(), up.data(), int64_t(gate.size()), want.data());
  fn(gate.data(), up.data(), int64_t(gate.size()), got.data());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-6 * (1.0 + std::fabs(want[i]))) << "gate " << gate[i];
}
}  // namespace

TEST(Ops, SwigluAvx512MatchesReference) {
  if (!detect_cpu_features().has_avx512()) GTEST_SKIP() << "this CPU has no AVX-512";
  check_swiglu_variant(swiglu_avx512);
}

TEST(Ops, SwigluAvx2MatchesReference) {
  if (!detect_cpu_features().has_avx2_fma()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
  check_swiglu_variant(swiglu_avx2);
}

namespace {
// GELU's tanh approximation in double precision (no fp16 rounding).
double gelu_tanh(double v) { return 0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); }
bool is_fp16_value(float v) { return shuo::tensor::fp16_to_fp32(shuo::tensor::fp32_to_fp16(v)) == v; }
}  // namespace

TEST(Ops, GeluIsTanhApproximationRoundedToFp16) {
  std::vector<float> x;
  for (int i = 0; i <= 2400; ++i) x.push_back(-12.0f + 0.01f * float(i));
  x.push_back(-10.0f);
  x.push_back(10.0f);
  x.push_back(1e-7f);  // not an fp16 value: rounds on the way in
  std::vector<float> y(x.size());
  gelu_ref(x.data(), int64_t(x.size()), y.data());
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] <= -10.0f) {
      ASSERT_EQ(y[i], 0.0f) << x[i];
    } else if (x[i] >= 10.0f) {
      ASSERT_EQ(y[i], x[i]) << x[i];
    } else {
      ASSERT_TRUE(is_fp16_value(y[i])) << x[i] << " -> " << y[i];
      // g at the fp16 input, rounded to fp16 (half a step: 2^-11 relative, 2^-25 absolute among
      // subnormals), plus float's rounding of 1 + tanh near -1 (as llama.cpp's table has it).
      const double h = shuo::tensor::fp16_to_fp32(shuo::tensor::fp32_to_fp16(x[i]));
      ASSERT_NEAR(y[i], gelu_tanh(h), 4.9e-4 * std::fabs(gelu_tanh(h)) + 1e-7 * std::fabs(h) + 3e-8) << x[i];
    }
  }
  // The input is rounded to fp16 first: 1.0004 and 1.0 share the half 1.0 (step 2^-10).
  float in[2] = {1.0f, 1.0004f}, out[2];
  gelu_ref(in, 2, out);
  EXPECT_EQ(out[0], out[1]);
  EXPECT_NE(gelu_tanh(1.0), gelu_tanh(1.0004));
}

namespace {
void check_gelu_variant(GeluFn fn) {
  // Every fp16 input in [-12, 12] plus the float neighbours of the thresholds; odd length.
  std::vector<float> x;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float v = shuo::tensor::fp16_to_fp32(uint16_t(h));
    if (std::fabs(v) <= 12.0f) x.push_back(v);
  }
  for (float t : {-10.0f, 10.0f}) {
    x.push_back(std::nextafter(t, 0.0f));
    x.push_back(std::nextafter(t, 100.0f * t));
  }
  x.push_back(0.3f);
  std::vector<float> want(x.size()), got(x.size());
  gelu_ref(x.data(), int64_t(x.size()), want.data());
  fn(x.data(), int64_t(x.size()), got.data());
  size_t differ = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (got[i] == want[i]) continue;
    ++differ;
    // At most one fp16 step apart (g lies next to a rounding boundary), plus, for negative x,
    // float's grid near tanh = -1: 1 + tanh is a multiple of 2^-24 there, and the two tanh
    // evaluations may be a float ulp apart, which moves g by 0.5·|h|·2^-24 (several fp16 steps
    // once g is small).
    const int steps = std::abs(int(shuo::tensor::fp32_to_fp16(got[i]) & 0x7fff) -
                               int(shuo::tensor::fp32_to_fp16(want[i]) & 0x7fff));
    const bool grid = x[i] < 0 && std::fabs(got[i] - want[i]) <= 2 * 0.5 * std::fabs(x[i]) * 0x1p-24 + 0x1p-24;
    ASSERT_TRUE((steps <= 1 && std::signbit(got[i]) == std::signbit(want[i])) || grid)
        << "x " << x[i] << " want " << want[i] << " got " << got[i];
  }
  EXPECT_LE(differ, x.size() / 100) << differ << " of " << x.size() << " differ by one fp16 step";
  ::testing::Test::RecordProperty("one_step_differences", std::to_string(differ));
}
}  // namespace

TEST(Ops, GeluAvx512MatchesReference) {
  if (!detect_cpu_features().has_avx512()) GTEST_SKIP() << "this CPU has no AVX-512";
  check_gelu_variant(gelu_avx512);
}

TEST(Ops, GeluAvx2MatchesReference) {
  if (!detect_cpu_features().has_avx2_fma()) GTEST_SKIP() << "this CPU has no AVX2 + FMA + F16C";
  check_gelu_variant(gelu_avx2);
}

// Every vec_dot variant this CPU runs against the scalar `_ref`, on odd sizes, for every weight
// type with a direct kernel; and the fast matmul driver against matmul_ref.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/vec_dot.h"
#include "tensor/quants.h"

using namespace shuo;
using namespace shuo::kernels;
using format::GgmlType;

namespace {

std::vector<VecDotKernels> variants() {
  std::vector<VecDotKernels> v;
  const CpuFeatures cpu = detect_cpu_features();
  if (cpu.has_avx2_fma()) v.push_back(vec_dot_kernels_avx2());
  if (cpu.has_avx512() && cpu.avx512vnni && cpu.has_avx2_fma()) v.push_back(vec_dot_kernels_avx512());
  return v;
}

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<uint8_t> encode(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> out(*format::ggml_row_bytes(t, int64_t(x.size())));
  EXPECT_TRUE(tensor::quantize(t, x.data(), out.data(), int64_t(x.size())).ok());
  return out;
}

}  // namespace

TEST(VecDot, QuantizeActMatchesReferenceBitExact) {
  for (const auto& k : variants()) {
    for (int64_t n : {32, 64, 96, 4096}) {
      auto x = random_floats(n, 11);
      x[5] = 0.0f;
      std::vector<BlockQ8A> a(n / 32), b(n / 32);
      quantize_act_ref(x.data(), a.data(), n);
      k.quantize_act(x.data(), b.data(), n);
      for (int64_t i = 0; i < n / 32; ++i) {
        ASSERT_EQ(a[i].d, b[i].d) << k.isa << " block " << i;
        ASSERT_EQ(a[i].sum, b[i].sum) << k.isa << " block " << i;
        ASSERT_EQ(std::memcmp(a[i].qs, b[i].qs, 32), 0) << k.isa << " block " << i;
      }
    }
    std::vector<float> zeros(64, 0.0f);
    std::vector<BlockQ8A> z(2);
    k.quantize_act(zeros.data(), z.data(), 64);
    EXPECT_EQ(z[0].d, 0.0f);
  }
}

TEST(VecDot, EveryVariantMatchesReference) {
  const auto ref = vec_dot_kernels_ref();
  ASSERT_FALSE(variants().empty()) << "this test machine should run AVX2";
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
                     GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1}) {
    const bool q8 = VecDotKernels::uses_q8_act(t);
    for (int64_t n : {32, 64, 96, 160, 4096, 4128}) {
      const auto wf = random_floats(n, 1 + uint32_t(n)), x = random_floats(n, 2 + uint32_t(n));
      const auto w = encode(t, wf);
      std::vector<BlockQ8A> xq(n / 32);
      quantize_act_ref(x.data(), xq.data(), n);
      const void* act = q8 ? static_cast<const void*>(xq.data()) : static_cast<const void*>(x.data());
      const float want = ref.for_type(t)(w.data(), act, n);
      double mag = 0;
      for (int64_t i = 0; i < n; ++i) mag += std::fabs(double(wf[i]) * x[i]);
      for (const auto& k : variants()) {
        const float got = k.for_type(t)(w.data(), act, n);
        EXPECT_NEAR(got, want, 1e-5 * mag + 1e-6)
            << k.isa << " " << format::ggml_type_name(t) << " n=" << n;
      }
    }
  }
}

TEST(VecDot, QuantizeActKMatchesReferenceBitExact) {
  for (const auto& k : variants()) {
    for (int64_t n : {256, 512, 4096}) {
      auto x = random_floats(n, 21);
      std::vector<BlockQ8KA> a(n / 256), b(n / 256);
      quantize_act_k_ref(x.data(), a.data(), n);
      k.quantize_act_k(x.data(), b.data(), n);
      for (int64_t i = 0; i < n / 256; ++i) {
        ASSERT_EQ(a[i].d, b[i].d) << k.isa;
        ASSERT_EQ(std::memcmp(a[i].bsums, b[i].bsums, sizeof a[i].bsums), 0) << k.isa << " block " << i;
        ASSERT_EQ(std::memcmp(a[i].qs, b[i].qs, 256), 0) << k.isa << " block " << i;
      }
    }
  }
}

TEST(VecDot, KQuantsMatchReference) {
  const auto ref = vec_dot_kernels_ref();
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    for (int64_t n : {256, 768, 4096}) {
      const auto wf = random_floats(n, 31 + uint32_t(n)), x = random_floats(n, 32 + uint32_t(n));
      const auto w = encode(t, wf);
      std::vector<BlockQ8KA> xq(n / 256);
      quantize_act_k_ref(x.data(), xq.data(), n);
      const float want = ref.for_type(t)(w.data(), xq.data(), n);
      double mag = 0;
      for (int64_t i = 0; i < n; ++i) mag += std::fabs(double(wf[i]) * x[i]);
      for (const auto& k : variants()) {
        ASSERT_NE(k.for_type(t), nullptr) << k.isa;
        EXPECT_NEAR(k.for_type(t)(w.data(), xq.data(), n), want, 1e-5 * mag + 1e-5)
            << k.isa << " " << format::ggml_type_name(t) << " n=" << n;
      }
    }
  }
}

// The 4-token variants against 4 single dots of the same variant and of the reference.
TEST(VecDot, FourTokenVariantsMatchSingleDots) {
  const auto ref = vec_dot_kernels_ref();
  for (const auto& k : variants()) {
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0}) {
      if (!k.for_type_x4(t)) continue;
      for (int64_t n : {32, 64, 96, 896, 4128}) {
        const auto wf = random_floats(n, 41 + uint32_t(n));
        const auto w = encode(t, wf);
        std::vector<BlockQ8A> xq(4 * (n / 32));
        for (int tok = 0; tok < 4; ++tok) {
          const auto x = random_floats(n, 50 + uint32_t(tok));
          quantize_act_ref(x.data(), xq.data() + tok * (n / 32), n);
        }
        float out[4];
        const int64_t stride = (n / 32) * int64_t(sizeof(BlockQ8A));
        k.for_type_x4(t)(w.data(), xq.data(), stride, n, out);
        for (int tok = 0; tok < 4; ++tok) {
          const float want = ref.for_type(t)(w.data(), xq.data() + tok * (n / 32), n);
          EXPECT_NEAR(out[tok], want, 1e-4 * std::sqrt(double(n)) * 4)
              << k.isa << " " << format::ggml_type_name(t) << " n=" << n << " token " << tok;
        }
      }
    }
  }
}

TEST(VecDot, OddLengthsForFloatTypes) {
  const auto ref = vec_dot_kernels_ref();
  for (int64_t n : {1, 7, 33, 4099}) {
    const auto w = random_floats(n, 3), x = random_floats(n, 4);
    std::vector<uint8_t> h(n * 2);
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t v = tensor::fp32_to_fp16(w[i]);
      std::memcpy(&h[2 * i], &v, 2);
    }
    for (const auto& k : variants()) {
      EXPECT_NEAR(k.f32(w.data(), x.data(), n), ref.f32(w.data(), x.data(), n), 1e-4 * std::sqrt(double(n))) << k.isa << " n=" << n;
      EXPECT_NEAR(k.f16(h.data(), x.data(), n), ref.f16(h.data(), x.data(), n), 1e-4 * std::sqrt(double(n))) << k.isa << " n=" << n;
    }
  }
}

// The driver (activation conversion, row split, K-quant fallback) against matmul_ref.
TEST(Matmul, FastDriverMatchesReference) {
  tensor::ThreadPool pool(2);
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0,
                     GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::TQ2_0 /* no direct kernel: row fallback */}) {
    const int64_t rows = 37, cols = 512;
    std::vector<uint8_t> data;
    for (int64_t r = 0; r < rows; ++r) {
      auto row = encode(t, random_floats(cols, 100 + uint32_t(r)));
      data.insert(data.end(), row.begin(), row.end());
    }
    WeightMatrix w{t, data.data(), rows, cols, *format::ggml_row_bytes(t, cols), "w"};
    for (int64_t n_tok : {1, 3, 9}) {  // 9 = two 4-token groups + one single
      const auto x = random_floats(n_tok * cols, 7);
      std::vector<float> want(n_tok * rows), got(n_tok * rows);
      matmul_ref(w, x.data(), n_tok, want.data(), pool);
      MatmulScratch scratch;
      for (const auto& k : variants()) {
        matmul(w, x.data(), n_tok, got.data(), pool, k, scratch);
        // Q8_0/Q4_0 quantize activations to int8: error ~ |w|·|x| / 127 per element.
        const double tol = VecDotKernels::uses_q8_act(t) || VecDotKernels::uses_q8k_act(t) ? 0.05 * std::sqrt(double(cols)) : 1e-3;
        for (int64_t i = 0; i < n_tok * rows; ++i)
          ASSERT_NEAR(got[i], want[i], tol) << k.isa << " " << format::ggml_type_name(t) << " i=" << i;
      }
    }
  }
}

// The tiled GEMM (kernels/gemm.h): int8 unpacking is bit-exact with dequantize, the AVX-512
// kernels match their scalar references on the same packed tiles (odd token and row counts),
// and the packed tiles multiply to the same result as the row-by-row float reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "tensor/quants.h"
#include "tensor/quants_i8.h"

using namespace shuo;
using namespace shuo::kernels;
using format::GgmlType;

namespace {

const GgmlType kI8Types[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                             GgmlType::Q5_1, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

struct Matrix {
  std::vector<uint8_t> data;
  WeightMatrix w;
};

Matrix random_matrix(GgmlType t, int64_t rows, int64_t cols, uint32_t seed) {
  Matrix m;
  const size_t rb = *format::ggml_row_bytes(t, cols);
  m.data.resize(rb * size_t(rows));
  for (int64_t r = 0; r < rows; ++r) {
    auto x = random_floats(cols, seed + uint32_t(r));
    EXPECT_TRUE(tensor::quantize(t, x.data(), m.data.data() + rb * size_t(r), cols).ok());
  }
  m.w = WeightMatrix{t, m.data.data(), rows, cols, rb, "w"};
  return m;
}

// n_tok tokens' activations in the integer GEMM's form (the reference quantizer).
struct Activations {
  std::vector<BlockQ8A> blocks;
  std::vector<int32_t> corr;
  std::vector<BlockQ8KA> kblocks;  // when cols is whole super-blocks (Q4_Kx16 tiles read these)
  GemmAct act() const { return GemmAct{blocks.data(), corr.data(), kblocks.empty() ? nullptr : kblocks.data()}; }
};

Activations quantize_tokens(const std::vector<float>& x, int64_t n_tok, int64_t cols) {
  Activations a;
  a.blocks.resize(size_t(n_tok * cols / 32));
  a.corr.resize(size_t(n_tok * cols / 16));
  if (cols % 256 == 0) a.kblocks.resize(size_t(n_tok * cols / 256));
  for (int64_t tk = 0; tk < n_tok; ++tk) {
    quantize_act_ref(x.data() + tk * cols, a.blocks.data() + tk * cols / 32, cols);
    gemm_act_corr(a.blocks.data() + tk * cols / 32, cols, a.corr.data() + tk * cols / 16);
    if (!a.kblocks.empty()) quantize_act_k_ref(x.data() + tk * cols, a.kblocks.data() + tk * cols / 256, cols);
  }
  return a;
}

// Σ_c w[r][c] · (token tk's dequantized int8 activation c), in double: what an integer GEMM
// of row r and token tk must give up to float rounding. super_blocks: the activations of
// qa.kblocks (256 per scale) instead of qa.blocks (32 per scale).
double dequantized_dot(const WeightMatrix& w, int r, const Activations& qa, int64_t tk, bool super_blocks = false) {
  const int64_t cols = w.cols;
  std::vector<float> wr(static_cast<size_t>(cols));
  row_to_float(w, r, wr.data());
  double sum = 0;
  for (int64_t c = 0; c < cols; ++c) {
    double a;
    if (super_blocks) {
      const BlockQ8KA& k = qa.kblocks[size_t(tk * cols / 256 + c / 256)];
      a = double(k.d) * double(k.qs[c % 256]);
    } else {
      const BlockQ8A& b = qa.blocks[size_t(tk * cols / 32 + c / 32)];
      a = double(b.d) * double(b.qs[c % 32]);
    }
    sum += double(wr[size_t(c)]) * a;
  }
  return sum;
}

bool have_avx2() { return detect_cpu_features().has_avx2_fma(); }

bool have_avx512() {
  const CpuFeatures cpu = detect_cpu_features();
  return cpu.has_avx512() && cpu.avx512vnni && cpu.has_avx2_fma();
}

}  // namespace

TEST(QuantsI8, UnpackIsBitExactWithDequantize) {
  for (GgmlType t : kI8Types) {
    const int64_t n = 512;
    const auto x = random_floats(n, 3);
    std::vector<uint8_t> row(*format::ggml_row_bytes(t, n));
    ASSERT_TRUE(tensor::quantize(t, x.data(), row.data(), n).ok());
    std::vector<float> want(n);
    ASSERT_TRUE(tensor::dequantize(t, row.data(), want.data(), n).ok());
    const tensor::I8Layout lay = tensor::i8_layout(t);
    std::vector<int8_t> q(n);
    std::vector<float> d(n / lay.group), m(n / 32, 0.0f);
    tensor::unpack_row_i8(t, row.data(), n, q.data(), d.data(), m.data());
    for (int64_t i = 0; i < n; ++i) {
      float v = d[i / lay.group] * float(q[i]);
      if (lay.has_min) v = v + m[i / 32];
      ASSERT_EQ(v, want[i]) << format::ggml_type_name(t) << " element " << i;
    }
  }
}

// The AVX2 unpacker (K-quants vectorised, the rest forwarded) against the reference, bit for
// bit: quants, scales and mins.
TEST(QuantsI8, UnpackAvx2MatchesReference) {
  if (!have_avx2()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  for (GgmlType t : kI8Types) {
    const int64_t n = 768;
    const auto x = random_floats(n, 5);
    std::vector<uint8_t> row(*format::ggml_row_bytes(t, n));
    ASSERT_TRUE(tensor::quantize(t, x.data(), row.data(), n).ok());
    const tensor::I8Layout lay = tensor::i8_layout(t);
    std::vector<int8_t> q_want(n), q_got(n, 99);
    std::vector<float> d_want(n / lay.group), d_got(n / lay.group, -1.0f), m_want(n / 32, 0.0f), m_got(n / 32, 0.0f);
    tensor::unpack_row_i8(t, row.data(), n, q_want.data(), d_want.data(), m_want.data());
    unpack_row_i8_avx2(t, row.data(), n, q_got.data(), d_got.data(), m_got.data());
    EXPECT_EQ(q_got, q_want) << format::ggml_type_name(t);
    EXPECT_EQ(d_got, d_want) << format::ggml_type_name(t);
    if (lay.has_min) {
      EXPECT_EQ(m_got, m_want) << format::ggml_type_name(t);
    }
  }
}

TEST(QuantsI8, OnlyIntegerBlockTypesUnpack) {
  EXPECT_TRUE(tensor::can_unpack_i8(GgmlType::Q6_K));
  EXPECT_FALSE(tensor::can_unpack_i8(GgmlType::F16));
  EXPECT_FALSE(tensor::can_unpack_i8(GgmlType::TQ2_0));
  EXPECT_EQ(tensor::i8_layout(GgmlType::Q6_K).group, 16);
  EXPECT_TRUE(tensor::i8_layout(GgmlType::Q4_K).has_min);
  EXPECT_FALSE(tensor::i8_layout(GgmlType::Q8_0).has_min);
}

// The packed-tile reference against plain float math on the dequantized weights and
// dequantized activations: checks the packing and the +128 correction.
TEST(Gemm, I8ReferenceMatchesDequantizedMath) {
  for (GgmlType t : kI8Types) {
    const int64_t cols = 512, n_tok = 3;
    const int rows = 11;  // a partial tile
    Matrix m = random_matrix(t, rows, cols, 50);
    const auto x = random_floats(n_tok * cols, 9);
    const Activations qa = quantize_tokens(x, n_tok, cols);
    GemmPackBuffers buf;
    const GemmI8Tile tile = pack_i8_tile(m.w, 0, rows, buf, vec_dot_kernels_ref());
    std::vector<float> got(size_t(n_tok * rows));
    gemm_i8_ref(tile, qa.act(), n_tok, got.data(), rows, rows);
    for (int64_t tk = 0; tk < n_tok; ++tk)
      for (int r = 0; r < rows; ++r) {
        const double want = dequantized_dot(m.w, r, qa, tk);
        ASSERT_NEAR(got[size_t(tk * rows + r)], want, 1e-3 * (1.0 + std::fabs(want)))
            << format::ggml_type_name(t) << " token " << tk << " row " << r;
      }
  }
}


void check_i8_variant(GemmI8Fn fn) {
  for (GgmlType t : kI8Types) {
    const int64_t cols = 768;
    for (int rows : {16, 5}) {
      Matrix m = random_matrix(t, rows, cols, 70);
      GemmPackBuffers buf;
      const GemmI8Tile tile = pack_i8_tile(m.w, 0, rows, buf, vec_dot_kernels_ref());
      for (int64_t n_tok : {1, 4, 15, 16, 17, 37}) {
        const auto x = random_floats(n_tok * cols, 13);
        const Activations qa = quantize_tokens(x, n_tok, cols);
        const GemmAct act = qa.act();
        // Stride 20 > rows: the kernel must not write past n_rows in a row of y.
        const int64_t stride = 20;
        std::vector<float> want(size_t(n_tok * stride), -7.0f), got(size_t(n_tok * stride), -7.0f);
        gemm_i8_ref(tile, act, n_tok, want.data(), stride, rows);
        fn(tile, act, n_tok, got.data(), stride, rows);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-5 * (1.0 + std::fabs(want[i])))
              << format::ggml_type_name(t) << " rows " << rows << " tokens " << n_tok << " i=" << i;
      }
    }
  }
}

void check_f32_variant(GemmF32Fn fn) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
    const int64_t cols = 200;
    for (int rows : {16, 9}) {
      Matrix m = random_matrix(t, rows, cols, 90);
      GemmPackBuffers buf;
      const GemmF32Tile tile = pack_f32_tile(m.w, 0, rows, buf);
      for (int64_t n_tok : {1, 7, 16, 33}) {
        const int64_t x_stride = cols + 3;
        const auto x = random_floats(n_tok * x_stride, 17);
        const int64_t stride = 19;
        std::vector<float> want(size_t(n_tok * stride), -7.0f), got(size_t(n_tok * stride), -7.0f);
        gemm_f32_ref(tile, x.data(), x_stride, n_tok, want.data(), stride, rows);
        fn(tile, x.data(), x_stride, n_tok, got.data(), stride, rows);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-4 * (1.0 + std::fabs(want[i])))
              << format::ggml_type_name(t) << " rows " << rows << " tokens " << n_tok << " i=" << i;
      }
    }
  }
}

// The whole driver on the GEMM path (≥ kGemmMinTokens tokens, rows not a multiple of 16)
// against matmul_ref on float weights.
void check_matmul_driver(const VecDotKernels& k) {
  ASSERT_NE(k.gemm_i8, nullptr);
  ASSERT_NE(k.gemm_f32, nullptr);
  tensor::ThreadPool pool(2);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16,
                     GgmlType::BF16, GgmlType::F32}) {
    const int64_t rows = 45, cols = 512;
    Matrix m = random_matrix(t, rows, cols, 110);
    for (int64_t n_tok : {kGemmMinTokens, int64_t(21)}) {
      const auto x = random_floats(n_tok * cols, 5);
      std::vector<float> want(size_t(n_tok * rows)), got(size_t(n_tok * rows));
      matmul_ref(m.w, x.data(), n_tok, want.data(), pool);
      MatmulScratch scratch;
      matmul(m.w, x.data(), n_tok, got.data(), pool, k, scratch);
      EXPECT_EQ(scratch.pack.size(), size_t(pool.size())) << "the GEMM path was not taken";
      const double tol = gemm_i8_type(t) ? 0.05 * std::sqrt(double(cols)) : 1e-3;
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], tol) << format::ggml_type_name(t) << " tokens " << n_tok << " i=" << i;
    }
  }
}

TEST(Gemm, I8Avx512MatchesReference) {
  if (!have_avx512()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  check_i8_variant(gemm_i8_avx512);
}

// Also Q4_K/Q5_K (min term) and Q6_K (16-element scales): every kI8Types entry.
TEST(Gemm, I8Avx2MatchesReference) {
  if (!have_avx2()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  check_i8_variant(gemm_i8_avx2);
}

TEST(Gemm, F32Avx512MatchesReference) {
  if (!have_avx512()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  check_f32_variant(gemm_f32_avx512);
}

TEST(Gemm, F32Avx2MatchesReference) {
  if (!have_avx2()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  check_f32_variant(gemm_f32_avx2);
}

TEST(Gemm, MatmulDriverUsesGemmAndMatchesReference) {
  if (!have_avx512()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  check_matmul_driver(vec_dot_kernels_avx512());
}

TEST(Gemm, MatmulDriverUsesAvx2GemmAndMatchesReference) {
  if (!have_avx2()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  check_matmul_driver(vec_dot_kernels_avx2());
}

namespace {

// w packed at load: the owner keeps the buffer alive.
struct PackedMatrix {
  Matrix m;
  std::vector<uint8_t> packed;
};

PackedMatrix packed_matrix(GgmlType t, int64_t rows, int64_t cols, uint32_t seed) {
  PackedMatrix p;
  p.m = random_matrix(t, rows, cols, seed);
  const PackedKind kind = packed_kind_for(t, cols);
  EXPECT_NE(kind, PackedKind::kNone);
  const size_t tb = packed_tile_bytes(kind, cols);
  p.packed.resize(tb * size_t(packed_tiles(rows)));
  for (int64_t tile = 0; tile < packed_tiles(rows); ++tile)
    pack_weight_tile(p.m.w, kind, tile, p.packed.data() + size_t(tile) * tb);
  p.m.w.packed = kind;
  p.m.w.packed_data = p.packed.data();
  return p;
}

}  // namespace

TEST(GemmPacked, KindsAndSizes) {
  EXPECT_EQ(packed_kind_for(GgmlType::Q8_0, 64), PackedKind::kQ8_0x16);
  EXPECT_EQ(packed_kind_for(GgmlType::Q4_0, 64), PackedKind::kQ4_0x16);
  EXPECT_EQ(packed_kind_for(GgmlType::Q5_0, 64), PackedKind::kQ5_0x16);
  EXPECT_EQ(packed_kind_for(GgmlType::F16, 64), PackedKind::kF16x16);
  EXPECT_EQ(packed_kind_for(GgmlType::F16, 40), PackedKind::kNone);  // not whole 32-column blocks
  EXPECT_EQ(packed_kind_for(GgmlType::Q4_K, 256), PackedKind::kQ4_Kx16);
  EXPECT_EQ(packed_kind_for(GgmlType::Q4_K, 320), PackedKind::kNone);  // not whole super-blocks
  EXPECT_EQ(packed_kind_for(GgmlType::Q6_K, 256), PackedKind::kNone);
  // The packed copy has the stored size: 16 rows × the row bytes.
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::F16})
    EXPECT_EQ(packed_tile_bytes(packed_kind_for(t, 512), 512), 16 * *format::ggml_row_bytes(t, 512));
}

// The AVX2 interleave (8 × 8 word transposes, then 4-byte steps for the rest) against the
// scalar one, byte for byte; widths with and without a tail.
TEST(Gemm, InterleaveAvx2MatchesReference) {
  if (!have_avx2()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  for (int64_t cols : {4, 32, 36, 64, 100, 768}) {
    std::vector<int8_t> rows(size_t(16 * cols));
    std::mt19937 rng(static_cast<uint32_t>(cols));
    for (auto& v : rows) v = int8_t(rng());
    std::vector<uint8_t> want(rows.size(), 0x55), got(rows.size(), 0xaa);
    interleave_i8_ref(rows.data(), cols, want.data());
    interleave_i8_avx2(rows.data(), cols, got.data());
    ASSERT_EQ(got, want) << "cols " << cols;
  }
}

// A kernel set packs only the kinds its gemm_packed reads; the loader asks it (weights.cc).
TEST(GemmPacked, KernelSetsSayWhichKindsTheyRead) {
  EXPECT_FALSE(vec_dot_kernels_ref().packs(PackedKind::kQ8_0x16));  // no gemm_packed at all
  const std::initializer_list<PackedKind> common = {PackedKind::kQ8_0x16, PackedKind::kQ4_0x16, PackedKind::kF16x16};
  if (have_avx2()) {  // the tables are built by code compiled for their level
    const VecDotKernels avx2 = vec_dot_kernels_avx2();
    for (PackedKind k : common) EXPECT_TRUE(avx2.packs(k));
    EXPECT_TRUE(avx2.packs(PackedKind::kQ5_0x16));
    EXPECT_TRUE(avx2.packs(PackedKind::kQ4_Kx16));
    EXPECT_FALSE(avx2.packs(PackedKind::kNone));
  }
  if (have_avx512()) {
    const VecDotKernels avx512 = vec_dot_kernels_avx512();
    for (PackedKind k : common) EXPECT_TRUE(avx512.packs(k));
    EXPECT_FALSE(avx512.packs(PackedKind::kQ5_0x16));  // no AVX-512 kernels for these yet
    EXPECT_FALSE(avx512.packs(PackedKind::kQ4_Kx16));
  }
}

// The integer packed tiles through the reference kernel against float math on the dequantized
// weights and activations: checks each layout (the Q5_0 fifth bits above all) and its offset.
TEST(GemmPacked, ReferenceMatchesDequantizedMath) {
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_K}) {
    const int64_t rows = 21, cols = 512, n_tok = 2;
    PackedMatrix p = packed_matrix(t, rows, cols, 170);
    const auto x = random_floats(n_tok * cols, 31);
    const Activations qa = quantize_tokens(x, n_tok, cols);
    std::vector<float> got(size_t(n_tok * rows));
    for (int64_t tile = 0; tile < packed_tiles(rows); ++tile)
      gemm_packed_ref(p.m.w.packed_tile(tile), qa.act(), x.data(), cols, n_tok, got.data() + tile * 16, rows,
                      int(std::min<int64_t>(16, rows - tile * 16)));
    for (int r = 0; r < rows; ++r)
      for (int64_t tk = 0; tk < n_tok; ++tk) {
        const double want = dequantized_dot(p.m.w, r, qa, tk, t == GgmlType::Q4_K);
        ASSERT_NEAR(got[size_t(tk * rows + r)], want, 1e-3 * (1.0 + std::fabs(want)))
            << format::ggml_type_name(t) << " token " << tk << " row " << r;
      }
  }
}

void check_packed_variant(GemmPackedFn fn, std::initializer_list<GgmlType> types) {
  for (GgmlType t : types) {
    const int64_t rows = 37, cols = t == GgmlType::Q4_K ? 512 : 320;
    PackedMatrix p = packed_matrix(t, rows, cols, 130);
    for (int64_t n_tok : {1, 2, 3, 7, 16, 21}) {
      const auto x = random_floats(n_tok * cols, 23);
      const Activations qa = quantize_tokens(x, n_tok, cols);
      const GemmAct act = qa.act();
      std::vector<float> want(size_t(n_tok * rows), -7.0f), got(size_t(n_tok * rows), -7.0f);
      for (int64_t tile = 0; tile < packed_tiles(rows); ++tile) {
        const int nr = int(std::min<int64_t>(16, rows - tile * 16));
        gemm_packed_ref(p.m.w.packed_tile(tile), act, x.data(), cols, n_tok, want.data() + tile * 16, rows, nr);
        fn(p.m.w.packed_tile(tile), act, x.data(), cols, n_tok, got.data() + tile * 16, rows, nr);
      }
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-4 * (1.0 + std::fabs(want[i])))
            << format::ggml_type_name(t) << " tokens " << n_tok << " i=" << i;
    }
  }
}

TEST(GemmPacked, Avx512MatchesReference) {
  if (!have_avx512()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  check_packed_variant(gemm_packed_avx512, {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::F16});
}

// Rows 37: a tile whose upper half has 5 rows and one whose upper half is empty.
TEST(GemmPacked, Avx2MatchesReference) {
  if (!have_avx2()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  check_packed_variant(gemm_packed_avx2,
                       {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::F16});
}

// Packed matrices through the driver, one token (decode) and many, against matmul_ref on the
// stored rows: the packing itself is checked here.
void check_packed_driver(const VecDotKernels& k) {
  ASSERT_NE(k.gemm_packed, nullptr);
  tensor::ThreadPool pool(2);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::F16}) {
    if (!k.packs(packed_kind_for(t, 512))) continue;
    const int64_t rows = 45, cols = 512;
    PackedMatrix p = packed_matrix(t, rows, cols, 150);
    for (int64_t n_tok : {int64_t(1), int64_t(2), int64_t(21)}) {
      const auto x = random_floats(n_tok * cols, 29);
      std::vector<float> want(size_t(n_tok * rows)), got(size_t(n_tok * rows));
      matmul_ref(p.m.w, x.data(), n_tok, want.data(), pool);
      MatmulScratch scratch;
      matmul(p.m.w, x.data(), n_tok, got.data(), pool, k, scratch);
      const double tol = t == GgmlType::F16 ? 1e-3 : 0.05 * std::sqrt(double(cols));
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], tol) << format::ggml_type_name(t) << " tokens " << n_tok << " i=" << i;
    }
  }
}

TEST(GemmPacked, MatmulDriverMatchesReference) {
  if (!have_avx512()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  check_packed_driver(vec_dot_kernels_avx512());
}

TEST(GemmPacked, MatmulDriverMatchesReferenceAvx2) {
  if (!have_avx2()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  check_packed_driver(vec_dot_kernels_avx2());
}

// AVX2 + FMA tiled GEMM kernels of gemm.h, for CPUs without AVX-512. A 16-row tile is two
// 8-lane halves; a pass keeps up to 6 tokens of accumulators in registers (float: both halves,
// 12 of the 16 ymm; integer: one half at a time, whose int32 partial sums need registers too),
// so each weight load serves up to 6 tokens. Scalar references: gemm_ref.cc.
//
// Integer tiles: AVX2 has no vpdpbusd, and vpmaddubsw on the tile's unsigned q + 128 against
// signed activations would saturate (255·127·2 > 32767). So the offset is taken back off
// (q = byte ^ 0x80, signed) and the usual sign trick applied: |q| · (a · sign(q)) sums pairs to
// at most 2·128·127 = 32512, then vpmaddwd with ones widens to int32. Because the weights are
// used signed, the activation-sum correction of the unsigned form (GemmAct::corr) is not needed.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "kernels/gemm.h"

namespace shuo::kernels {

namespace {

// The integer passes need more than the 16 ymm registers if GCC computes every product of a
// group before summing (its default order): pressure-aware scheduling keeps them in registers
// (gemm_bench, Q4_0 × 4 tokens: 0.308 → 0.212 ms). Not for the float passes, where it hoists
// the broadcasts and spills accumulators instead.
#define SHUO_SCHED_FOR_PRESSURE __attribute__((optimize("schedule-insns", "sched-pressure")))

constexpr int kAvx2Tokens = 6;  // tokens per pass: 2 × 6 accumulators + weights fit 16 ymm

inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Σ over 4-column groups of q·a for 8 rows: sign trick (see the top of the file).
inline __m256i dot4x8(__m256i abs_w, __m256i w, __m256i a, __m256i ones16) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(a, w)), ones16);
}

// v shifted left by n bits (right by −n) in 16-bit lanes; the callers keep one bit per byte,
// which for |n| ≤ 4 comes from the same byte. n is a constant once the group loop is unrolled.
inline __m256i shift_bits(__m256i v, int n) {
  return n >= 0 ? _mm256_slli_epi16(v, n) : _mm256_srli_epi16(v, -n);
}

// Lanes of the two halves that hold real rows (of n_rows from the half's first), for vmaskmovps.
struct RowMasks {
  __m256i lo, hi;
};
inline RowMasks row_masks(int n_rows) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return {_mm256_cmpgt_epi32(_mm256_set1_epi32(n_rows), idx), _mm256_cmpgt_epi32(_mm256_set1_epi32(n_rows - 8), idx)};
}

// One pass over T tokens for one 8-row half of the tile (rows 8·half … 8·half + 7): T float
// and T int accumulators plus the weights stay within the 16 ymm registers.
// G: elements per scale (32 or 16); kMin: the tile has a min term.
template <int T, int G, bool kMin>
SHUO_SCHED_FOR_PRESSURE void pass_i8(const GemmI8Tile& w, const BlockQ8A* act, float* y, int64_t y_stride, int half, int n_rows) {
  const int64_t nb = w.cols / 32;
  const int r0 = 8 * half;
  const __m256i flip = _mm256_set1_epi8(char(0x80)), ones16 = _mm256_set1_epi16(1);
  __m256 acc[T];
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    // 8 groups of 4 columns × 16 rows × 4 bytes; this half's rows are bytes 32·half … + 31.
    const uint8_t* q = w.q + size_t(b) * 8 * 64 + 32 * half;
    for (int part = 0; part < 32 / G; ++part) {  // one scale per part
      const int k0 = part * (G / 4), k1 = k0 + G / 4;
      const __m256 dw = _mm256_loadu_ps(w.d + (b * (32 / G) + part) * kGemmRows + r0);
      __m256i s[T];
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) s[t] = _mm256_setzero_si256();
      for (int k = k0; k < k1; ++k) {
        const __m256i wq = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + k * 64)), flip);
        const __m256i abs_w = _mm256_abs_epi8(wq);
#pragma GCC unroll 6
        for (int t = 0; t < T; ++t)
          s[t] = _mm256_add_epi32(s[t], dot4x8(abs_w, wq, bcast4(act[t * nb + b].qs + 4 * k), ones16));
      }
#pragma GCC unroll 6
      for (int t = 0; t < T; ++t)
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), _mm256_mul_ps(dw, _mm256_set1_ps(act[t * nb + b].d)), acc[t]);
    }
    if constexpr (kMin) {
      const __m256 mw = _mm256_loadu_ps(w.m + b * kGemmRows + r0);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(act[t * nb + b].sum), acc[t]);
    }
  }
  const RowMasks mask = row_masks(n_rows - r0);
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) _mm256_maskstore_ps(y + t * y_stride + r0, mask.lo, acc[t]);
}

// Float weights, both halves at once (12 accumulators): column c's 16 row values come from
// load(c, lo, hi) once for every token of the pass. With one or two tokens there would be only
// 2 or 4 FMA chains, each waiting on the previous FMA's latency; S sets of accumulators take
// turns by column (summed at the end) so 8 FMAs are in flight.
template <int T, class LoadColumn>
void pass_float_columns(int64_t cols, LoadColumn load, const float* x, int64_t x_stride, float* y, int64_t y_stride,
                        int n_rows) {
  constexpr int S = T == 1 ? 4 : T == 2 ? 2 : 1;
  __m256 acc[S][T][2];
#pragma GCC unroll 16
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) acc[s][t][0] = acc[s][t][1] = _mm256_setzero_ps();
  // (Written out rather than as a lambda over acc: a captured accumulator array makes GCC keep
  // it in memory and store all of it after every column.)
  int64_t c = 0;
  for (; c + S <= cols; c += S) {
#pragma GCC unroll 4
    for (int s = 0; s < S; ++s) {
      __m256 w_lo, w_hi;
      load(c + s, w_lo, w_hi);
#pragma GCC unroll 6
      for (int t = 0; t < T; ++t) {
        const __m256 xv = _mm256_broadcast_ss(x + t * x_stride + c + s);
        acc[s][t][0] = _mm256_fmadd_ps(w_lo, xv, acc[s][t][0]);
        acc[s][t][1] = _mm256_fmadd_ps(w_hi, xv, acc[s][t][1]);
      }
    }
  }
  for (; c < cols; ++c) {
    __m256 w_lo, w_hi;
    load(c, w_lo, w_hi);
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) {
      const __m256 xv = _mm256_broadcast_ss(x + t * x_stride + c);
      acc[0][t][0] = _mm256_fmadd_ps(w_lo, xv, acc[0][t][0]);
      acc[0][t][1] = _mm256_fmadd_ps(w_hi, xv, acc[0][t][1]);
    }
  }
#pragma GCC unroll 16
  for (int s = 1; s < S; ++s)
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      acc[0][t][0] = _mm256_add_ps(acc[0][t][0], acc[s][t][0]);
      acc[0][t][1] = _mm256_add_ps(acc[0][t][1], acc[s][t][1]);
    }
  const RowMasks mask = row_masks(n_rows);
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    _mm256_maskstore_ps(y + t * y_stride, mask.lo, acc[0][t][0]);
    _mm256_maskstore_ps(y + t * y_stride + 8, mask.hi, acc[0][t][1]);
  }
}

template <int T>
void pass_f32(const GemmF32Tile& w, const float* x, int64_t x_stride, float* y, int64_t y_stride, int n_rows) {
  pass_float_columns<T>(
      w.cols,
      [&](int64_t c, __m256& lo, __m256& hi) {
        lo = _mm256_loadu_ps(w.w + c * kGemmRows);
        hi = _mm256_loadu_ps(w.w + c * kGemmRows + 8);
      },
      x, x_stride, y, y_stride, n_rows);
}

template <int H, int T>
__attribute__((always_inline)) inline void zero_halves(__m256 (&acc)[H][T]) {
#pragma GCC unroll 2
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) acc[h][t] = _mm256_setzero_ps();
}

// Stores a pass's results: acc[h][t] holds rows 8·(half0 + h) … + 7 of token t.
template <int H, int T>
__attribute__((always_inline)) inline void store_halves(const __m256 (&acc)[H][T], float* y, int64_t y_stride,
                                                        int half0, int n_rows) {
#pragma GCC unroll 2
  for (int h = 0; h < H; ++h) {
    const int r0 = 8 * (half0 + h);
    const RowMasks mask = row_masks(n_rows - r0);
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) _mm256_maskstore_ps(y + t * y_stride + r0, mask.lo, acc[h][t]);
  }
}

// Load-time packed tiles (packed.h). A pass covers H 8-row halves starting at half0: H = 2 for
// decode-sized passes (kBothHalvesQ8 / kBothHalvesQ4 tokens), so each 64-byte weight line is used
// whole the one time it streams in from memory; H = 1 for more tokens, whose partial sums need
// the registers (the second half then re-reads the tile from L2).
//   Q8_0x16: quants are q + 128, flipped back to signed for the sign trick (top of the file).
//   Q4_0x16: nibbles u = q + 8 are unsigned already, so vpmaddubsw takes them as they are:
//   pairs reach 2·15·127 = 3810, and all 8 products of a block's 4 groups (lo and hi nibbles)
//   sum to at most 30480 in int16 before one vpmaddwd widens them. Σ (u − 8)·a = Σ u·a − 8·Σ a,
//   with Σ a from GemmAct::corr, exact in int32.
//   Q5_0x16: the same with u = nibble + 16·(fifth bit) — the bit shifted to bit 4 of each byte
//   (packed.h) — and offset 16; a group's pair sums reach 2·2·31·127 = 15748, so each group is
//   widened on its own.
template <int T, int H, PackedKind K>
SHUO_SCHED_FOR_PRESSURE void pass_packed_i8(const PackedTile& w, const BlockQ8A* act, const int32_t* corr, float* y,
                                            int64_t y_stride, int half0, int n_rows) {
  constexpr bool kQ8 = K == PackedKind::kQ8_0x16, kQ5 = K == PackedKind::kQ5_0x16;
  constexpr size_t kQBytes = kQ8 ? 512 : kQ5 ? 320 : 256, kBlock = kQBytes + 32;
  constexpr int32_t kOffset = kQ5 ? 16 : 8;  // of the unsigned nibble kinds
  const int64_t nb = w.cols / 32, ng16 = w.cols / 16;
  const __m256i flip = _mm256_set1_epi8(char(0x80)), ones16 = _mm256_set1_epi16(1);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  __m256 acc[H][T];
  zero_halves<H, T>(acc);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = w.data + size_t(b) * kBlock;
    __m256i s[H][T];  // Q8_0, Q5_0: int32 sums; Q4_0: int16 sums of u·a
#pragma GCC unroll 16
    for (int h = 0; h < H; ++h)
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) s[h][t] = _mm256_setzero_si256();
    __m256i fifth[H];  // Q5_0: this half's fifth bits, 2 per group
    if constexpr (kQ5) {
#pragma GCC unroll 2
      for (int h = 0; h < H; ++h)
        fifth[h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 256 + 32 * (half0 + h)));
    }
#pragma GCC unroll 8
    for (int g = 0; g < (kQ8 ? 8 : 4); ++g) {
#pragma GCC unroll 2
      for (int h = 0; h < H; ++h) {
        const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * g + 32 * (half0 + h)));
        if constexpr (kQ5) {  // as Q4_0 below, plus bit 2g (low) or 2g + 1 (high) moved to bit 4
          const __m256i bit4 = _mm256_set1_epi8(0x10);
          const __m256i lo =
              _mm256_or_si256(_mm256_and_si256(z, low4), _mm256_and_si256(shift_bits(fifth[h], 4 - 2 * g), bit4));
          const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(z, 4), low4),
                                             _mm256_and_si256(shift_bits(fifth[h], 3 - 2 * g), bit4));
#pragma GCC unroll 6
          for (int t = 0; t < T; ++t) {
            const int8_t* qs = act[t * nb + b].qs;
            const __m256i pair = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(qs + 4 * g)),
                                                  _mm256_maddubs_epi16(hi, bcast4(qs + 16 + 4 * g)));
            s[h][t] = _mm256_add_epi32(s[h][t], _mm256_madd_epi16(pair, ones16));
          }
        } else if constexpr (kQ8) {  // group g holds columns 4g…4g+3
          const __m256i q = _mm256_xor_si256(z, flip);
          const __m256i abs_q = _mm256_abs_epi8(q);
#pragma GCC unroll 6
          for (int t = 0; t < T; ++t)
            s[h][t] = _mm256_add_epi32(s[h][t], dot4x8(abs_q, q, bcast4(act[t * nb + b].qs + 4 * g), ones16));
        } else {  // low nibbles: columns 4g…4g+3; high nibbles: 16 + 4g…
          const __m256i lo = _mm256_and_si256(z, low4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(z, 4), low4);
#pragma GCC unroll 6
          for (int t = 0; t < T; ++t) {
            const int8_t* qs = act[t * nb + b].qs;
            s[h][t] = _mm256_add_epi16(s[h][t], _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(qs + 4 * g)),
                                                                 _mm256_maddubs_epi16(hi, bcast4(qs + 16 + 4 * g))));
          }
        }
      }
    }
#pragma GCC unroll 2
    for (int h = 0; h < H; ++h) {
      const int r0 = 8 * (half0 + h);
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + kQBytes + 2 * r0)));
#pragma GCC unroll 6
      for (int t = 0; t < T; ++t) {
        __m256i si = s[h][t];
        if constexpr (!kQ8) {
          const int32_t* c = corr + t * ng16 + 2 * b;
          if constexpr (!kQ5) si = _mm256_madd_epi16(si, ones16);
          si = _mm256_sub_epi32(si, _mm256_set1_epi32(kOffset * (c[0] + c[1])));
        }
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(act[t * nb + b].d));
        acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(si), scale, acc[h][t]);
      }
    }
  }
  store_halves<H, T>(acc, y, y_stride, half0, n_rows);
}

// vpshufb control over vectors of 32-bit words (one per row): the word's byte lo, zero-extended,
// becomes the low int16 of its lane and byte hi the high one.
inline __m256i ctrl_word_bytes(int lo, int hi) {
  const uint32_t one = uint32_t(lo) | 0x8000u | (uint32_t(hi) << 16) | 0x80000000u;
  // Word w of a 128-bit lane starts at byte 4w: add 4w to both selector bytes (bytes 0 and 2).
  return _mm256_setr_epi32(int(one), int(one + 0x00040004u), int(one + 0x00080008u), int(one + 0x000c000cu),
                           int(one), int(one + 0x00040004u), int(one + 0x00080008u), int(one + 0x000c000cu));
}

// Q4_Kx16 tiles (packed.h), H halves from half0 as pass_packed_i8, against 256-element
// activation blocks (GemmAct::kblocks). Per super-block and half, the rows' 6-bit scales and
// mins are decoded from three word vectors (the word arithmetic of k4_scales_mins in
// simd_x86.h) and spread by vpshufb into int16 pairs: [sc, sc] per row for sub-block j,
// [mn_2k, mn_2k+1] per row for sub-blocks 2k, 2k+1. A sub-block's int16 sums (8 groups of 4
// columns, ≤ 8·2·15·127 = 30480) meet the scale pair in vpmaddwd, so a whole super-block sums
// in exact int32 (≤ 8·2·30480·63); the mins meet the activations' sub-block sums the same way.
// One float step per super-block and token: d_a·(d·S − dmin·M).
template <int T, int H>
SHUO_SCHED_FOR_PRESSURE void pass_packed_q4k(const PackedTile& w, const BlockQ8KA* act, float* y, int64_t y_stride,
                                             int half0, int n_rows) {
  const int64_t nsb = w.cols / 256;
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i m3f = _mm256_set1_epi32(0x3f3f3f3f), m0f = _mm256_set1_epi32(0x0f0f0f0f);
  const __m256i m03 = _mm256_set1_epi32(0x03030303);
  __m256 acc[H][T];
  zero_halves<H, T>(acc);
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const uint8_t* blk = w.data + size_t(sb) * 2304;
    alignas(32) __m256i scales[H][8], mins[H][4];
#pragma GCC unroll 2
    for (int h = 0; h < H; ++h) {
      const uint8_t* sw = blk + 2048 + 96 * (half0 + h);
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sw));
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sw + 32));
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sw + 64));
      const __m256i sc[2] = {_mm256_and_si256(a, m3f),
                             _mm256_or_si256(_mm256_and_si256(c, m0f),
                                             _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(a, 6), m03), 4))};
      const __m256i mn[2] = {_mm256_and_si256(b, m3f),
                             _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(c, 4), m0f),
                                             _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(b, 6), m03), 4))};
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) scales[h][j] = _mm256_shuffle_epi8(sc[j / 4], ctrl_word_bytes(j % 4, j % 4));
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) mins[h][k] = _mm256_shuffle_epi8(mn[k / 2], ctrl_word_bytes(2 * (k % 2), 2 * (k % 2) + 1));
    }
    // Per token, the 8 sub-block sums of the activations as int16 pairs (2k, 2k + 1).
    alignas(16) int32_t apairs[T][4];
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const __m128i* bs = reinterpret_cast<const __m128i*>(act[t * nsb + sb].bsums);
      _mm_store_si128(reinterpret_cast<__m128i*>(apairs[t]), _mm_hadd_epi16(_mm_loadu_si128(bs), _mm_loadu_si128(bs + 1)));
    }
    __m256i S[H][T];
#pragma GCC unroll 2
    for (int h = 0; h < H; ++h)
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) S[h][t] = _mm256_setzero_si256();
    // Chunk c's nibble groups: low nibbles are sub-block 2c, high nibbles 2c + 1. With up to two
    // tokens both sub-blocks are summed from one load of each group (2 partial sums per token);
    // more tokens take the chunk twice, low then high, to stay within the registers.
    constexpr int kSides = T <= 2 ? 2 : 1;
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c)
#pragma GCC unroll 2
      for (int side0 = 0; side0 < 2; side0 += kSides)
#pragma GCC unroll 2
        for (int h = 0; h < H; ++h) {
          __m256i p[kSides][T];
#pragma GCC unroll 2
          for (int k = 0; k < kSides; ++k)
#pragma GCC unroll 16
            for (int t = 0; t < T; ++t) p[k][t] = _mm256_setzero_si256();
          const uint8_t* nib = blk + size_t(c) * 8 * 64 + 32 * (half0 + h);
#pragma GCC unroll 8
          for (int i = 0; i < 8; ++i) {
            const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nib + 64 * i));
#pragma GCC unroll 2
            for (int k = 0; k < kSides; ++k) {
              const int j = 2 * c + side0 + k;
              const __m256i v = j % 2 ? _mm256_and_si256(_mm256_srli_epi16(z, 4), low4) : _mm256_and_si256(z, low4);
#pragma GCC unroll 16
              for (int t = 0; t < T; ++t)
                p[k][t] = _mm256_add_epi16(p[k][t], _mm256_maddubs_epi16(v, bcast4(act[t * nsb + sb].qs + 32 * j + 4 * i)));
            }
          }
#pragma GCC unroll 2
          for (int k = 0; k < kSides; ++k) {
            const __m256i sc = _mm256_load_si256(&scales[h][2 * c + side0 + k]);
#pragma GCC unroll 16
            for (int t = 0; t < T; ++t) S[h][t] = _mm256_add_epi32(S[h][t], _mm256_madd_epi16(p[k][t], sc));
          }
        }
#pragma GCC unroll 2
    for (int h = 0; h < H; ++h) {
      const int r0 = 8 * (half0 + h);
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2240 + 2 * r0)));
      const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2272 + 2 * r0)));
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        __m256i M = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k)
          M = _mm256_add_epi32(M, _mm256_madd_epi16(_mm256_load_si256(&mins[h][k]), _mm256_set1_epi32(apairs[t][k])));
        const __m256 da = _mm256_set1_ps(act[t * nsb + sb].d);
        acc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(S[h][t]), _mm256_mul_ps(d, da), acc[h][t]);
        acc[h][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(M), _mm256_mul_ps(dmin, da), acc[h][t]);
      }
    }
  }
  store_halves<H, T>(acc, y, y_stride, half0, n_rows);
}

// pass_packed_q4k with pass_packed_i8's signature, for the tables: Q4_K reads act.kblocks.
template <int T, int H>
void pass_packed_q4k_entry(const PackedTile& w, const GemmAct& act, int64_t t0, float* y, int64_t y_stride, int half0,
                           int n_rows) {
  pass_packed_q4k<T, H>(w, act.kblocks + t0 * (w.cols / 256), y, y_stride, half0, n_rows);
}

// F16x16 tiles: column c of block c / 32 holds the 16 rows' fp16 values (packed.h).
template <int T>
void pass_packed_f16(const PackedTile& w, const float* x, int64_t x_stride, float* y, int64_t y_stride, int n_rows) {
  pass_float_columns<T>(
      w.cols,
      [&](int64_t c, __m256& lo, __m256& hi) {
        const uint8_t* col = w.data + (c / 32) * 1024 + (c % 32) * 32;
        lo = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col)));
        hi = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col + 16)));
      },
      x, x_stride, y, y_stride, n_rows);
}

// Tables of the passes for 1..kAvx2Tokens tokens, so the remainder runs one pass too.
template <int G, bool kMin, size_t... I>
constexpr auto i8_table(std::index_sequence<I...>) {
  using Fn = void (*)(const GemmI8Tile&, const BlockQ8A*, float*, int64_t, int, int);
  return std::array<Fn, sizeof...(I)>{&pass_i8<int(I) + 1, G, kMin>...};
}
template <size_t... I>
constexpr auto f32_table(std::index_sequence<I...>) {
  using Fn = void (*)(const GemmF32Tile&, const float*, int64_t, float*, int64_t, int);
  return std::array<Fn, sizeof...(I)>{&pass_f32<int(I) + 1>...};
}

// The packed integer passes as one signature: tokens t0 … of act.
using PackedPassFn = void (*)(const PackedTile&, const GemmAct&, int64_t t0, float*, int64_t, int, int);
template <int T, int H, PackedKind K>
void pass_packed_i8_entry(const PackedTile& w, const GemmAct& act, int64_t t0, float* y, int64_t y_stride, int half0,
                          int n_rows) {
  pass_packed_i8<T, H, K>(w, act.blocks + t0 * (w.cols / 32), act.corr + t0 * (w.cols / 16), y, y_stride, half0,
                          n_rows);
}
template <PackedKind K, int H, size_t... I>
constexpr auto packed_i8_table(std::index_sequence<I...>) {
  return std::array<PackedPassFn, sizeof...(I)>{&pass_packed_i8_entry<int(I) + 1, H, K>...};
}
template <int H, size_t... I>
constexpr auto packed_q4k_table(std::index_sequence<I...>) {
  return std::array<PackedPassFn, sizeof...(I)>{&pass_packed_q4k_entry<int(I) + 1, H>...};
}
template <size_t... I>
constexpr auto packed_f16_table(std::index_sequence<I...>) {
  using Fn = void (*)(const PackedTile&, const float*, int64_t, float*, int64_t, int);
  return std::array<Fn, sizeof...(I)>{&pass_packed_f16<int(I) + 1>...};
}

constexpr auto kI8G32 = i8_table<32, false>(std::make_index_sequence<kAvx2Tokens>{});
constexpr auto kI8G32Min = i8_table<32, true>(std::make_index_sequence<kAvx2Tokens>{});
constexpr auto kI8G16 = i8_table<16, false>(std::make_index_sequence<kAvx2Tokens>{});
constexpr auto kI8G16Min = i8_table<16, true>(std::make_index_sequence<kAvx2Tokens>{});
constexpr auto kF32 = f32_table(std::make_index_sequence<kAvx2Tokens>{});
// Up to this many tokens a pass covers all 16 rows (gemm_bench, 2 tokens in cache: Q8_0 0.181 →
// 0.161 ms with both halves; Q4_0, whose int16 sums leave fewer registers, 0.127 → 0.154).
constexpr int kBothHalvesQ8 = 2, kBothHalvesQ4 = 1;
// Packed integer passes hold one int32 (Q8_0) or int16 (Q4_0) partial sum per token as well as
// its accumulator; past 4 tokens they spill (gemm_bench: Q4_0 per token 0.053 ms at 4, 0.061 at 6).
constexpr int kPackedI8Tokens = 4;
constexpr auto kPackedQ8 = packed_i8_table<PackedKind::kQ8_0x16, 1>(std::make_index_sequence<kPackedI8Tokens>{});
constexpr auto kPackedQ4 = packed_i8_table<PackedKind::kQ4_0x16, 1>(std::make_index_sequence<kPackedI8Tokens>{});
constexpr auto kPackedQ8Both = packed_i8_table<PackedKind::kQ8_0x16, 2>(std::make_index_sequence<kBothHalvesQ8>{});
constexpr auto kPackedQ4Both = packed_i8_table<PackedKind::kQ4_0x16, 2>(std::make_index_sequence<kBothHalvesQ4>{});
constexpr auto kPackedQ5 = packed_i8_table<PackedKind::kQ5_0x16, 1>(std::make_index_sequence<kPackedI8Tokens>{});
constexpr auto kPackedQ5Both = packed_i8_table<PackedKind::kQ5_0x16, 2>(std::make_index_sequence<kBothHalvesQ4>{});
// Q4_K passes keep a third set of registers (the int32 super-block sums): 2 tokens at most
// (gemm_bench, 8 tokens: 0.81 ms at 2 per pass, 0.77 at 3, 0.83 at 4, which spills the most).
constexpr int kPackedQ4KTokens = 2;
constexpr auto kPackedQ4K = packed_q4k_table<1>(std::make_index_sequence<kPackedQ4KTokens>{});
constexpr auto kPackedQ4KBoth = packed_q4k_table<2>(std::make_index_sequence<kBothHalvesQ4>{});
constexpr auto kPackedF16 = packed_f16_table(std::make_index_sequence<kAvx2Tokens>{});

}  // namespace

void gemm_i8_avx2(const GemmI8Tile& w, const GemmAct& act, int64_t n_tokens, float* y, int64_t y_stride,
                  int n_rows) {
  const auto& table = w.group == 16 ? (w.m ? kI8G16Min : kI8G16) : (w.m ? kI8G32Min : kI8G32);
  const int64_t nb = w.cols / 32;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kAvx2Tokens) {
    const int64_t nt = std::min<int64_t>(kAvx2Tokens, n_tokens - t0);
    table[size_t(nt - 1)](w, act.blocks + t0 * nb, y + t0 * y_stride, y_stride, 0, n_rows);
    if (n_rows > 8) table[size_t(nt - 1)](w, act.blocks + t0 * nb, y + t0 * y_stride, y_stride, 1, n_rows);
  }
}

void gemm_f32_avx2(const GemmF32Tile& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                   int64_t y_stride, int n_rows) {
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kAvx2Tokens) {
    const int64_t nt = std::min<int64_t>(kAvx2Tokens, n_tokens - t0);
    kF32[size_t(nt - 1)](w, x + t0 * x_stride, x_stride, y + t0 * y_stride, y_stride, n_rows);
  }
}

void gemm_packed_avx2(const PackedTile& w, const GemmAct& act, const float* x, int64_t x_stride, int64_t n_tokens,
                      float* y, int64_t y_stride, int n_rows) {
  if (w.kind == PackedKind::kF16x16) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kAvx2Tokens) {
      const size_t i = size_t(std::min<int64_t>(kAvx2Tokens, n_tokens - t0) - 1);
      kPackedF16[i](w, x + t0 * x_stride, x_stride, y + t0 * y_stride, y_stride, n_rows);
    }
    return;
  }
  const PackedPassFn* table = nullptr;  // by tokens − 1, one 8-row half per pass
  const PackedPassFn* both = nullptr;   // by tokens − 1, both halves in one pass
  int n_both = 0, step = kPackedI8Tokens;
  switch (w.kind) {
    case PackedKind::kQ8_0x16: table = kPackedQ8.data(), both = kPackedQ8Both.data(), n_both = kBothHalvesQ8; break;
    case PackedKind::kQ4_0x16: table = kPackedQ4.data(), both = kPackedQ4Both.data(), n_both = kBothHalvesQ4; break;
    case PackedKind::kQ5_0x16: table = kPackedQ5.data(), both = kPackedQ5Both.data(), n_both = kBothHalvesQ4; break;
    case PackedKind::kQ4_Kx16:
      table = kPackedQ4K.data(), both = kPackedQ4KBoth.data(), n_both = kBothHalvesQ4, step = kPackedQ4KTokens;
      break;
    default: return;
  }
  for (int64_t t0 = 0; t0 < n_tokens; t0 += step) {
    const size_t i = size_t(std::min<int64_t>(step, n_tokens - t0) - 1);
    float* yt = y + t0 * y_stride;
    if (int(i) < n_both && n_rows > 8) {
      both[i](w, act, t0, yt, y_stride, 0, n_rows);
    } else {
      table[i](w, act, t0, yt, y_stride, 0, n_rows);
      if (n_rows > 8) table[i](w, act, t0, yt, y_stride, 1, n_rows);
    }
  }
}

void interleave_i8_avx2(const int8_t* rows, int64_t cols, uint8_t* out) {
  const __m256i flip = _mm256_set1_epi8(char(0x80));
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32)  // words c/4 … c/4 + 7 of the 16 rows
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      __m256i r[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i)
        r[i] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + (8 * half + i) * cols + c)), flip);
      // 8 × 8 transpose of 32-bit words: u[k] holds word k (low lane) and k + 4 (high lane)
      // of rows 0..3 (u[k]) and 4..7 (u[4 + k]) of this half.
      __m256i u[8];
#pragma GCC unroll 2
      for (int q = 0; q < 2; ++q) {
        const __m256i t0 = _mm256_unpacklo_epi32(r[4 * q], r[4 * q + 1]), t1 = _mm256_unpackhi_epi32(r[4 * q], r[4 * q + 1]);
        const __m256i t2 = _mm256_unpacklo_epi32(r[4 * q + 2], r[4 * q + 3]), t3 = _mm256_unpackhi_epi32(r[4 * q + 2], r[4 * q + 3]);
        u[4 * q] = _mm256_unpacklo_epi64(t0, t2);
        u[4 * q + 1] = _mm256_unpackhi_epi64(t0, t2);
        u[4 * q + 2] = _mm256_unpacklo_epi64(t1, t3);
        u[4 * q + 3] = _mm256_unpackhi_epi64(t1, t3);
      }
      uint8_t* o = out + ((c / 4) * kGemmRows + 8 * half) * 4;
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + k * 64), _mm256_permute2x128_si256(u[k], u[4 + k], 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + (k + 4) * 64), _mm256_permute2x128_si256(u[k], u[4 + k], 0x31));
      }
    }
  for (; c + 4 <= cols; c += 4)
    for (int r = 0; r < kGemmRows; ++r)
      for (int j = 0; j < 4; ++j) out[((c / 4) * kGemmRows + r) * 4 + j] = uint8_t(rows[r * cols + c + j] ^ 0x80);
}

}  // namespace shuo::kernels

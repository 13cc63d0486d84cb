// AVX2 vec_dot kernels for the K-quants (Q4_K, Q5_K, Q6_K) against int8 super-block
// activations. The 4/5/6-bit weights are unpacked to unsigned bytes and multiplied with
// maddubs; per-sub-block scales are applied with madd in int16, so a whole super-block is summed
// in exact int32 before one float multiply. Mins (Q4_K/Q5_K) and Q6_K's -32 offset come from the
// activation group sums. Compiled with -mavx2 -mfma -mf16c; runs on AVX2 and AVX-512 CPUs.
// References: vec_dot_q*_k_ref in vec_dot_ref.cc (dequantize + dot).
#include <immintrin.h>

#include <cstring>

#include "kernels/simd_x86.h"
#include "kernels/vec_dot.h"

namespace shuo::kernels {

namespace {

// Control for vpshufb over a register whose 128-bit lanes both hold 8 int16: every int16 of
// the low lane becomes element lo, every one of the high lane element hi.
inline __m256i pick_epi16(int lo, int hi) {
  const int16_t l = int16_t((2 * lo) | ((2 * lo + 1) << 8)), h = int16_t((2 * hi) | ((2 * hi + 1) << 8));
  return _mm256_setr_epi16(l, l, l, l, l, l, l, l, h, h, h, h, h, h, h, h);
}

void quantize_act_k_avx2(const float* x, BlockQ8KA* out, int64_t n) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / 256; ++b) {
    const float* xb = x + b * 256;
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 256; i += 8) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, _mm256_loadu_ps(xb + i)));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const __m256 vid = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    for (int g = 0; g < 16; ++g) {
      const __m256i q0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(xb + 16 * g), vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      const __m256i q1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(xb + 16 * g + 8), vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      const __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xd8);  // 16 int16 in order
      const __m128i p8 = _mm_packs_epi16(_mm256_castsi256_si128(p16), _mm256_extracti128_si256(p16, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs + 16 * g), p8);
      out[b].bsums[g] = static_cast<int16_t>(hsum_epi32(_mm256_add_epi32(q0, q1)));
    }
    out[b].d = d;
  }
}

// Q4_K (144 bytes: d, dmin, 12 bytes of scales, 128 of nibbles) and Q5_K (176 bytes: the same
// with 32 bytes of fifth bits before the nibbles) share everything but the fifth bit. The
// scales are widened once per super-block and picked per sub-block with one vpshufb; the mins
// meet the activation group sums in one vpmaddwd; both terms go into a float vector, so a row
// ends with one horizontal sum instead of one per super-block.
template <bool kFifthBit>
float vec_dot_k4(const void* w, const void* x, int64_t n) {
  constexpr int64_t kBlockBytes = kFifthBit ? 176 : 144;
  const uint8_t* p = static_cast<const uint8_t*>(w);
  const BlockQ8KA* xb = static_cast<const BlockQ8KA*>(x);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i one = _mm256_set1_epi8(1);
  __m256 total = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b, p += kBlockBytes) {
    const __m128i sm = k4_scales_mins(p + 4);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));  // both lanes: scales 0..7
    // Mins each twice (one per 16-element activation group), against the 16 group sums.
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));
    const __m256i summ = _mm256_madd_epi16(mins, load_256(xb[b].bsums));
    const uint8_t* qs = p + (kFifthBit ? 48 : 16);
    const __m256i qh = kFifthBit ? load_256(p + 16) : _mm256_setzero_si256();
    __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i q = load_256(qs + 32 * j);
      __m256i lo = _mm256_and_si256(q, low);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
      if constexpr (kFifthBit) {
        // Bit 2j of qh byte l belongs to the low sub-block, bit 2j+1 to the high one.
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), one), 4));
      }
      const __m256i plo = _mm256_maddubs_epi16(lo, load_256(xb[b].qs + 64 * j));
      const __m256i phi = _mm256_maddubs_epi16(hi, load_256(xb[b].qs + 64 * j + 32));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(plo, _mm256_shuffle_epi8(scales, pick_epi16(2 * j, 2 * j))));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(phi, _mm256_shuffle_epi8(scales, pick_epi16(2 * j + 1, 2 * j + 1))));
    }
    total = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(xb[b].d * half_at(p)), total);
    total = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_set1_ps(xb[b].d * half_at(p + 2)), total);
  }
  return hsum_ps(total);
}

float vec_dot_q4_k_avx2(const void* w, const void* x, int64_t n) { return vec_dot_k4<false>(w, x, n); }
float vec_dot_q5_k_avx2(const void* w, const void* x, int64_t n) { return vec_dot_k4<true>(w, x, n); }

// Q6_K (210 bytes: 128 of low nibbles, 64 of high 2-bit pairs, 16 int8 scales, fp16 d);
// value = (q − 32) · d · scale. Scales widened once per super-block (one register per half of
// the block's 16), each 32-element pair of groups picked with one vpshufb; the −32 offset is
// one vpmaddwd of the scales with the activation group sums.
float vec_dot_q6_k_avx2(const void* w, const void* x, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(w);
  const BlockQ8KA* xb = static_cast<const BlockQ8KA*>(x);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i three = _mm256_set1_epi8(3);
  __m256 total = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b, p += 210) {
    const uint8_t* ql = p;
    const uint8_t* qh = p + 128;
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 192)));
    const __m256i offset = _mm256_madd_epi16(sc16, load_256(xb[b].bsums));
    __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      // Both lanes: scales 8h … 8h + 7.
      const __m256i sc = _mm256_permute4x64_epi64(sc16, h == 0 ? 0x44 : 0xee);
      const __m256i A = load_256(ql + 64 * h), B = load_256(ql + 64 * h + 32), H = load_256(qh + 32 * h);
      __m256i u[4];
      u[0] = _mm256_or_si256(_mm256_and_si256(A, low), _mm256_slli_epi16(_mm256_and_si256(H, three), 4));
      u[1] = _mm256_or_si256(_mm256_and_si256(B, low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 2), three), 4));
      u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(A, 4), low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 4), three), 4));
      u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(B, 4), low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 6), three), 4));
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {  // 16-element groups 8h + 2k (low lane) and 8h + 2k + 1 (high lane)
        const __m256i prod = _mm256_maddubs_epi16(u[k], load_256(xb[b].qs + 128 * h + 32 * k));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(prod, _mm256_shuffle_epi8(sc, pick_epi16(2 * k, 2 * k + 1))));
      }
    }
    acc = _mm256_sub_epi32(acc, _mm256_slli_epi32(offset, 5));
    total = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(half_at(p + 208) * xb[b].d), total);
  }
  return hsum_ps(total);
}

}  // namespace

void add_k_quant_kernels_avx2(VecDotKernels& k) {
  k.quantize_act_k = quantize_act_k_avx2;
  k.q4_k = vec_dot_q4_k_avx2;
  k.q5_k = vec_dot_q5_k_avx2;
  k.q6_k = vec_dot_q6_k_avx2;
}

}  // namespace shuo::kernels

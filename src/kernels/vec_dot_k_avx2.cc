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

// The 8 six-bit (scale, min) pairs of a Q4_K/Q5_K super-block (12 packed bytes).
inline void k4_scales(const uint8_t* q, uint8_t* sc, uint8_t* m) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = q[j] & 63;
    m[j] = q[j + 4] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    sc[j] = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
    m[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
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
// with 32 bytes of fifth bits before the nibbles) share everything but the fifth bit.
template <bool kFifthBit>
float vec_dot_k4(const void* w, const void* x, int64_t n) {
  constexpr int64_t kBlockBytes = kFifthBit ? 176 : 144;
  const uint8_t* p = static_cast<const uint8_t*>(w);
  const BlockQ8KA* xb = static_cast<const BlockQ8KA*>(x);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i one = _mm256_set1_epi8(1);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b, p += kBlockBytes) {
    uint8_t sc[8], mn[8];
    k4_scales(p + 4, sc, mn);
    const uint8_t* qs = p + (kFifthBit ? 48 : 16);
    const __m256i qh = kFifthBit ? load_256(p + 16) : _mm256_setzero_si256();
    __m256i acc = _mm256_setzero_si256();
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
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * j])));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * j + 1])));
    }
    int summ = 0;
    for (int i = 0; i < 8; ++i) summ += mn[i] * (xb[b].bsums[2 * i] + xb[b].bsums[2 * i + 1]);
    total += xb[b].d * (half_at(p) * float(hsum_epi32(acc)) - half_at(p + 2) * float(summ));
  }
  return total;
}

float vec_dot_q4_k_avx2(const void* w, const void* x, int64_t n) { return vec_dot_k4<false>(w, x, n); }
float vec_dot_q5_k_avx2(const void* w, const void* x, int64_t n) { return vec_dot_k4<true>(w, x, n); }

float vec_dot_q6_k_avx2(const void* w, const void* x, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(w);
  const BlockQ8KA* xb = static_cast<const BlockQ8KA*>(x);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i three = _mm256_set1_epi8(3);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b, p += 210) {
    const uint8_t* ql = p;
    const uint8_t* qh = p + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(p + 192);
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i A = load_256(ql + 64 * h), B = load_256(ql + 64 * h + 32), H = load_256(qh + 32 * h);
      __m256i u[4];
      u[0] = _mm256_or_si256(_mm256_and_si256(A, low), _mm256_slli_epi16(_mm256_and_si256(H, three), 4));
      u[1] = _mm256_or_si256(_mm256_and_si256(B, low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 2), three), 4));
      u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(A, 4), low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 4), three), 4));
      u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(B, 4), low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 6), three), 4));
      for (int k = 0; k < 4; ++k) {
        const int g = 8 * h + 2 * k;  // 16-element groups g and g+1
        const __m256i prod = _mm256_maddubs_epi16(u[k], load_256(xb[b].qs + 128 * h + 32 * k));
        const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(prod, scale));
      }
    }
    int offset = 0;
    for (int g = 0; g < 16; ++g) offset += sc[g] * xb[b].bsums[g];
    total += half_at(p + 208) * xb[b].d * float(hsum_epi32(acc) - 32 * offset);
  }
  return total;
}

}  // namespace

void add_k_quant_kernels_avx2(VecDotKernels& k) {
  k.quantize_act_k = quantize_act_k_avx2;
  k.q4_k = vec_dot_q4_k_avx2;
  k.q5_k = vec_dot_q5_k_avx2;
  k.q6_k = vec_dot_q6_k_avx2;
}

}  // namespace shuo::kernels

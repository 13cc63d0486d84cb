// AVX2 unpacking of K-quant rows to int8 + scales for the per-call GEMM tiles (gemm_pack.cc):
// the same quants and scales as tensor::unpack_row_i8, the reference (bit-exact, tested), with
// the nibble and bit work done 32 bytes at a time. Batched decode repacks every K-quant weight
// on every step, so this runs once per weight byte per step. Other types go to the reference.
#include <immintrin.h>

#include <cstring>

#include "kernels/gemm.h"
#include "kernels/simd_x86.h"
#include "tensor/quants_i8.h"

namespace shuo::kernels {

namespace {

// 8 bytes → 8 floats × f (exactly float(byte) · f, as the reference computes it).
inline __m256 scaled(__m128i bytes8, bool is_signed, float f) {
  const __m256i v = is_signed ? _mm256_cvtepi8_epi32(bytes8) : _mm256_cvtepu8_epi32(bytes8);
  return _mm256_mul_ps(_mm256_set1_ps(f), _mm256_cvtepi32_ps(v));
}

inline __m256i load_32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline void store_32(int8_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }

// Q4_K (144 bytes: d, dmin, 12 bytes of 6-bit scales and mins, 128 of nibbles): sub-block j's
// scale d·sc[j] and min −dmin·mn[j]; chunk i's low nibbles are sub-block 2i, high 2i + 1.
void unpack_q4_k(const uint8_t* src, int64_t nb, int8_t* q, float* d, float* m) {
  const __m256i low = _mm256_set1_epi8(0x0f);
  for (int64_t b = 0; b < nb; ++b, src += 144, q += 256, d += 8, m += 8) {
    const float dd = half_at(src), dmin = half_at(src + 2);
    const __m128i sm = k4_scales_mins(src + 4);  // scales 0..7, then mins 0..7
    _mm256_storeu_ps(d, scaled(sm, false, dd));
    _mm256_storeu_ps(m, _mm256_xor_ps(scaled(_mm_srli_si128(sm, 8), false, dmin), _mm256_set1_ps(-0.0f)));
    for (int i = 0; i < 4; ++i) {
      const __m256i v = load_32(src + 16 + 32 * i);
      store_32(q + 64 * i, _mm256_and_si256(v, low));
      store_32(q + 64 * i + 32, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
    }
  }
}

// Q6_K (210 bytes: 128 of low nibbles, 64 of 2-bit high parts, 16 int8 scales, fp16 d):
// value (q − 32)·d·sc[g] for 16-element group g.
void unpack_q6_k(const uint8_t* src, int64_t nb, int8_t* q, float* d) {
  const __m256i low = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
  for (int64_t b = 0; b < nb; ++b, src += 210, q += 256, d += 16) {
    const float dd = half_at(src + 208);
    _mm256_storeu_ps(d, scaled(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 192)), true, dd));
    _mm256_storeu_ps(d + 8, scaled(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 200)), true, dd));
    for (int h = 0; h < 2; ++h) {
      const __m256i A = load_32(src + 64 * h), B = load_32(src + 64 * h + 32), H = load_32(src + 128 + 32 * h);
      const auto put = [&](int at, __m256i nib, int shift) {
        const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, shift), three), 4);
        store_32(q + 128 * h + at, _mm256_sub_epi8(_mm256_or_si256(nib, hi), k32));
      };
      put(0, _mm256_and_si256(A, low), 0);
      put(32, _mm256_and_si256(B, low), 2);
      put(64, _mm256_and_si256(_mm256_srli_epi16(A, 4), low), 4);
      put(96, _mm256_and_si256(_mm256_srli_epi16(B, 4), low), 6);
    }
  }
}

}  // namespace

void unpack_row_i8_avx2(format::GgmlType t, const uint8_t* row, int64_t n, int8_t* q, float* d, float* m) {
  switch (t) {
    case format::GgmlType::Q4_K: return unpack_q4_k(row, n / 256, q, d, m);
    case format::GgmlType::Q6_K: return unpack_q6_k(row, n / 256, q, d);
    default: return tensor::unpack_row_i8(t, row, n, q, d, m);
  }
}

}  // namespace shuo::kernels

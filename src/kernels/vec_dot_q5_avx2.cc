// AVX2 vec_dot kernels for the 32-element legacy types with a minimum or a fifth bit: Q4_1,
// Q5_0, Q5_1 (Qwen2 Q4_K_M files store many tensors as Q5_0 because 896 is not a multiple of
// 256). Weights become unsigned bytes (nibble, plus 16 for the fifth bit) and go through maddubs
// with the int8 activations; Q5_0's -16 offset and the Q4_1/Q5_1 minimum come from the
// activation block sums. Compiled with -mavx2 -mfma -mf16c. References: vec_dot_ref.cc.
#include <immintrin.h>

#include <cstring>

#include "kernels/simd_x86.h"
#include "kernels/vec_dot.h"

namespace shuo::kernels {

namespace {

// 16 packed bytes → 32 nibbles: low nibbles are elements 0..15, high nibbles 16..31.
inline __m256i nibbles(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0f));
}

// 32 bits → 32 bytes, 0x10 where bit j of the little-endian word is set (byte j).
inline __m256i fifth_bits(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(int(bits)),
                                  _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                                     0x0202020202020202, 0x0303030303030303));
  // Set every bit except bit (j % 8); a byte is all ones exactly when its own bit was set.
  v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_and_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(0x10));
}

inline __m256 dot_u8_i8(__m256i u, const int8_t* x) {
  const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(u, xq), _mm256_set1_epi16(1)));
}

// Q4_1 block (20 bytes): fp16 d, fp16 m, 16 bytes of nibbles; value = nibble * d + m.
float vec_dot_q4_1_avx2(const void* w, const void* x, int64_t n) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const BlockQ8A* xb = static_cast<const BlockQ8A*>(x);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b, wb += 20) {
    acc = _mm256_fmadd_ps(dot_u8_i8(nibbles(wb + 4), xb[b].qs), _mm256_set1_ps(half_at(wb) * xb[b].d), acc);
    mins += half_at(wb + 2) * xb[b].sum;
  }
  return hsum_ps(acc) + mins;
}

// Q5_0 block (22 bytes): fp16 d, 4 bytes of fifth bits, 16 bytes of nibbles; value = (q - 16) * d.
float vec_dot_q5_0_avx2(const void* w, const void* x, int64_t n) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const BlockQ8A* xb = static_cast<const BlockQ8A*>(x);
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b, wb += 22) {
    const __m256i u = _mm256_or_si256(nibbles(wb + 6), fifth_bits(wb + 2));
    const float d = half_at(wb);
    acc = _mm256_fmadd_ps(dot_u8_i8(u, xb[b].qs), _mm256_set1_ps(d * xb[b].d), acc);
    offset += d * xb[b].sum;
  }
  return hsum_ps(acc) - 16.0f * offset;
}

// Q5_1 block (24 bytes): fp16 d, fp16 m, 4 bytes of fifth bits, 16 bytes of nibbles;
// value = q * d + m.
float vec_dot_q5_1_avx2(const void* w, const void* x, int64_t n) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const BlockQ8A* xb = static_cast<const BlockQ8A*>(x);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b, wb += 24) {
    const __m256i u = _mm256_or_si256(nibbles(wb + 8), fifth_bits(wb + 4));
    acc = _mm256_fmadd_ps(dot_u8_i8(u, xb[b].qs), _mm256_set1_ps(half_at(wb) * xb[b].d), acc);
    mins += half_at(wb + 2) * xb[b].sum;
  }
  return hsum_ps(acc) + mins;
}

}  // namespace

void add_q4_1_q5_kernels_avx2(VecDotKernels& k) {
  k.q4_1 = vec_dot_q4_1_avx2;
  k.q5_0 = vec_dot_q5_0_avx2;
  k.q5_1 = vec_dot_q5_1_avx2;
}

}  // namespace shuo::kernels

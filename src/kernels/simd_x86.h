// Small x86 SIMD helpers shared by the *_avx2.cc / *_avx512.cc kernel files. Everything here is
// in an anonymous namespace on purpose: each kernel file is compiled with its own ISA flags, and
// internal linkage keeps the linker from merging an AVX-512-compiled copy into AVX2 code (an
// ODR-merged inline function would be an illegal instruction on an AVX2-only CPU).
// Include only from files compiled with at least -mavx2 -mfma -mf16c.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace shuo::kernels {
namespace {  // NOLINT(google-build-namespaces): see the comment at the top

// The IEEE half at p (unaligned), as float.
inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_hadd_epi32(s, s);
  s = _mm_hadd_epi32(s, s);
  return _mm_cvtsi128_si32(s);
}

inline __m256i load_256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// A bf16 at p (unaligned) as float: the 16 bits are the float's high half.
inline float bf16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace
}  // namespace shuo::kernels

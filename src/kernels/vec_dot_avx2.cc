// AVX2 + FMA + F16C vec_dot kernels (compiled with -mavx2 -mfma -mf16c; called only when the
// CPU has them). Scalar references: vec_dot_ref.cc. Only intrinsics and plain C++ here, so no
// inline function compiled with these flags can leak into code run on older CPUs.
#include <immintrin.h>

#include <cstring>

#include "kernels/gemm.h"
#include "kernels/simd_x86.h"
#include "kernels/vec_dot.h"

namespace shuo::kernels {

namespace {

// Σ of 32 int8 products of signed w and signed x, as 8 int32 lanes.
inline __m256i dot_i8(__m256i w, __m256i x) {
  const __m256i aw = _mm256_sign_epi8(w, w);          // |w|, unsigned
  const __m256i sx = _mm256_sign_epi8(x, w);          // x with w's sign
  const __m256i p16 = _mm256_maddubs_epi16(aw, sx);   // pairs → int16 (|w|≤128, |x|≤127: no overflow)
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

// Σ of 32 products of unsigned u (0..15) and signed x.
inline __m256i dot_u4_i8(__m256i u, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1));
}

void quantize_act_avx2(const float* x, BlockQ8A* out, int64_t n) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + b * 32;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
      v[j] = _mm256_loadu_ps(xb + 8 * j);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[j]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int j = 0; j < 4; ++j)
      q[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[j], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i sum32 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    // Pack 32 int32 → 32 int8 in order (packs work within 128-bit lanes; fix with a permute).
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
    __m256i p = _mm256_packs_epi16(p01, p23);
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs), p);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum32), _mm256_extracti128_si256(sum32, 1));
    s = _mm_hadd_epi32(s, s);
    s = _mm_hadd_epi32(s, s);
    out[b].d = d;
    out[b].sum = d * float(_mm_cvtsi128_si32(s));
  }
}

float vec_dot_f32_avx2(const void* w, const void* x, int64_t n) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  float s = hsum_ps(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float vec_dot_f16_avx2(const void* w, const void* x, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  const float* b = static_cast<const float*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * i)));
    const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * i + 16)));
    acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(b + i + 8), acc1);
  }
  float s = hsum_ps(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += half_at(a + 2 * i) * b[i];
  return s;
}

float vec_dot_bf16_avx2(const void* w, const void* x, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  const float* b = static_cast<const float*>(x);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * i)));
    const __m256 wf = _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
    acc = _mm256_fmadd_ps(wf, _mm256_loadu_ps(b + i), acc);
  }
  float s = hsum_ps(acc);
  for (; i < n; ++i) s += bf16_at(a + 2 * i) * b[i];
  return s;
}

float vec_dot_q8_0_avx2(const void* w, const void* x, int64_t n) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const BlockQ8A* xb = static_cast<const BlockQ8A*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b, wb += 34) {
    const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 2));
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b].qs));
    const __m256 scale = _mm256_set1_ps(half_at(wb) * xb[b].d);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8(wq, xq)), scale, acc);
  }
  return hsum_ps(acc);
}

float vec_dot_q4_0_avx2(const void* w, const void* x, int64_t n) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const BlockQ8A* xb = static_cast<const BlockQ8A*>(x);
  const __m256i low = _mm256_set1_epi8(0x0f);
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b, wb += 18) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + 2));
    // Elements 0..15 are the low nibbles, 16..31 the high nibbles.
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes);
    const __m256i u = _mm256_and_si256(both, low);
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b].qs));
    const float dw = half_at(wb);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u4_i8(u, xq)), _mm256_set1_ps(dw * xb[b].d), acc);
    offset += dw * xb[b].sum;
  }
  return hsum_ps(acc) - 8.0f * offset;
}

}  // namespace

VecDotKernels vec_dot_kernels_avx2() {
  VecDotKernels k;
  k.isa = "avx2";
  k.quantize_act = quantize_act_avx2;
  k.f32 = vec_dot_f32_avx2;
  k.f16 = vec_dot_f16_avx2;
  k.bf16 = vec_dot_bf16_avx2;
  k.q8_0 = vec_dot_q8_0_avx2;
  k.q4_0 = vec_dot_q4_0_avx2;
  add_k_quant_kernels_avx2(k);
  add_q4_1_q5_kernels_avx2(k);
  k.gemm_i8 = gemm_i8_avx2;
  k.gemm_f32 = gemm_f32_avx2;
  k.unpack_i8 = unpack_row_i8_avx2;
  k.interleave_i8 = interleave_i8_avx2;
  k.gemm_packed = gemm_packed_avx2;
  k.packed_kinds = packed_kind_bits({PackedKind::kQ8_0x16, PackedKind::kQ4_0x16, PackedKind::kF16x16, PackedKind::kQ5_0x16,
                                    PackedKind::kQ4_Kx16});
  return k;
}

}  // namespace shuo::kernels

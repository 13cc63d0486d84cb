// AVX-512 (F/BW/VL/DQ + VNNI) vec_dot kernels: two quant blocks per 512-bit register, integer
// dot products with vpdpbusd. Compiled with the AVX-512 flags; called only when the CPU has
// them. Scalar references: vec_dot_ref.cc. Only intrinsics and plain C++ in this file.
#include <immintrin.h>

#include <cstring>

#include "kernels/gemm.h"
#include "kernels/simd_x86.h"
#include "kernels/vec_dot.h"

namespace shuo::kernels {

namespace {

inline __m512 scales2(float s0, float s1) {
  return _mm512_insertf32x8(_mm512_set1_ps(s0), _mm256_set1_ps(s1), 1);
}

inline __m512i load2x32(const uint8_t* a, const uint8_t* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), 1);
}

// Σ w·x over int8 lanes (signed × signed) in int32 groups of 4: |w| unsigned, x takes w's sign.
inline __m512i dot_i8(__m512i w, __m512i x) {
  const __m512i aw = _mm512_abs_epi8(w);
  const __mmask64 neg = _mm512_movepi8_mask(w);
  const __m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), aw, sx);
}

// One block (32 lanes) of the same, for odd block counts. GCC 12 miscompiles plain scalar
// int8×int8 loops under -mavx512vnni (it vectorizes them with the unsigned×signed vpdpbusd),
// so tails use intrinsics too; no scalar integer dot loops in this file.
inline int32_t dot_i8_block(const uint8_t* w, const int8_t* x) {
  const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  const __m256i sx = _mm256_mask_sub_epi8(xv, _mm256_movepi8_mask(wv), _mm256_setzero_si256(), xv);
  const __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(wv), sx);
  return hsum_epi32(d);
}

inline int32_t dot_u4_block(const uint8_t* packed, const int8_t* x) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
  const __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0f));
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  const __m256i d = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, xv);
  return hsum_epi32(d);
}

// The 64 unsigned nibbles of two consecutive Q4_0 blocks at p (18 bytes each): per block, low
// nibbles are elements 0..15 and high nibbles 16..31.
inline __m512i q4_0_pair_nibbles(const uint8_t* p) {
  const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
  const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 20));
  const __m256i n0 = _mm256_set_m128i(_mm_srli_epi16(b0, 4), b0);
  const __m256i n1 = _mm256_set_m128i(_mm_srli_epi16(b1, 4), b1);
  return _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(n0), n1, 1), _mm512_set1_epi8(0x0f));
}

void quantize_act_avx512(const float* x, BlockQ8A* out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + b * 32;
    const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs + 16), _mm512_cvtsepi32_epi8(q1));
    out[b].d = d;
    out[b].sum = d * float(_mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1)));
  }
}

float vec_dot_f32_avx512(const void* w, const void* x, int64_t n) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i < n) {  // masked tail
    const int64_t left = n - i;
    const __mmask16 m0 = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, a + i), _mm512_maskz_loadu_ps(m0, b + i), acc0);
    if (left > 16) {
      const __mmask16 m1 = __mmask16((1u << (left - 16)) - 1);
      acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, a + i + 16), _mm512_maskz_loadu_ps(m1, b + i + 16), acc1);
    }
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

float vec_dot_f16_avx512(const void* w, const void* x, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  const float* b = static_cast<const float*>(x);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 2 * i)));
    const __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 2 * i + 32)));
    acc0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(b + i + 16), acc1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  for (; i < n; ++i) s += half_at(a + 2 * i) * b[i];
  return s;
}

float vec_dot_bf16_avx512(const void* w, const void* x, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  const float* b = static_cast<const float*>(x);
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 2 * i)));
    acc = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(h, 16)), _mm512_loadu_ps(b + i), acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  for (; i < n; ++i) s += bf16_at(a + 2 * i) * b[i];
  return s;
}

float vec_dot_q8_0_avx512(const void* w, const void* x, int64_t n) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const BlockQ8A* xb = static_cast<const BlockQ8A*>(x);
  const int64_t nb = n / 32;
  __m512 acc = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2, wb += 68) {
    const __m512i wq = load2x32(wb + 2, wb + 36);
    const __m512i xq = load2x32(reinterpret_cast<const uint8_t*>(xb[b].qs), reinterpret_cast<const uint8_t*>(xb[b + 1].qs));
    const __m512 s = scales2(half_at(wb) * xb[b].d, half_at(wb + 34) * xb[b + 1].d);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_i8(wq, xq)), s, acc);
  }
  float sum = _mm512_reduce_add_ps(acc);
  if (b < nb) sum += half_at(wb) * xb[b].d * float(dot_i8_block(wb + 2, xb[b].qs));  // odd count
  return sum;
}

float vec_dot_q4_0_avx512(const void* w, const void* x, int64_t n) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const BlockQ8A* xb = static_cast<const BlockQ8A*>(x);
  const int64_t nb = n / 32;
  __m512 acc = _mm512_setzero_ps();
  float offset = 0.0f;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2, wb += 36) {
    const __m512i u = q4_0_pair_nibbles(wb);
    const __m512i xq = load2x32(reinterpret_cast<const uint8_t*>(xb[b].qs), reinterpret_cast<const uint8_t*>(xb[b + 1].qs));
    const float d0 = half_at(wb), d1 = half_at(wb + 18);
    const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, xq);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scales2(d0 * xb[b].d, d1 * xb[b + 1].d), acc);
    offset += d0 * xb[b].sum + d1 * xb[b + 1].sum;
  }
  float sum = _mm512_reduce_add_ps(acc) - 8.0f * offset;
  if (b < nb) sum += half_at(wb) * (xb[b].d * float(dot_u4_block(wb + 2, xb[b].qs)) - 8.0f * xb[b].sum);
  return sum;
}

// Four tokens against one Q8_0 row: |w| and w's sign mask are computed once per block pair.
void vec_dot_q8_0_x4_avx512(const void* w, const void* act, int64_t stride, int64_t n, float* out) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const uint8_t* a = static_cast<const uint8_t*>(act);
  const BlockQ8A* xs[4];
  for (int t = 0; t < 4; ++t) xs[t] = reinterpret_cast<const BlockQ8A*>(a + t * stride);
  const int64_t nb = n / 32;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2, wb += 68) {
    const __m512i wq = load2x32(wb + 2, wb + 36);
    const __m512i aw = _mm512_abs_epi8(wq);
    const __mmask64 neg = _mm512_movepi8_mask(wq);
    const __m512 dw = scales2(half_at(wb), half_at(wb + 34));
    for (int t = 0; t < 4; ++t) {
      const __m512i xq = load2x32(reinterpret_cast<const uint8_t*>(xs[t][b].qs), reinterpret_cast<const uint8_t*>(xs[t][b + 1].qs));
      const __m512i sx = _mm512_mask_sub_epi8(xq, neg, _mm512_setzero_si512(), xq);
      const __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), aw, sx);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(dw, scales2(xs[t][b].d, xs[t][b + 1].d)), acc[t]);
    }
  }
  for (int t = 0; t < 4; ++t) {
    out[t] = _mm512_reduce_add_ps(acc[t]);
    if (b < nb) out[t] += half_at(wb) * xs[t][b].d * float(dot_i8_block(wb + 2, xs[t][b].qs));
  }
}

// Four tokens against one Q4_0 row: the nibbles are unpacked once per block pair.
void vec_dot_q4_0_x4_avx512(const void* w, const void* act, int64_t stride, int64_t n, float* out) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const uint8_t* a = static_cast<const uint8_t*>(act);
  const BlockQ8A* xs[4];
  for (int t = 0; t < 4; ++t) xs[t] = reinterpret_cast<const BlockQ8A*>(a + t * stride);
  const int64_t nb = n / 32;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  float offset[4] = {0, 0, 0, 0};
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2, wb += 36) {
    const __m512i u = q4_0_pair_nibbles(wb);
    const float d0 = half_at(wb), d1 = half_at(wb + 18);
    const __m512 dw = scales2(d0, d1);
    for (int t = 0; t < 4; ++t) {
      const __m512i xq = load2x32(reinterpret_cast<const uint8_t*>(xs[t][b].qs), reinterpret_cast<const uint8_t*>(xs[t][b + 1].qs));
      const __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, xq);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(dw, scales2(xs[t][b].d, xs[t][b + 1].d)), acc[t]);
      offset[t] += d0 * xs[t][b].sum + d1 * xs[t][b + 1].sum;
    }
  }
  for (int t = 0; t < 4; ++t) {
    out[t] = _mm512_reduce_add_ps(acc[t]) - 8.0f * offset[t];
    if (b < nb) out[t] += half_at(wb) * (xs[t][b].d * float(dot_u4_block(wb + 2, xs[t][b].qs)) - 8.0f * xs[t][b].sum);
  }
}

}  // namespace

VecDotKernels vec_dot_kernels_avx512() {
  VecDotKernels k;
  k.isa = "avx512";
  k.quantize_act = quantize_act_avx512;
  k.f32 = vec_dot_f32_avx512;
  k.f16 = vec_dot_f16_avx512;
  k.bf16 = vec_dot_bf16_avx512;
  k.q8_0 = vec_dot_q8_0_avx512;
  k.q4_0 = vec_dot_q4_0_avx512;
  k.q8_0_x4 = vec_dot_q8_0_x4_avx512;
  k.q4_0_x4 = vec_dot_q4_0_x4_avx512;
  add_k_quant_kernels_avx2(k);
  add_q4_1_q5_kernels_avx2(k);
  k.gemm_i8 = gemm_i8_avx512;
  k.gemm_f32 = gemm_f32_avx512;
  k.unpack_i8 = unpack_row_i8_avx2;  // AVX-512 machines have AVX2
  k.interleave_i8 = interleave_i8_avx2;
  k.gemm_packed = gemm_packed_avx512;
  k.packed_kinds = packed_kind_bits({PackedKind::kQ8_0x16, PackedKind::kQ4_0x16, PackedKind::kF16x16});
  return k;
}

}  // namespace shuo::kernels

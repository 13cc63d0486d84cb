// AVX-512 variants of the element-wise ops (ops.h). Scalar references: ops_ref.cc.
#include <immintrin.h>

#include <cmath>

#include "kernels/ops.h"
#include "kernels/simd_x86.h"

namespace shuo::kernels {

void swiglu_avx512(const float* gate, const float* up, int64_t n, float* out) {
  const __m512 one = _mm512_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(silu, _mm512_loadu_ps(up + i)));
  }
  if (i < n) swiglu_ref(gate + i, up + i, n - i, out + i);
}

void gelu_avx512(const float* x, int64_t n, float* out) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
  const __m512 c = _mm512_set1_ps(0.79788456080286535588f), a = _mm512_set1_ps(0.044715f);
  const __m512 lo = _mm512_set1_ps(-10.0f), hi = _mm512_set1_ps(10.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __m512 h = _mm512_cvtph_ps(_mm512_cvtps_ph(v, kRound));
    const __m512 u = _mm512_mul_ps(_mm512_mul_ps(c, h), _mm512_fmadd_ps(_mm512_mul_ps(a, h), h, one));
    // tanh(u) = sign(u)·(1 - e)/(1 + e) with e = e^(-2|u|) ∈ (0, 1]: accurate to a few ulp over
    // the whole range (no overflow, no cancellation near ±1). Then 0.5·h·(1 + t) in float, as
    // the reference (and llama.cpp's table) computes it, so the two round alike.
    const __m512 abs_u = _mm512_abs_ps(u);
    const __m512 e = exp_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f), abs_u));
    const __m512 t_abs = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
    const __m512 t = _mm512_mask_sub_ps(t_abs, _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_LT_OQ),
                                        _mm512_setzero_ps(), t_abs);
    const __m512 g = _mm512_mul_ps(_mm512_mul_ps(half, h), _mm512_add_ps(one, t));
    __m512 y = _mm512_cvtph_ps(_mm512_cvtps_ph(g, kRound));
    y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LE_OQ), y, _mm512_setzero_ps());
    y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, hi, _CMP_GE_OQ), y, v);
    _mm512_storeu_ps(out + i, y);
  }
  if (i < n) gelu_ref(x + i, n - i, out + i);
}

}  // namespace shuo::kernels

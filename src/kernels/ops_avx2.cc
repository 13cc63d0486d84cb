// AVX2 + FMA + F16C variants of the element-wise ops (ops.h), the AVX-512 ones (ops_avx512.cc)
// at 8 lanes. Scalar references: ops_ref.cc.
#include <immintrin.h>

#include <cmath>

#include "kernels/ops.h"
#include "kernels/simd_x86.h"

namespace shuo::kernels {

void swiglu_avx2(const float* gate, const float* up, int64_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, exp256_ps(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  if (i < n) swiglu_ref(gate + i, up + i, n - i, out + i);
}

void gelu_avx2(const float* x, int64_t n, float* out) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f), zero = _mm256_setzero_ps();
  const __m256 c = _mm256_set1_ps(0.79788456080286535588f), a = _mm256_set1_ps(0.044715f);
  const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 h = _mm256_cvtph_ps(_mm256_cvtps_ph(v, kRound));
    const __m256 u = _mm256_mul_ps(_mm256_mul_ps(c, h), _mm256_fmadd_ps(_mm256_mul_ps(a, h), h, one));
    // tanh(u) = sign(u)·(1 - e)/(1 + e), e = e^(-2|u|), as in gelu_avx512.
    const __m256 e = exp256_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f), _mm256_andnot_ps(sign, u)));
    const __m256 t_abs = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    const __m256 t = _mm256_blendv_ps(t_abs, _mm256_sub_ps(zero, t_abs), _mm256_cmp_ps(u, zero, _CMP_LT_OQ));
    const __m256 g = _mm256_mul_ps(_mm256_mul_ps(half, h), _mm256_add_ps(one, t));
    __m256 y = _mm256_cvtph_ps(_mm256_cvtps_ph(g, kRound));
    y = _mm256_blendv_ps(y, zero, _mm256_cmp_ps(v, lo, _CMP_LE_OQ));
    y = _mm256_blendv_ps(y, v, _mm256_cmp_ps(v, hi, _CMP_GE_OQ));
    _mm256_storeu_ps(out + i, y);
  }
  if (i < n) gelu_ref(x + i, n - i, out + i);
}

}  // namespace shuo::kernels

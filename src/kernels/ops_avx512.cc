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

}  // namespace shuo::kernels

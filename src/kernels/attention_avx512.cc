// AVX-512 attention over the paged cache: 16-wide dot products for the scores and 16-wide
// multiply-adds for the weighted sum of values. Same contract and results (up to float
// summation order) as attention_ref in attention_ref.cc; compiled with AVX-512 flags and only
// called when the CPU has them. Head dims that are not a multiple of 16 use masked tails.
#include <immintrin.h>

#include <cmath>
#include <vector>

#include "kernels/attention.h"

namespace shuo::kernels {

namespace {

inline __mmask16 tail_mask(int n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

inline float dot(const float* a, const float* b, int n) {
  __m512 acc = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace

void attention_avx512(const float* q, int64_t n_tokens, int32_t pos0, const KvBlocksView& kv,
                      const AttentionShape& s, float* out, tensor::ThreadPool& pool) {
  const int32_t bs = kv.block_size;
  const int group = s.n_head / s.n_head_kv;
  const int hd = s.head_dim;
  const int64_t q_stride = int64_t(s.n_head) * hd;
  const int64_t kv_stride = int64_t(s.n_head_kv) * hd;
  pool.parallel_for(n_tokens * s.n_head, [&](int64_t begin, int64_t end, int) {
    std::vector<float> scores(pos0 + n_tokens);
    for (int64_t job = begin; job < end; ++job) {
      const int64_t t = job / s.n_head;
      const int h = static_cast<int>(job % s.n_head);
      const int kvh = h / group;
      const int64_t n_pos = pos0 + t + 1;
      const float* qh = q + t * q_stride + int64_t(h) * hd;
      float mx = -INFINITY;
      for (int64_t p = 0; p < n_pos; ++p) {
        const float* kp = kv.k[p / bs] + (p % bs) * kv_stride + int64_t(kvh) * hd;
        scores[p] = dot(qh, kp, hd) * s.scale;
        mx = std::max(mx, scores[p]);
      }
      double sum = 0.0;
      for (int64_t p = 0; p < n_pos; ++p) {
        scores[p] = std::exp(scores[p] - mx);
        sum += scores[p];
      }
      const float inv = static_cast<float>(1.0 / sum);
      float* oh = out + t * q_stride + int64_t(h) * hd;
      for (int i = 0; i < hd; i += 16) {
        const __mmask16 m = tail_mask(hd - i);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t p = 0; p < n_pos; ++p) {
          const float* vp = kv.v[p / bs] + (p % bs) * kv_stride + int64_t(kvh) * hd;
          acc = _mm512_fmadd_ps(_mm512_set1_ps(scores[p]), _mm512_maskz_loadu_ps(m, vp + i), acc);
        }
        _mm512_mask_storeu_ps(oh + i, m, _mm512_mul_ps(acc, _mm512_set1_ps(inv)));
      }
    }
  });
}

}  // namespace shuo::kernels

// Scalar reference attention: explicit scores, softmax, weighted sum (see attention.h).
#include <vector>

#include "kernels/attention.h"
#include "kernels/ops.h"

namespace shuo::kernels {

void attention_ref(const float* q, int64_t n_tokens, int32_t pos0, const KvBlocksView& kv,
                   const AttentionShape& s, float* out, tensor::ThreadPool& pool) {
  const int32_t bs = kv.block_size;
  const int group = s.n_head / s.n_head_kv;
  const int64_t q_stride = int64_t(s.n_head) * s.head_dim;
  const int64_t kv_stride = int64_t(s.n_head_kv) * s.head_dim;
  pool.parallel_for(n_tokens * s.n_head, [&](int64_t begin, int64_t end, int) {
    std::vector<float> scores(pos0 + n_tokens);
    for (int64_t job = begin; job < end; ++job) {
      const int64_t t = job / s.n_head;
      const int h = static_cast<int>(job % s.n_head);
      const int kvh = h / group;
      const int64_t n_pos = pos0 + t + 1;
      const float* qh = q + t * q_stride + int64_t(h) * s.head_dim;
      for (int64_t p = 0; p < n_pos; ++p) {
        const float* kp = kv.k[p / bs] + (p % bs) * kv_stride + int64_t(kvh) * s.head_dim;
        float dot = 0.0f;
        for (int d = 0; d < s.head_dim; ++d) dot += qh[d] * kp[d];
        scores[p] = dot * s.scale;
      }
      softmax_ref(scores.data(), n_pos);
      float* oh = out + t * q_stride + int64_t(h) * s.head_dim;
      for (int d = 0; d < s.head_dim; ++d) oh[d] = 0.0f;
      for (int64_t p = 0; p < n_pos; ++p) {
        const float* vp = kv.v[p / bs] + (p % bs) * kv_stride + int64_t(kvh) * s.head_dim;
        const float w = scores[p];
        for (int d = 0; d < s.head_dim; ++d) oh[d] += w * vp[d];
      }
    }
  });
}

AttentionFn select_attention(const CpuFeatures& cpu) {
#if defined(__x86_64__)
  if (cpu.has_avx512()) return attention_avx512;
#endif
  return attention_ref;
}

}  // namespace shuo::kernels

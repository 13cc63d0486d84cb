// Scalar reference attention: explicit scores, softmax, weighted sum (see attention.h).
#include <cstring>
#include <vector>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "tensor/fp16.h"

namespace shuo::kernels {

bool kv_type_supported(format::GgmlType t) { return t == format::GgmlType::F32 || t == format::GgmlType::F16; }
size_t kv_elem_bytes(format::GgmlType t) { return t == format::GgmlType::F16 ? 2 : 4; }

void kv_store_row(const float* src, int64_t n, format::GgmlType type, void* dst) {
  if (type == format::GgmlType::F16) {
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = tensor::fp32_to_fp16(src[i]);
  } else {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
  }
}

namespace {
// Element i of a cache row of `type`, as float.
inline float kv_at(const void* row, int64_t i, format::GgmlType type) {
  return type == format::GgmlType::F16 ? tensor::fp16_to_fp32(static_cast<const uint16_t*>(row)[i])
                                       : static_cast<const float*>(row)[i];
}
inline const void* kv_row(const void* block, int64_t elem_offset, format::GgmlType type) {
  return static_cast<const uint8_t*>(block) + elem_offset * int64_t(kv_elem_bytes(type));
}
}  // namespace

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
        const void* kp = kv_row(kv.k[p / bs], (p % bs) * kv_stride + int64_t(kvh) * s.head_dim, kv.type);
        float dot = 0.0f;
        for (int d = 0; d < s.head_dim; ++d) dot += qh[d] * kv_at(kp, d, kv.type);
        scores[p] = dot * s.scale;
      }
      softmax_ref(scores.data(), n_pos);
      float* oh = out + t * q_stride + int64_t(h) * s.head_dim;
      for (int d = 0; d < s.head_dim; ++d) oh[d] = 0.0f;
      for (int64_t p = 0; p < n_pos; ++p) {
        const void* vp = kv_row(kv.v[p / bs], (p % bs) * kv_stride + int64_t(kvh) * s.head_dim, kv.type);
        const float w = scores[p];
        for (int d = 0; d < s.head_dim; ++d) oh[d] += w * kv_at(vp, d, kv.type);
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

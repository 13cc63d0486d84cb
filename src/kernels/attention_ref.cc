// Scalar reference attention: explicit scores, softmax, weighted sum (see attention.h).
#include <cassert>
#include <cstring>
#include <vector>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace shuo::kernels {

bool kv_type_supported(format::GgmlType t) {
  return t == format::GgmlType::F32 || t == format::GgmlType::F16 || t == format::GgmlType::Q8_0;
}

// A head's row must be whole blocks of the type (Q8_0: 32 values), so each head starts a block.
bool kv_type_fits(format::GgmlType t, int head_dim) {
  return kv_type_supported(t) && head_dim > 0 && head_dim % format::ggml_type_info(t).block_size == 0;
}

size_t kv_row_bytes(format::GgmlType t, int64_t n) {
  const auto bytes = format::ggml_row_bytes(t, n);
  assert(bytes);  // callers pass whole rows of heads that kv_type_fits
  return bytes.value_or(0);
}

void kv_store_row(const float* src, int64_t n, format::GgmlType type, void* dst) {
  if (type == format::GgmlType::F16) {
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = tensor::fp32_to_fp16(src[i]);
  } else if (type == format::GgmlType::Q8_0) {
    [[maybe_unused]] auto r = tensor::quantize(type, src, dst, n);
    assert(r.ok());  // n is whole blocks: the cache's row is n_kv × head_dim, head_dim % 32 == 0
  } else {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
  }
}

void kv_load_row(const void* src, int64_t n, format::GgmlType type, float* dst) {
  if (type == format::GgmlType::F16) {
    const auto* h = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = tensor::fp16_to_fp32(h[i]);
  } else if (type == format::GgmlType::Q8_0) {
    [[maybe_unused]] auto r = tensor::dequantize(type, src, dst, n);
    assert(r.ok());
  } else {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
  }
}

namespace {
// Where head `elem_offset / head_dim` of a block's row starts (elem_offset counts elements).
inline const void* kv_row(const void* block, int64_t elem_offset, format::GgmlType type) {
  return static_cast<const uint8_t*>(block) + kv_row_bytes(type, elem_offset);
}
}  // namespace

void attention_ref(const float* q, int64_t n_tokens, int32_t pos0, const KvBlocksView& kv,
                   const AttentionShape& s, float* out, tensor::ThreadPool& pool) {
  const int32_t bs = kv.block_size;
  const int group = s.n_head / s.n_head_kv;
  const int64_t q_stride = int64_t(s.n_head) * s.head_dim;
  const int64_t kv_stride = int64_t(s.n_head_kv) * s.head_dim;
  pool.parallel_for(n_tokens * s.n_head, [&](int64_t begin, int64_t end, int) {
    std::vector<float> scores(pos0 + n_tokens), row(s.head_dim);
    for (int64_t job = begin; job < end; ++job) {
      const int64_t t = job / s.n_head;
      const int h = static_cast<int>(job % s.n_head);
      const int kvh = h / group;
      const int64_t n_pos = pos0 + t + 1;
      const float* qh = q + t * q_stride + int64_t(h) * s.head_dim;
      for (int64_t p = 0; p < n_pos; ++p) {
        kv_load_row(kv_row(kv.k[p / bs], (p % bs) * kv_stride + int64_t(kvh) * s.head_dim, kv.type), s.head_dim,
                    kv.type, row.data());
        float dot = 0.0f;
        for (int d = 0; d < s.head_dim; ++d) dot += qh[d] * row[d];
        scores[p] = dot * s.scale;
      }
      softmax_ref(scores.data(), n_pos);
      float* oh = out + t * q_stride + int64_t(h) * s.head_dim;
      for (int d = 0; d < s.head_dim; ++d) oh[d] = 0.0f;
      for (int64_t p = 0; p < n_pos; ++p) {
        kv_load_row(kv_row(kv.v[p / bs], (p % bs) * kv_stride + int64_t(kvh) * s.head_dim, kv.type), s.head_dim,
                    kv.type, row.data());
        const float w = scores[p];
        for (int d = 0; d < s.head_dim; ++d) oh[d] += w * row[d];
      }
    }
  });
}

AttentionFn select_attention(const CpuFeatures& cpu) {
#if defined(__x86_64__)
  if (cpu.has_avx512()) return attention_avx512;
  if (cpu.has_avx2_fma()) return attention_avx2;
#endif
  return attention_ref;
}

}  // namespace shuo::kernels

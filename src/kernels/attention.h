// Causal multi-head attention with grouped-query heads over one sequence's cached keys/values.
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"
#include "tensor/thread_pool.h"

namespace shuo::kernels {

struct AttentionShape {
  int n_head = 0;      // query heads
  int n_head_kv = 0;   // key/value heads; query head h reads kv head h / (n_head / n_head_kv)
  int head_dim = 0;
  float scale = 1.0f;  // usually 1 / sqrt(head_dim)
};

// One layer of one sequence's paged cache: position p is row p % block_size of block
// p / block_size; k[b] and v[b] point at blocks of [block_size, n_head_kv, head_dim] floats.
struct KvBlocksView {
  const float* const* k = nullptr;
  const float* const* v = nullptr;
  int32_t block_size = 0;
};

// q:   [n_tokens, n_head, head_dim]       queries of tokens at positions pos0 … pos0+n_tokens-1
// kv:  the sequence's cache, already holding positions 0 … pos0+n_tokens-1
// out: [n_tokens, n_head, head_dim]
// Token t attends to positions 0 … pos0+t (causal).
void attention_ref(const float* q, int64_t n_tokens, int32_t pos0, const KvBlocksView& kv,
                   const AttentionShape& shape, float* out, tensor::ThreadPool& pool);

}  // namespace shuo::kernels

namespace shuo::kernels {

using AttentionFn = void (*)(const float* q, int64_t n_tokens, int32_t pos0, const KvBlocksView& kv,
                             const AttentionShape& shape, float* out, tensor::ThreadPool& pool);

// AVX-512 variant (attention_avx512.cc); requires has_avx512().
void attention_avx512(const float* q, int64_t n_tokens, int32_t pos0, const KvBlocksView& kv,
                      const AttentionShape& shape, float* out, tensor::ThreadPool& pool);

// The best variant this CPU runs (picked once, at model load).
AttentionFn select_attention(const CpuFeatures& cpu);

}  // namespace shuo::kernels

// Causal multi-head attention with grouped-query heads over one sequence's cached keys/values.
#pragma once

#include <cstdint>

#include "format/ggml_types.h"
#include "kernels/cpu_features.h"
#include "tensor/thread_pool.h"

namespace shuo::kernels {

struct AttentionShape {
  int n_head = 0;      // query heads
  int n_head_kv = 0;   // key/value heads; query head h reads kv head h / (n_head / n_head_kv)
  int head_dim = 0;
  float scale = 1.0f;  // usually 1 / sqrt(head_dim)
};

// Element types a KV cache can store: F32 (exact), F16 (half the memory and bandwidth; what
// llama.cpp keeps by default).
bool kv_type_supported(format::GgmlType t);
size_t kv_elem_bytes(format::GgmlType t);  // bytes per stored element (4 or 2)

// One layer of one sequence's paged cache: position p is row p % block_size of block
// p / block_size; k[b] and v[b] point at blocks of [block_size, n_head_kv, head_dim] elements
// of `type`.
struct KvBlocksView {
  const void* const* k = nullptr;
  const void* const* v = nullptr;
  int32_t block_size = 0;
  format::GgmlType type = format::GgmlType::F32;
};

// Stores n floats as a cache row of `type` (F32 copies, F16 rounds to nearest even).
void kv_store_row(const float* src, int64_t n, format::GgmlType type, void* dst);

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

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
// llama.cpp keeps by default), Q8_0 (blocks of 32 int8 with an F16 scale, 34 bytes per 32
// elements: 0.53× F16; a head's row must be whole blocks, so head_dim % 32 == 0).
bool kv_type_supported(format::GgmlType t);
// Whether a cache of type t can hold heads of head_dim elements (Q8_0 needs multiples of 32).
bool kv_type_fits(format::GgmlType t, int head_dim);
// Bytes that n stored elements take (n a multiple of 32 for Q8_0).
size_t kv_row_bytes(format::GgmlType t, int64_t n);

// One layer of one sequence's paged cache: position p is row p % block_size of block
// p / block_size; k[b] and v[b] point at blocks of [block_size, n_head_kv, head_dim] elements
// of `type`.
struct KvBlocksView {
  const void* const* k = nullptr;
  const void* const* v = nullptr;
  int32_t block_size = 0;
  format::GgmlType type = format::GgmlType::F32;
};

// Stores n floats as a cache row of `type` (F32 copies, F16 rounds to nearest even, Q8_0
// quantizes each block of 32 like ggml's reference).
void kv_store_row(const float* src, int64_t n, format::GgmlType type, void* dst);
// The n floats a cache row of `type` holds (the inverse of kv_store_row up to its rounding).
void kv_load_row(const void* src, int64_t n, format::GgmlType type, float* dst);

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

// AVX2 + FMA variant (attention_avx2.cc); requires has_avx2_fma().
void attention_avx2(const float* q, int64_t n_tokens, int32_t pos0, const KvBlocksView& kv,
                    const AttentionShape& shape, float* out, tensor::ThreadPool& pool);

// The best variant this CPU runs (picked once, at model load).
AttentionFn select_attention(const CpuFeatures& cpu);

}  // namespace shuo::kernels

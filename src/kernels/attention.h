// Causal multi-head attention with grouped-query heads over one sequence's cached keys/values.
#pragma once

#include <cstdint>

#include "tensor/thread_pool.h"

namespace shuo::kernels {

struct AttentionShape {
  int n_head = 0;      // query heads
  int n_head_kv = 0;   // key/value heads; query head h reads kv head h / (n_head / n_head_kv)
  int head_dim = 0;
  float scale = 1.0f;  // usually 1 / sqrt(head_dim)
};

// q:   [n_tokens, n_head, head_dim]       queries of tokens at positions pos0 … pos0+n_tokens-1
// k,v: [≥ pos0+n_tokens, n_head_kv, head_dim] the sequence's cache, already holding these tokens
// out: [n_tokens, n_head, head_dim]
// Token t attends to positions 0 … pos0+t (causal).
void attention_ref(const float* q, int64_t n_tokens, int32_t pos0, const float* k, const float* v,
                   const AttentionShape& shape, float* out, tensor::ThreadPool& pool);

}  // namespace shuo::kernels

// KvCache storage (see kv_cache.h).
#include "model/kv_cache.h"

namespace shuo::model {

KvCache::KvCache(int32_t n_layer, int32_t n_head_kv, int32_t head_dim, int32_t capacity)
    : capacity_(capacity), row_(int64_t(n_head_kv) * head_dim) {
  const size_t n = size_t(n_layer) * size_t(capacity) * size_t(row_);
  k_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
}

}  // namespace shuo::model

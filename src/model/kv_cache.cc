// KvBlockPool and KvCache (see kv_cache.h).
#include "model/kv_cache.h"

#include <algorithm>
#include <cassert>

namespace shuo::model {

KvBlockPool::KvBlockPool(int32_t n_layer, int64_t row, int32_t block_size, int32_t n_blocks)
    : n_layer_(n_layer), block_size_(block_size), n_blocks_(n_blocks), row_(row) {
  data_.assign(size_t(n_blocks) * 2 * n_layer * size_t(block_size) * size_t(row), 0.0f);
  state_.resize(n_blocks);
  free_.reserve(n_blocks);
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);  // hand out low ids first
}

std::optional<int32_t> KvBlockPool::allocate() {
  int32_t b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    b = lru_.front();  // evict the least recently used cached block
    unpublish(b);
  } else {
    return std::nullopt;
  }
  state_[b].ref = 1;
  return b;
}

void KvBlockPool::retain(int32_t b) {
  BlockState& s = state_[b];
  if (s.ref == 0 && s.in_lru) {
    lru_.erase(s.lru_it);
    s.in_lru = false;
  }
  ++s.ref;
}

void KvBlockPool::release(int32_t b) {
  BlockState& s = state_[b];
  assert(s.ref > 0);
  if (--s.ref > 0) return;
  if (s.published) {
    s.lru_it = lru_.insert(lru_.end(), b);
    s.in_lru = true;
  } else {
    free_.push_back(b);
  }
}

void KvBlockPool::unpublish(int32_t b) {
  BlockState& s = state_[b];
  if (s.in_lru) {
    lru_.erase(s.lru_it);
    s.in_lru = false;
  }
  if (s.published) {
    auto it = by_hash_.find(s.hash);
    if (it != by_hash_.end() && it->second == b) by_hash_.erase(it);
  }
  s.published = false;
  s.tokens.clear();
}

void KvBlockPool::publish(int32_t b, uint64_t hash, std::span<const int32_t> tokens) {
  BlockState& s = state_[b];
  if (s.published || by_hash_.count(hash)) return;  // the first copy of a prefix wins
  s.published = true;
  s.hash = hash;
  s.tokens.assign(tokens.begin(), tokens.end());
  by_hash_.emplace(hash, b);
}

std::optional<int32_t> KvBlockPool::lookup(uint64_t hash, std::span<const int32_t> tokens) {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  const BlockState& s = state_[it->second];
  if (!std::equal(s.tokens.begin(), s.tokens.end(), tokens.begin(), tokens.end())) return std::nullopt;
  retain(it->second);
  return it->second;
}

int32_t KvBlockPool::n_free() const { return int32_t(free_.size() + lru_.size()); }

void KvBlockPool::drop_cached() {
  while (!lru_.empty()) {
    const int32_t b = lru_.front();
    unpublish(b);
    free_.push_back(b);
  }
}

uint64_t KvBlockPool::chain_hash(uint64_t prev, std::span<const int32_t> tokens) {
  // FNV-1a over the previous hash and the token ids.
  uint64_t h = 1469598103934665603ull ^ prev;
  auto mix = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix(prev);
  for (int32_t t : tokens) mix(uint64_t(uint32_t(t)));
  return h;
}

// ---------------------------------------------------------------------------------------------

KvCache::KvCache(int32_t n_layer, int64_t row, int32_t capacity) {
  const int32_t bs = KvBlockPool::kDefaultBlockSize;
  const int32_t n = std::max(1, (capacity + bs - 1) / bs);
  pool_ = std::make_shared<KvBlockPool>(n_layer, row, bs, n);
  reserve(n * bs);
}

KvCache::KvCache(std::shared_ptr<KvBlockPool> pool) : pool_(std::move(pool)) {}

KvCache::KvCache(KvCache&& o) noexcept : pool_(std::move(o.pool_)), blocks_(std::move(o.blocks_)), n_past_(o.n_past_) {
  o.blocks_.clear();
}

KvCache& KvCache::operator=(KvCache&& o) noexcept {
  if (this != &o) {
    if (pool_)
      for (int32_t b : blocks_) pool_->release(b);
    pool_ = std::move(o.pool_);
    blocks_ = std::move(o.blocks_);
    n_past_ = o.n_past_;
    o.blocks_.clear();
  }
  return *this;
}

KvCache::~KvCache() {
  if (pool_)
    for (int32_t b : blocks_) pool_->release(b);
}

bool KvCache::reserve(int32_t positions) {
  const size_t before = blocks_.size();
  while (capacity() < positions) {
    auto b = pool_->allocate();
    if (!b) {
      while (blocks_.size() > before) {
        pool_->release(blocks_.back());
        blocks_.pop_back();
      }
      return false;
    }
    blocks_.push_back(*b);
  }
  return true;
}

void KvCache::pop_block() {
  pool_->release(blocks_.back());
  blocks_.pop_back();
}

}  // namespace shuo::model

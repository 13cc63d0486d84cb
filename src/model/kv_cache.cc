// KvBlockPool and KvCache (see kv_cache.h).
#include "model/kv_cache.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "kernels/attention.h"

namespace shuo::model {

KvBlockPool::KvBlockPool(int32_t n_layer, int64_t row, int32_t block_size, int32_t n_blocks, format::GgmlType type)
    : n_layer_(n_layer), block_size_(block_size), n_blocks_(n_blocks), row_(row), type_(type),
      row_bytes_(kernels::kv_row_bytes(type, row)) {
  assert(kernels::kv_type_supported(type));
  data_.assign(size_t(n_blocks) * block_bytes(), 0);
  state_.resize(n_blocks);
  free_.reserve(n_blocks);
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);  // hand out low ids first
}

std::optional<int32_t> KvBlockPool::allocate() {
  if (n_available() <= 0) return std::nullopt;
  return take();
}

std::optional<int32_t> KvBlockPool::take() {
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

void KvBlockPool::copy_positions(int32_t dst, int32_t src, int32_t n) {
  const size_t bytes = size_t(n) * row_bytes_;
  for (int32_t l = 0; l < n_layer_; ++l) {
    std::memcpy(k(dst, l), k(src, l), bytes);
    std::memcpy(v(dst, l), v(src, l), bytes);
  }
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
  // Reviving a cached block takes it from the free ones, which may all be promised.
  if (s.ref == 0 && n_available() <= 0) return std::nullopt;
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

bool KvReservation::resize(int32_t n) {
  assert(n >= 0);
  if (n > size_ && pool_->n_available() < n - size_) return false;
  pool_->reserved_ += n - size_;
  size_ = n;
  return true;
}

std::optional<int32_t> KvReservation::allocate() {
  if (size_ == 0) return std::nullopt;
  --size_;
  --pool_->reserved_;
  return pool_->take();  // n_free() ≥ reserved_ held before, so a block is there
}

// ---------------------------------------------------------------------------------------------

KvCache::KvCache(int32_t n_layer, int64_t row, int32_t capacity, format::GgmlType type) {
  const int32_t bs = KvBlockPool::kDefaultBlockSize;
  const int32_t n = std::max(1, (capacity + bs - 1) / bs);
  pool_ = std::make_shared<KvBlockPool>(n_layer, row, bs, n, type);
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

KvCache KvCache::fork() const {
  KvCache c(pool_);
  c.blocks_ = blocks_;
  for (int32_t b : blocks_) pool_->retain(b);
  c.n_past_ = n_past_;
  return c;
}

bool KvCache::prepare_append(int32_t n, KvReservation* from) {
  auto fresh = [&]() -> std::optional<int32_t> {
    if (from)
      if (auto b = from->allocate()) return b;
    return pool_->allocate();
  };
  const int32_t bs = block_size();
  // Blocks the append writes into that another cache also holds get a private copy of what is
  // filled in them. Earlier blocks are never written again, so they stay shared.
  if (n > 0) {
    const size_t last = std::min(blocks_.size(), size_t((n_past_ + n - 1) / bs) + 1);
    for (size_t i = size_t(n_past_ / bs); i < last; ++i) {
      if (pool_->ref_count(blocks_[i]) <= 1) continue;
      auto b = fresh();
      if (!b) return false;
      const int32_t filled = std::clamp(n_past_ - int32_t(i) * bs, 0, bs);
      if (filled > 0) pool_->copy_positions(*b, blocks_[i], filled);
      pool_->release(blocks_[i]);
      blocks_[i] = *b;
    }
  }
  while (capacity() < n_past_ + n) {
    auto b = fresh();
    if (!b) return false;
    blocks_.push_back(*b);
  }
  return true;
}

bool KvCache::writable(int32_t n) const {
  if (n <= 0) return true;
  if (n_past_ + n > capacity()) return false;
  const int32_t bs = block_size();
  for (int32_t i = n_past_ / bs; i <= (n_past_ + n - 1) / bs; ++i)
    if (pool_->ref_count(blocks_[i]) > 1) return false;
  return true;
}

}  // namespace shuo::model

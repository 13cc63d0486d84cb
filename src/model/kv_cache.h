// Paged KV cache. A KvBlockPool holds fixed-size blocks of positions (keys and values of every
// layer); a KvCache is one sequence's block table into a pool. Blocks are reference counted, so
// sequences can share the blocks of a common prompt prefix: a full block can be published under
// a hash of all tokens up to its end, and a later sequence whose prompt has the same prefix
// takes those blocks instead of recomputing them. Unreferenced published blocks stay cached
// (least recently used evicted first) until their space is needed.
// Storage per block: [n_layer][block_size][row] floats for K, the same for V (row = n_kv * hd).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace shuo::model {

class KvBlockPool {
 public:
  static constexpr int32_t kDefaultBlockSize = 16;

  KvBlockPool(int32_t n_layer, int64_t row, int32_t block_size, int32_t n_blocks);

  int32_t block_size() const { return block_size_; }
  int32_t n_blocks() const { return n_blocks_; }
  int64_t row() const { return row_; }
  size_t block_bytes() const { return size_t(2) * n_layer_ * block_size_ * row_ * sizeof(float); }

  float* k(int32_t block, int32_t layer) { return data_.data() + offset(block, layer, 0); }
  float* v(int32_t block, int32_t layer) { return data_.data() + offset(block, layer, 1); }

  // A free block (evicting the least recently used cached one if needed), ref count 1; nullopt
  // when every block is in use.
  std::optional<int32_t> allocate();
  void retain(int32_t block);
  // Drops a reference; at zero a published block becomes cached (evictable), others free.
  void release(int32_t block);

  // Marks a full block's contents: `hash` covers every token from the sequence start to the
  // block's end, `tokens` are the block's own tokens (checked on lookup against collisions).
  void publish(int32_t block, uint64_t hash, std::span<const int32_t> tokens);
  // The block published under hash with these tokens, retained; nullopt if none.
  std::optional<int32_t> lookup(uint64_t hash, std::span<const int32_t> tokens);

  int32_t n_free() const;    // blocks that allocate() can hand out (free + cached)
  int32_t n_cached() const { return int32_t(lru_.size()); }
  int32_t n_in_use() const { return n_blocks_ - n_free(); }
  // Forgets every cached block (the /clear endpoint); blocks in use keep their contents.
  void drop_cached();

  // Rolling hash of a block's tokens onto the hash of everything before it.
  static uint64_t chain_hash(uint64_t prev, std::span<const int32_t> tokens);

 private:
  size_t offset(int32_t block, int32_t layer, int kv) const {
    return ((size_t(block) * 2 + kv) * n_layer_ + layer) * size_t(block_size_) * size_t(row_);
  }
  void unpublish(int32_t block);

  struct BlockState {
    int32_t ref = 0;
    bool published = false;
    uint64_t hash = 0;
    std::vector<int32_t> tokens;
    std::list<int32_t>::iterator lru_it;
    bool in_lru = false;
  };

  int32_t n_layer_, block_size_, n_blocks_;
  int64_t row_;
  std::vector<float> data_;
  std::vector<BlockState> state_;
  std::vector<int32_t> free_;                       // never published or evicted
  std::list<int32_t> lru_;                          // cached: published, ref 0; front = oldest
  std::unordered_map<uint64_t, int32_t> by_hash_;
};

// One sequence's view: a block table plus how many positions are filled.
class KvCache {
 public:
  // A cache with its own private pool of ceil(capacity / block_size) blocks, all reserved
  // (single-sequence use: generate, tests, bench).
  KvCache(int32_t n_layer, int64_t row, int32_t capacity);
  // A sequence in a shared pool; blocks come from append_shared()/reserve().
  explicit KvCache(std::shared_ptr<KvBlockPool> pool);
  KvCache(KvCache&&) noexcept;
  KvCache& operator=(KvCache&&) noexcept;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;
  ~KvCache();  // releases its blocks

  int32_t capacity() const { return int32_t(blocks_.size()) * pool_->block_size(); }
  int32_t n_past() const { return n_past_; }   // positions filled so far
  void set_n_past(int32_t n) { n_past_ = n; }  // forward advances it
  void clear() { n_past_ = 0; }
  int64_t row_floats() const { return pool_->row(); }
  size_t size_bytes() const { return blocks_.size() * pool_->block_bytes(); }
  int32_t block_size() const { return pool_->block_size(); }
  const std::vector<int32_t>& blocks() const { return blocks_; }
  KvBlockPool& pool() { return *pool_; }

  float* k(int32_t layer, int32_t pos) { return pool_->k(blocks_[pos / block_size()], layer) + int64_t(pos % block_size()) * row_floats(); }
  float* v(int32_t layer, int32_t pos) { return pool_->v(blocks_[pos / block_size()], layer) + int64_t(pos % block_size()) * row_floats(); }

  // Appends an already retained block (a shared prefix block found by lookup).
  void append_shared(int32_t block) { blocks_.push_back(block); }
  // Allocates blocks until capacity() ≥ positions. On failure nothing is kept and false is
  // returned (the pool is full: the caller waits or rejects).
  bool reserve(int32_t positions);
  // Drops the last block (a shared block that must be recomputed).
  void pop_block();

 private:
  std::shared_ptr<KvBlockPool> pool_;
  std::vector<int32_t> blocks_;
  int32_t n_past_ = 0;
};

}  // namespace shuo::model

// Paged KV cache. A KvBlockPool holds fixed-size blocks of positions (keys and values of every
// layer); a KvCache is one sequence's block table into a pool. Blocks are reference counted, so
// sequences can share the blocks of a common prompt prefix: a full block can be published under
// a hash of all tokens up to its end, and a later sequence whose prompt has the same prefix
// takes those blocks instead of recomputing them. Unreferenced published blocks stay cached
// (least recently used evicted first) until their space is needed.
// A cache can be forked (beam search): the fork shares every block, and the first write into a
// shared, partly filled block copies it first (copy on write). A group of caches that grows on
// demand holds a KvReservation, so blocks it will need cannot be taken by others meanwhile.
// Storage per block: [n_layer][block_size][row] elements for K, the same for V (row = n_kv * hd);
// elements are F32, F16 or Q8_0 (kernels::kv_type_supported), chosen when the pool is made.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "format/ggml_types.h"

namespace shuo::model {

class KvBlockPool {
 public:
  static constexpr int32_t kDefaultBlockSize = 16;

  KvBlockPool(int32_t n_layer, int64_t row, int32_t block_size, int32_t n_blocks,
              format::GgmlType type = format::GgmlType::F32);

  int32_t block_size() const { return block_size_; }
  int32_t n_blocks() const { return n_blocks_; }
  int64_t row() const { return row_; }
  format::GgmlType type() const { return type_; }
  size_t row_bytes() const { return row_bytes_; }  // one position of one layer's K (or V)
  size_t block_bytes() const { return size_t(2) * n_layer_ * block_size_ * row_bytes_; }

  uint8_t* k(int32_t block, int32_t layer) { return data_.data() + offset(block, layer, 0); }
  uint8_t* v(int32_t block, int32_t layer) { return data_.data() + offset(block, layer, 1); }

  // A free block (evicting the least recently used cached one if needed), ref count 1; nullopt
  // when every block is in use or promised to a reservation.
  std::optional<int32_t> allocate();
  void retain(int32_t block);
  int32_t ref_count(int32_t block) const { return state_[block].ref; }
  // Copies K and V of the first n positions of every layer from block src to block dst.
  void copy_positions(int32_t dst, int32_t src, int32_t n);
  // Drops a reference; at zero a published block becomes cached (evictable), others free.
  void release(int32_t block);

  // Marks a full block's contents: `hash` covers every token from the sequence start to the
  // block's end, `tokens` are the block's own tokens (checked on lookup against collisions).
  void publish(int32_t block, uint64_t hash, std::span<const int32_t> tokens);
  // The block published under hash with these tokens, retained; nullopt if none (or if taking
  // it out of the cache would break a reservation's promise).
  std::optional<int32_t> lookup(uint64_t hash, std::span<const int32_t> tokens);

  int32_t n_free() const;    // blocks not referenced by any cache (free + cached)
  int32_t n_cached() const { return int32_t(lru_.size()); }
  int32_t n_in_use() const { return n_blocks_ - n_free(); }
  int32_t n_reserved() const { return reserved_; }  // promised, not yet allocated
  int32_t n_available() const { return n_free() - reserved_; }  // what allocate() can hand out
  // Forgets every cached block (the /clear endpoint); blocks in use keep their contents.
  void drop_cached();

  // Rolling hash of a block's tokens onto the hash of everything before it.
  static uint64_t chain_hash(uint64_t prev, std::span<const int32_t> tokens);

 private:
  size_t offset(int32_t block, int32_t layer, int kv) const {
    return ((size_t(block) * 2 + kv) * n_layer_ + layer) * size_t(block_size_) * row_bytes_;
  }
  void unpublish(int32_t block);
  std::optional<int32_t> take();  // a free or evicted block, ref 1, ignoring reservations

  friend class KvReservation;
  int32_t reserved_ = 0;  // Σ of live KvReservations' sizes; n_free() ≥ reserved_ always

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
  format::GgmlType type_;
  size_t row_bytes_;
  std::vector<uint8_t> data_;
  std::vector<BlockState> state_;
  std::vector<int32_t> free_;                       // never published or evicted
  std::list<int32_t> lru_;                          // cached: published, ref 0; front = oldest
  std::unordered_map<uint64_t, int32_t> by_hash_;
};

// Blocks promised to one owner that allocates them later, one at a time (a beam group whose
// beams copy blocks on write). Ordinary allocate() never hands out promised blocks, so the
// owner cannot run out halfway. Returns what is left of the promise when destroyed.
class KvReservation {
 public:
  explicit KvReservation(std::shared_ptr<KvBlockPool> pool) : pool_(std::move(pool)) {}
  ~KvReservation() { pool_->reserved_ -= size_; }
  KvReservation(const KvReservation&) = delete;
  KvReservation& operator=(const KvReservation&) = delete;

  int32_t size() const { return size_; }
  // Makes the promise n blocks (growing or shrinking it); false, unchanged, when the pool has
  // fewer than the extra blocks available.
  bool resize(int32_t n);
  // One promised block (the promise shrinks by one), ref count 1; nullopt when none is left.
  std::optional<int32_t> allocate();

 private:
  std::shared_ptr<KvBlockPool> pool_;
  int32_t size_ = 0;
};

// One sequence's view: a block table plus how many positions are filled.
class KvCache {
 public:
  // A cache with its own private pool of ceil(capacity / block_size) blocks, all reserved
  // (single-sequence use: generate, tests, bench).
  KvCache(int32_t n_layer, int64_t row, int32_t capacity, format::GgmlType type = format::GgmlType::F32);
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
  int64_t row_elems() const { return pool_->row(); }
  format::GgmlType type() const { return pool_->type(); }
  size_t size_bytes() const { return blocks_.size() * pool_->block_bytes(); }
  int32_t block_size() const { return pool_->block_size(); }
  const std::vector<int32_t>& blocks() const { return blocks_; }
  KvBlockPool& pool() { return *pool_; }
  const std::shared_ptr<KvBlockPool>& shared_pool() const { return pool_; }

  // Position pos's row of layer's keys / values (row_elems() elements of type()).
  uint8_t* k(int32_t layer, int32_t pos) { return pool_->k(blocks_[pos / block_size()], layer) + row_offset(pos); }
  uint8_t* v(int32_t layer, int32_t pos) { return pool_->v(blocks_[pos / block_size()], layer) + row_offset(pos); }

  // Appends an already retained block (a shared prefix block found by lookup).
  void append_shared(int32_t block) { blocks_.push_back(block); }
  // Allocates blocks until capacity() ≥ positions. On failure nothing is kept and false is
  // returned (the pool is full: the caller waits or rejects).
  bool reserve(int32_t positions);
  // Drops the last block (a shared block that must be recomputed).
  void pop_block();

  // A second cache over the same positions: every block retained, n_past() the same. No K/V is
  // copied here; prepare_append() copies a shared block when a write would go into it.
  KvCache fork() const;
  // Makes positions [n_past(), n_past() + n) writable: allocates the missing blocks, and replaces
  // a block those positions fall into that another cache also holds (ref > 1) by a private
  // copy of its filled positions (copy on write). Blocks come from `from` while it has some,
  // then from the pool. False when none is left; blocks already replaced stay valid.
  bool prepare_append(int32_t n, KvReservation* from = nullptr);
  // Whether a forward pass may write positions [n_past(), n_past() + n): they exist and lie in
  // blocks no other cache holds.
  bool writable(int32_t n) const;

 private:
  size_t row_offset(int32_t pos) const { return size_t(pos % block_size()) * pool_->row_bytes(); }
  std::shared_ptr<KvBlockPool> pool_;
  std::vector<int32_t> blocks_;
  int32_t n_past_ = 0;
};

}  // namespace shuo::model

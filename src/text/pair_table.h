// A flat hash table from a pair of token ids to a small value (a merge's rank or score and the
// merged token). Merge lookups dominate encoding; open addressing with linear probing costs one
// cache line per probe where a node-based std::unordered_map costs a pointer chase per node.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace shuo::text {

template <typename V>
class PairTable {
 public:
  explicit PairTable(size_t n_expected = 0) {
    size_t cap = 16;
    while (cap < n_expected * 2) cap <<= 1;  // load factor <= 1/2
    slots_.assign(cap, Slot{kEmpty, V{}});
    mask_ = cap - 1;
    shift_ = 64 - static_cast<int>(std::bit_width(mask_));
  }

  // Keeps the first value inserted for a pair. Ids must be >= 0. Grows when half full.
  void insert(int32_t left, int32_t right, V value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const uint64_t k = key(left, right);
    for (size_t i = slot_of(k);; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return;
      if (slots_[i].key == kEmpty) {
        slots_[i] = {k, value};
        ++size_;
        return;
      }
    }
  }

  const V* find(int32_t left, int32_t right) const {
    const uint64_t k = key(left, right);
    for (size_t i = slot_of(k);; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;  // the pair (-1, -1): never inserted
  struct Slot {
    uint64_t key;
    V value;
  };
  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  size_t slot_of(uint64_t k) const {
    return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_) & mask_;
  }
  void grow() {
    PairTable bigger(slots_.size());
    for (const Slot& s : slots_)
      if (s.key != kEmpty)
        bigger.insert(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key), s.value);
    *this = std::move(bigger);
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 0;
  size_t size_ = 0;
};

}  // namespace shuo::text

// Keys and values of one sequence, per layer, as the forward pass writes them.
// Layout per layer: [capacity positions, n_head_kv, head_dim] floats, positions in order.
#pragma once

#include <cstdint>
#include <vector>

#include "core/result.h"

namespace shuo::model {

class KvCache {
 public:
  KvCache(int32_t n_layer, int32_t n_head_kv, int32_t head_dim, int32_t capacity);

  int32_t capacity() const { return capacity_; }
  int32_t n_past() const { return n_past_; }     // positions filled so far
  void set_n_past(int32_t n) { n_past_ = n; }    // forward advances it; callers may rewind
  void clear() { n_past_ = 0; }
  int64_t row_floats() const { return row_; }    // n_head_kv * head_dim
  size_t size_bytes() const { return (k_.size() + v_.size()) * sizeof(float); }

  float* k(int32_t layer, int32_t pos) { return k_.data() + (int64_t(layer) * capacity_ + pos) * row_; }
  float* v(int32_t layer, int32_t pos) { return v_.data() + (int64_t(layer) * capacity_ + pos) * row_; }

 private:
  int32_t capacity_;
  int32_t n_past_ = 0;
  int64_t row_;
  std::vector<float> k_, v_;  // [n_layer, capacity, row_]
};

}  // namespace shuo::model

// matmul(): the dispatching driver over vec_dot kernels (see matmul.h).
#include "kernels/matmul.h"

#include <algorithm>

namespace shuo::kernels {

namespace {
// Weight rows processed together for a multi-token matmul (their blocks stay in L1/L2).
constexpr int64_t kRowBlock = 16;
}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
            tensor::ThreadPool& pool, const VecDotKernels& k, MatmulScratch& scratch) {
  const int64_t cols = w.cols, rows = w.rows;
  VecDotFn dot = k.for_type(w.type);
  const VecDotX4Fn dot4 = dot ? k.for_type_x4(w.type) : nullptr;  // 4 tokens per weight row load
  const void* act = x;
  int64_t act_stride_bytes = cols * int64_t(sizeof(float));
  if (dot && VecDotKernels::uses_q8_act(w.type)) {
    const int64_t nb = cols / 32;
    if (scratch.act_q8.size() < size_t(n_tokens * nb)) scratch.act_q8.resize(n_tokens * nb);
    for (int64_t t = 0; t < n_tokens; ++t) k.quantize_act(x + t * cols, scratch.act_q8.data() + t * nb, cols);
    act = scratch.act_q8.data();
    act_stride_bytes = nb * int64_t(sizeof(BlockQ8A));
  } else if (dot && VecDotKernels::uses_q8k_act(w.type)) {
    const int64_t nb = cols / 256;
    if (scratch.act_q8k.size() < size_t(n_tokens * nb)) scratch.act_q8k.resize(n_tokens * nb);
    for (int64_t t = 0; t < n_tokens; ++t) k.quantize_act_k(x + t * cols, scratch.act_q8k.data() + t * nb, cols);
    act = scratch.act_q8k.data();
    act_stride_bytes = nb * int64_t(sizeof(BlockQ8KA));
  }
  // Rows with no direct kernel are converted to float, and so are F16/BF16 rows when several
  // tokens share them (converting once beats converting per token).
  const bool half_rows = w.type == format::GgmlType::F16 || w.type == format::GgmlType::BF16;
  const bool convert_rows = dot == nullptr || (half_rows && n_tokens >= 4);
  const int64_t block_rows = n_tokens > 1 ? kRowBlock : 1;
  if (convert_rows) {
    dot = k.f32;
    const size_t need = size_t(pool.size()) * size_t(block_rows) * size_t(cols);
    if (scratch.rows.size() < need) scratch.rows.resize(need);
  }
  const uint8_t* act_bytes = static_cast<const uint8_t*>(act);
  // Rows are independent, so any split is exact. Within a thread, rows go in blocks of
  // kRowBlock: the block's weights stay in cache while every token's activations stream past
  // once per block (row by row, a prompt's activations were re-read from L3 for every row).
  pool.parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int thread) {
        float* rows_f = convert_rows ? scratch.rows.data() + size_t(thread) * block_rows * cols : nullptr;
        const void* wr[kRowBlock];
        for (int64_t rb = r0; rb < r1; rb += block_rows) {
          const int64_t nr = std::min(block_rows, r1 - rb);
          for (int64_t i = 0; i < nr; ++i) {
            if (convert_rows) {
              row_to_float(w, rb + i, rows_f + i * cols);
              wr[i] = rows_f + i * cols;
            } else {
              wr[i] = w.row(rb + i);
            }
          }
          int64_t t = 0;
          if (dot4 && !convert_rows) {
            float out4[4];
            for (; t + 4 <= n_tokens; t += 4)
              for (int64_t i = 0; i < nr; ++i) {
                dot4(wr[i], act_bytes + t * act_stride_bytes, act_stride_bytes, cols, out4);
                for (int j = 0; j < 4; ++j) y[(t + j) * rows + rb + i] = out4[j];
              }
          }
          for (; t < n_tokens; ++t)
            for (int64_t i = 0; i < nr; ++i) y[t * rows + rb + i] = dot(wr[i], act_bytes + t * act_stride_bytes, cols);
        }
      },
      16);
}

}  // namespace shuo::kernels

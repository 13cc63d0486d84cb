// matmul(): the dispatching driver over vec_dot kernels (see matmul.h).
#include "kernels/matmul.h"

namespace shuo::kernels {

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
  const bool convert_rows = dot == nullptr;
  if (convert_rows) {
    dot = k.f32;
    if (scratch.rows.size() < size_t(pool.size() * cols)) scratch.rows.resize(pool.size() * cols);
  }
  const uint8_t* act_bytes = static_cast<const uint8_t*>(act);
  // Grain: whole cache lines of y for decode; rows are independent, so any split is exact.
  pool.parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int thread) {
        float* row_f = convert_rows ? scratch.rows.data() + thread * cols : nullptr;
        for (int64_t r = r0; r < r1; ++r) {
          const void* wr = w.row(r);
          if (convert_rows) {
            row_to_float(w, r, row_f);
            wr = row_f;
          }
          int64_t t = 0;
          if (dot4 && !convert_rows) {
            float out4[4];
            for (; t + 4 <= n_tokens; t += 4) {
              dot4(wr, act_bytes + t * act_stride_bytes, act_stride_bytes, cols, out4);
              for (int i = 0; i < 4; ++i) y[(t + i) * rows + r] = out4[i];
            }
          }
          for (; t < n_tokens; ++t) y[t * rows + r] = dot(wr, act_bytes + t * act_stride_bytes, cols);
        }
      },
      16);
}

}  // namespace shuo::kernels

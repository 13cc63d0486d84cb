// matmul(): the dispatching driver over vec_dot kernels (see matmul.h).
#include "kernels/matmul.h"

#include <algorithm>

namespace shuo::kernels {

namespace {
// Weight rows processed together for a multi-token matmul (their blocks stay in L1/L2).
constexpr int64_t kRowBlock = 16;
// The tiled GEMM path (gemm.h): tiles of 16 rows are packed by the thread that owns them and
// multiplied with all tokens while the packed tile is hot in L2.
void matmul_gemm(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
                 tensor::ThreadPool& pool, const VecDotKernels& k, MatmulScratch& scratch, bool int8) {
  const int64_t cols = w.cols, rows = w.rows;
  const bool packed = w.packed != PackedKind::kNone;
  GemmAct act;
  if (w.packed == PackedKind::kQ4_Kx16) {
    const int64_t nsb = cols / 256;
    if (scratch.act_q8k.size() < size_t(n_tokens * nsb)) scratch.act_q8k.resize(size_t(n_tokens * nsb));
    BlockQ8KA* kblocks = scratch.act_q8k.data();
    pool.parallel_for(
        n_tokens, [&](int64_t t0, int64_t t1, int) {
          for (int64_t t = t0; t < t1; ++t) k.quantize_act_k(x + t * cols, kblocks + t * nsb, cols);
        },
        8);
    act.kblocks = kblocks;
  } else if (int8) {
    const int64_t nb = cols / 32, ng16 = cols / 16;
    if (scratch.act_q8.size() < size_t(n_tokens * nb)) scratch.act_q8.resize(size_t(n_tokens * nb));
    if (scratch.act_corr.size() < size_t(n_tokens * ng16)) scratch.act_corr.resize(size_t(n_tokens * ng16));
    BlockQ8A* blocks = scratch.act_q8.data();
    int32_t* corr = scratch.act_corr.data();
    pool.parallel_for(
        n_tokens,
        [&](int64_t t0, int64_t t1, int) {
          for (int64_t t = t0; t < t1; ++t) {
            k.quantize_act(x + t * cols, blocks + t * nb, cols);
            gemm_act_corr(blocks + t * nb, cols, corr + t * ng16);
          }
        },
        8);  // a few tokens (decode) are cheaper inline than waking the pool
    act.blocks = blocks;
    act.corr = corr;
  }
  if (!packed && scratch.pack.size() < size_t(pool.size())) scratch.pack.resize(size_t(pool.size()));
  const int64_t n_tiles = (rows + kGemmRows - 1) / kGemmRows;
  pool.parallel_for(
      n_tiles,
      [&](int64_t a, int64_t b, int thread) {
        GemmPackBuffers& buf = scratch.pack[size_t(thread)];
        for (int64_t tile = a; tile < b; ++tile) {
          const int64_t r0 = tile * kGemmRows;
          const int nr = int(std::min<int64_t>(kGemmRows, rows - r0));
          if (packed) {
            k.gemm_packed(w.packed_tile(tile), act, x, cols, n_tokens, y + r0, rows, nr);
          } else if (int8) {
            k.gemm_i8(pack_i8_tile(w, r0, nr, buf, k), act, n_tokens, y + r0, rows, nr);
          } else {
            k.gemm_f32(pack_f32_tile(w, r0, nr, buf), x, cols, n_tokens, y + r0, rows, nr);
          }
        }
      },
      1);
}

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
            tensor::ThreadPool& pool, const VecDotKernels& k, MatmulScratch& scratch) {
  if (w.packed != PackedKind::kNone && k.gemm_packed)
    return matmul_gemm(w, x, n_tokens, y, pool, k, scratch, w.packed != PackedKind::kF16x16);
  if (n_tokens >= kGemmMinTokens) {
    if (k.gemm_i8 && k.quantize_act && gemm_i8_type(w.type))
      return matmul_gemm(w, x, n_tokens, y, pool, k, scratch, true);
    if (k.gemm_f32 && gemm_f32_type(w.type)) return matmul_gemm(w, x, n_tokens, y, pool, k, scratch, false);
  }
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

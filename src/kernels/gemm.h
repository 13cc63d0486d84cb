// Tiled matrix × matrix for prompt processing and batched decode: 16 weight rows × up to 16
// tokens per inner loop ("lanes = rows"). A tile of 16 rows is packed once per matmul call so
// that one 512-bit load holds the same 4 (int8) or 1 (float) columns of all 16 rows; each token's
// activations are broadcast against it. One weight load then serves every token of the pass and
// the 16 results of a token are 16 adjacent outputs y[t, r0..r0+15] — no horizontal sums, no
// transposes on the way out, and all 16 lanes are useful for any number of tokens.
//
// Packed layouts (documented here because the kernels and the packer must agree):
//   GemmI8Tile.q  [cols/4][16][4] bytes: bytes 4k..4k+3 of row r at (k·16 + r)·4, each stored as
//                 q + offset (unsigned; offset 128), so vpdpbusd multiplies them with the signed
//                 activations; Σ (q+128)·a = Σ q·a + 128·Σ a, and the second term is subtracted
//                 using the activation group sums (GemmAct::corr).
//   GemmI8Tile.d  [cols/group][16] floats: the scale of each group of each row (group 32 or 16).
//   GemmI8Tile.m  [cols/32][16] floats, or null: the min/offset coefficient (Q4_1, Q5_1, Q4_K,
//                 Q5_K), multiplied by the activation block sum.
//   GemmF32Tile.w [cols][16] floats: column c of row r at c·16 + r.
// Rows past the matrix's end (the last tile) are packed as zeros and never stored.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/packed.h"
#include "kernels/vec_dot.h"

namespace shuo::kernels {

struct WeightMatrix;

constexpr int kGemmRows = 16;    // weight rows per tile (lanes of a 512-bit register)
constexpr int kGemmTokens = 16;  // tokens per kernel pass (accumulator registers)

struct GemmI8Tile {
  const uint8_t* q = nullptr;
  const float* d = nullptr;
  const float* m = nullptr;  // null when the type has no min term
  int group = 32;            // 32 or 16 elements per d
  int64_t cols = 0;
};
constexpr int32_t kGemmI8Offset = 128;  // added to every quant of a GemmI8Tile

struct GemmF32Tile {
  const float* w = nullptr;
  int64_t cols = 0;
};

// Activations for the integer GEMM: per token, cols/32 BlockQ8A blocks (act + t·cols/32) and
// per 16-element group Σ qs (corr + t·cols/16), which the kernels multiply by the weights'
// unsigned offset.
struct GemmAct {
  const BlockQ8A* blocks = nullptr;
  const int32_t* corr = nullptr;
  // Q4_Kx16 packed tiles read these instead: per token cols/256 super-blocks (kblocks + t·cols/256)
  // with one scale each, so a whole super-block sums in exact int32.
  const BlockQ8KA* kblocks = nullptr;
};

// The kernels (signatures GemmI8Fn / GemmF32Fn of vec_dot.h): y[t·y_stride + i] for
// t < n_tokens, i < n_rows (≤ 16). Float activations x: row t at x + t·x_stride.
void gemm_i8_ref(const GemmI8Tile& w, const GemmAct& act, int64_t n_tokens, float* y,
                 int64_t y_stride, int n_rows);
void gemm_f32_ref(const GemmF32Tile& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                  int64_t y_stride, int n_rows);
void gemm_i8_avx512(const GemmI8Tile& w, const GemmAct& act, int64_t n_tokens, float* y,
                    int64_t y_stride, int n_rows);
void gemm_f32_avx512(const GemmF32Tile& w, const float* x, int64_t x_stride, int64_t n_tokens,
                     float* y, int64_t y_stride, int n_rows);
// AVX2 + FMA variants (gemm_avx2.cc) for CPUs without AVX-512.
void gemm_i8_avx2(const GemmI8Tile& w, const GemmAct& act, int64_t n_tokens, float* y,
                  int64_t y_stride, int n_rows);
void gemm_f32_avx2(const GemmF32Tile& w, const float* x, int64_t x_stride, int64_t n_tokens,
                   float* y, int64_t y_stride, int n_rows);
// Load-time packed tiles (packed.h): int8 kinds read act, F16x16 reads x (row stride x_stride).
void gemm_packed_ref(const PackedTile& w, const GemmAct& act, const float* x, int64_t x_stride,
                     int64_t n_tokens, float* y, int64_t y_stride, int n_rows);
void gemm_packed_avx512(const PackedTile& w, const GemmAct& act, const float* x, int64_t x_stride,
                        int64_t n_tokens, float* y, int64_t y_stride, int n_rows);
void gemm_packed_avx2(const PackedTile& w, const GemmAct& act, const float* x, int64_t x_stride,
                      int64_t n_tokens, float* y, int64_t y_stride, int n_rows);

// corr[g] = Σ qs over 16-element group g of the n/32 blocks (n a multiple of 32).
void gemm_act_corr(const BlockQ8A* blocks, int64_t n, int32_t* corr);

// A thread's packing buffers, grown on demand and reused between calls.
struct GemmPackBuffers {
  std::vector<int8_t> q_rows;   // [16][cols] unpacked
  std::vector<float> d_rows, m_rows;
  std::vector<float> f_rows;    // [16][cols] float rows before interleaving (float tiles)
  std::vector<uint8_t> q;
  std::vector<float> d, m, f;
};

// Whether the integer GEMM handles w's type (tensor::can_unpack_i8) and the float GEMM
// (F32, F16, BF16).
bool gemm_i8_type(format::GgmlType t);
bool gemm_f32_type(format::GgmlType t);

// Packs rows [r0, r0 + n_rows) of w (n_rows ≤ 16) into buf; the tile points into buf. Rows are
// unpacked one by one (k.unpack_i8) and then interleaved (k.interleave_i8), or by the references
// where k has none.
GemmI8Tile pack_i8_tile(const WeightMatrix& w, int64_t r0, int n_rows, GemmPackBuffers& buf,
                        const VecDotKernels& k);
// The interleave step (InterleaveI8Fn, vec_dot.h): out[(k·16 + r)·4 + j] = rows[r·cols + 4k + j]
// + kGemmI8Offset, cols a multiple of 4. The AVX2 variant transposes 8 × 8 words at a time.
void interleave_i8_ref(const int8_t* rows, int64_t cols, uint8_t* out);
void interleave_i8_avx2(const int8_t* rows, int64_t cols, uint8_t* out);
// UnpackRowI8Fn (vec_dot.h) with AVX2 for Q4_K and Q6_K, the reference for the other types.
void unpack_row_i8_avx2(format::GgmlType t, const uint8_t* row, int64_t n, int8_t* q, float* d, float* m);
GemmF32Tile pack_f32_tile(const WeightMatrix& w, int64_t r0, int n_rows, GemmPackBuffers& buf);

}  // namespace shuo::kernels

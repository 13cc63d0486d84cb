// Row · activation dot products straight from stored weight blocks, the inner loop of every
// matmul. Activations are converted once per matmul into the form each weight type dots with:
//   F32, F16, BF16 weights  × float activations
//   Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 × BlockQ8A activations (int8 blocks of 32 with scale and sum)
//   Q4_K, Q5_K, Q6_K        × BlockQ8KA activations (int8 super-blocks of 256, 16-group sums)
// Each function has a scalar `_ref` (kept forever) and SIMD variants in *_avx2.cc / *_avx512.cc;
// kernels/vec_dot_test.cc compares every variant this CPU runs against the `_ref`.
#pragma once

#include <cstdint>

#include "format/ggml_types.h"
#include "kernels/cpu_features.h"
#include "kernels/packed.h"

namespace shuo::kernels {

// 32 activations quantized to int8 (round to nearest, scale = max|x| / 127), plus the sum of
// the quantized values times the scale: Q4_0 weights are stored as unsigned nibbles q - 8, so
// Σ (q - 8)·x = Σ q·x - 8·Σ x, and the second term comes from `sum` without touching x again.
struct BlockQ8A {
  float d;        // scale
  float sum;      // d * Σ qs
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8A) == 40);

// 256 activations quantized to int8 with one scale, and the sums of each 16-element group:
// K-quant mins (Q4_K/Q5_K) and Q6_K's -32 offset are applied per group through these sums.
struct BlockQ8KA {
  float d;
  int16_t bsums[16];
  int8_t qs[256];
};
static_assert(sizeof(BlockQ8KA) == 292);

// x: [n] floats, n a multiple of 32 → n/32 blocks.
using QuantizeActFn = void (*)(const float* x, BlockQ8A* out, int64_t n);
// x: [n] floats, n a multiple of 256 → n/256 super-blocks.
using QuantizeActKFn = void (*)(const float* x, BlockQ8KA* out, int64_t n);
// Dot of one weight row (n elements, stored blocks) with activations in the matching form.
using VecDotFn = float (*)(const void* w_row, const void* act, int64_t n);
// The same row with 4 tokens' activations at act + t * act_stride bytes (t < 4): the weight
// blocks are loaded and unpacked once for all four (prompt processing). out: [4].
using VecDotX4Fn = void (*)(const void* w_row, const void* act, int64_t act_stride, int64_t n, float* out);

void quantize_act_ref(const float* x, BlockQ8A* out, int64_t n);
float vec_dot_f32_ref(const void* w, const void* x, int64_t n);
float vec_dot_f16_ref(const void* w, const void* x, int64_t n);
float vec_dot_bf16_ref(const void* w, const void* x, int64_t n);
float vec_dot_q8_0_ref(const void* w, const void* x, int64_t n);
float vec_dot_q4_0_ref(const void* w, const void* x, int64_t n);
// Q4_1/Q5_0/Q5_1 references: dequantize the row (tensor::dequantize) and dot with the
// dequantized activations.
float vec_dot_q4_1_ref(const void* w, const void* x, int64_t n);
float vec_dot_q5_0_ref(const void* w, const void* x, int64_t n);
float vec_dot_q5_1_ref(const void* w, const void* x, int64_t n);
void quantize_act_k_ref(const float* x, BlockQ8KA* out, int64_t n);
// K-quant references: dequantize the weight row with tensor::dequantize (bit-exact with ggml)
// and dot it with the dequantized activations, so they share no bit-twiddling with the SIMD code.
float vec_dot_q4_k_ref(const void* w, const void* x, int64_t n);
float vec_dot_q5_k_ref(const void* w, const void* x, int64_t n);
float vec_dot_q6_k_ref(const void* w, const void* x, int64_t n);

// Tiled matrix × matrix kernels (kernels/gemm.h): 16 weight rows × up to 16 tokens per pass.
struct GemmI8Tile;
struct GemmF32Tile;
struct GemmAct;
struct PackedTile;
using GemmI8Fn = void (*)(const GemmI8Tile& w, const GemmAct& act, int64_t n_tokens, float* y,
                          int64_t y_stride, int n_rows);
using GemmF32Fn = void (*)(const GemmF32Tile& w, const float* x, int64_t x_stride, int64_t n_tokens,
                           float* y, int64_t y_stride, int n_rows);
// Interleaves 16 unpacked int8 rows (row r at rows + r·cols) into GemmI8Tile.q's layout (gemm.h).
using InterleaveI8Fn = void (*)(const int8_t* rows, int64_t cols, uint8_t* out);
// One row to int8 quants + scales, as tensor::unpack_row_i8 (the reference).
using UnpackRowI8Fn = void (*)(format::GgmlType t, const uint8_t* row, int64_t n, int8_t* q, float* d, float* m);
using GemmPackedFn = void (*)(const PackedTile& w, const GemmAct& act, const float* x, int64_t x_stride,
                              int64_t n_tokens, float* y, int64_t y_stride, int n_rows);

// One ISA level's kernels. A null entry means "no fast path for this type at this level".
struct VecDotKernels {
  const char* isa = "scalar";
  QuantizeActFn quantize_act = nullptr;
  QuantizeActKFn quantize_act_k = nullptr;
  VecDotFn f32 = nullptr, f16 = nullptr, bf16 = nullptr, q8_0 = nullptr, q4_0 = nullptr;
  VecDotFn q4_1 = nullptr, q5_0 = nullptr, q5_1 = nullptr;
  VecDotX4Fn q8_0_x4 = nullptr, q4_0_x4 = nullptr;  // optional 4-token variants
  VecDotFn q4_k = nullptr, q5_k = nullptr, q6_k = nullptr;
  GemmI8Fn gemm_i8 = nullptr;    // multi-token matmuls of the int8-unpackable types
  GemmF32Fn gemm_f32 = nullptr;  // multi-token matmuls of F32/F16/BF16
  UnpackRowI8Fn unpack_i8 = nullptr;       // gemm_i8's per-call packing (null: the references,
  InterleaveI8Fn interleave_i8 = nullptr;  // tensor::unpack_row_i8 and interleave_i8_ref)
  GemmPackedFn gemm_packed = nullptr;  // every matmul of a load-time packed matrix (packed.h)
  uint32_t packed_kinds = 0;           // bit k set: gemm_packed reads PackedKind k

  bool packs(PackedKind kind) const { return gemm_packed && ((packed_kinds >> unsigned(kind)) & 1u); }

  VecDotFn for_type(format::GgmlType t) const;
  VecDotX4Fn for_type_x4(format::GgmlType t) const;  // nullptr when there is none
  // Whether activations for type t are BlockQ8A / BlockQ8KA (else float).
  static bool uses_q8_act(format::GgmlType t);
  static bool uses_q8k_act(format::GgmlType t);
};

VecDotKernels vec_dot_kernels_ref();
VecDotKernels vec_dot_kernels_avx2();    // requires has_avx2_fma()
VecDotKernels vec_dot_kernels_avx512();  // requires has_avx512() && avx512vnni

// Fill the K-quant and the Q4_1/Q5_0/Q5_1 entries with the AVX2 kernels (used by the AVX2 and
// AVX-512 levels).
void add_k_quant_kernels_avx2(VecDotKernels& k);
void add_q4_1_q5_kernels_avx2(VecDotKernels& k);

// The best level this CPU runs; the choice is made once, by the caller, at start-up.
VecDotKernels select_vec_dot_kernels(const CpuFeatures& cpu);

}  // namespace shuo::kernels

// Quantized weight rows as signed 8-bit integers with float scales per group, the common form
// the integer GEMM (kernels/gemm.h) multiplies with int8 activations:
//
//   w[i] = d[i / group] * q[i]  (+ m[i / 32] when the type has a min/offset term)
//
// group is 32 for the legacy types and Q4_K/Q5_K (whose 32-element sub-blocks carry their own
// scale) and 16 for Q6_K. Every q fits int8: Q8_0 [-128, 127], Q4_0 [-8, 7], Q5_0 [-16, 15],
// Q4_1/Q4_K [0, 15], Q5_1/Q5_K [0, 31], Q6_K [-32, 31]. d[g] * q + m is computed with the same
// float operations as tensor::dequantize, so unpacking then scaling is bit-exact with it.
#pragma once

#include <cstdint>

#include "format/ggml_types.h"

namespace shuo::tensor {

struct I8Layout {
  int group = 32;        // elements per scale d
  bool has_min = false;  // m[] is used (per 32 elements)
};

// Whether unpack_row_i8 handles type t (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K).
bool can_unpack_i8(format::GgmlType t);
I8Layout i8_layout(format::GgmlType t);

// One row of n elements (whole blocks of t, n a multiple of 256 for K-quants and of 32 for
// the others) → q[n], d[n / group], and m[n / 32] when layout.has_min (else m is untouched and
// may be null). The caller has checked can_unpack_i8(t).
void unpack_row_i8(format::GgmlType t, const uint8_t* row, int64_t n, int8_t* q, float* d, float* m);

// Sub-block j's (0..7) six-bit scale and min of a Q4_K/Q5_K super-block, from its 12 packed
// scale bytes (for kernels that repack those bytes and their references).
void k4_scale_min(const uint8_t* packed, int j, uint8_t* scale, uint8_t* min);

}  // namespace shuo::tensor

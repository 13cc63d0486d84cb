// Conversion between float32 and GGML tensor types (F16, BF16, legacy Q4_0..Q8_0, K-quants,
// IQ4, ternary TQ1_0/TQ2_0). Dequantization is bit-exact with ggml's reference `to_float`;
// quantization of the types llama.cpp defines a single reference for is byte-exact too.
#pragma once

#include <cstdint>

#include "core/result.h"
#include "format/ggml_types.h"
#include "tensor/fp16.h"

namespace shuo::tensor {

// Whether dequantize / quantize handle type t. The grid-table types (IQ1_*, IQ2_*, IQ3_*) and the
// integer types are not handled.
bool can_dequantize(format::GgmlType t);
bool can_quantize(format::GgmlType t);

// dst[0..n) = the n elements stored in src. n must be a multiple of t's block size; src holds
// n / block_size consecutive blocks (ggml layout, little-endian, no alignment needed).
// Errors (never aborts): kUnsupported naming the type, kBadField when n is negative or not a
// multiple of the block size, or a pointer is null while n > 0.
Result<void> dequantize(format::GgmlType t, const void* src, float* dst, int64_t n);

// dst = the n / block_size blocks encoding src[0..n) in type t, using ggml's reference
// (non-imatrix) algorithm. Same errors as dequantize.
// F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, TQ1_0, TQ2_0 are byte-exact with ggml's
// `from_float_ref`; Q4_K, Q5_K, Q6_K and Q8_K follow its algorithms but are only checked by
// round-trip error (floating-point summation order may differ in the last bit).
Result<void> quantize(format::GgmlType t, const float* src, void* dst, int64_t n);

}  // namespace shuo::tensor

// Internal to tensor/quants*.cc: the per-family block converters that quants.cc dispatches to,
// and little-endian field access (blocks are byte arrays of odd sizes, so nothing is aligned).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensor/fp16.h"

// Bit-exactness with ggml needs `a * b + c` rounded twice, never fused into an FMA. GCC in ISO
// mode (-std=c++20) already does not contract; clang contracts within an expression by default.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace shuo::tensor::detail {

// src holds n_blocks whole blocks of the type; dst has room for n_blocks * block_size floats
// (or bytes for quantizers). Callers have validated n.
using DequantFn = void (*)(const uint8_t* src, float* dst, int64_t n_blocks);
using QuantFn = void (*)(const float* src, uint8_t* dst, int64_t n_blocks);

inline uint16_t load_u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline float load_f16(const uint8_t* p) { return fp16_to_fp32(load_u16(p)); }
inline float load_f32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);  // GGUF is little-endian and so is every host we build for
  return f;
}
inline void store_u16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
inline void store_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void store_f16(uint8_t* p, float f) { store_u16(p, fp32_to_fp16(f)); }

// float → int truncation toward zero that is defined for every input (NaN and huge values would
// be UB in a plain cast); identical to the cast for the in-range values the quantizers produce.
inline int trunc_to_int(float v) {
  if (!(v > -1e9f && v < 1e9f)) return 0;
  return static_cast<int>(v);
}
// Round half away from zero (C roundf / lroundf), with the same guard.
inline int round_to_int(float v) { return trunc_to_int(std::round(v)); }
// Round half to even, for the K-quant search loops (ggml's nearest_int does the same).
inline int nearest_int(float v) { return trunc_to_int(std::nearbyint(v)); }

// Legacy 32-element blocks (quants_legacy.cc).
void dequant_q4_0(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q4_1(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q5_0(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q5_1(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q8_0(const uint8_t* src, float* dst, int64_t n_blocks);
void quant_q4_0(const float* src, uint8_t* dst, int64_t n_blocks);
void quant_q4_1(const float* src, uint8_t* dst, int64_t n_blocks);
void quant_q5_0(const float* src, uint8_t* dst, int64_t n_blocks);
void quant_q5_1(const float* src, uint8_t* dst, int64_t n_blocks);
void quant_q8_0(const float* src, uint8_t* dst, int64_t n_blocks);

// K-quant 256-element super-blocks: decoding (quants_k.cc), reference encoders (quants_k_ref.cc).
void dequant_q2_k(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q3_k(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q4_k(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q5_k(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q6_k(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q8_k(const uint8_t* src, float* dst, int64_t n_blocks);
void quant_q4_k(const float* src, uint8_t* dst, int64_t n_blocks);
void quant_q5_k(const float* src, uint8_t* dst, int64_t n_blocks);
void quant_q6_k(const float* src, uint8_t* dst, int64_t n_blocks);
void quant_q8_k(const float* src, uint8_t* dst, int64_t n_blocks);

// The 6-bit (scale, min) pair j of the 12-byte packed table used by Q4_K and Q5_K.
inline void k4_scale_min(const uint8_t* packed, int j, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    // Sub-blocks 4..7 keep their low 4 bits in bytes 8..11 and their top 2 bits in the spare
    // high bits of bytes 0..7.
    *scale = uint8_t((packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4));
    *min = uint8_t((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

// Non-linear 4-bit types (quants_iq.cc).
void dequant_iq4_nl(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_iq4_xs(const uint8_t* src, float* dst, int64_t n_blocks);

// Ternary types (quants_ternary.cc).
void dequant_tq1_0(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_tq2_0(const uint8_t* src, float* dst, int64_t n_blocks);
void quant_tq1_0(const float* src, uint8_t* dst, int64_t n_blocks);
void quant_tq2_0(const float* src, uint8_t* dst, int64_t n_blocks);

}  // namespace shuo::tensor::detail

// Scalar conversions between float32 and the two 16-bit float formats GGUF stores: IEEE half (F16)
// and bfloat16 (BF16). Rounding is to nearest, ties to even, matching ggml's reference code, so
// that quantized blocks written by shuo are byte-identical to llama.cpp's.
#pragma once

#include <bit>
#include <cstdint>

namespace shuo::tensor {

// Exact (every half is a float). NaNs come back quiet, as the hardware converters return them.
inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) {  // inf, or NaN with its payload kept
    const uint32_t quiet = mant ? 0x00400000u : 0u;
    return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13) | quiet);
  }
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24 is exact in float, so let the FPU normalise it.
    const float mag = float(mant) * 0x1p-24f;
    return sign ? -mag : mag;
  }
  // Normal: rebias the exponent from 15 to 127.
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Round to nearest even; overflow goes to inf, NaN becomes the canonical quiet NaN 0x7e00 (with
// sign), which is what ggml writes.
inline uint16_t fp32_to_fp16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
  const uint32_t mag = bits & 0x7fffffffu;
  if (mag > 0x7f800000u) return sign | 0x7e00u;
  // 65520 (0x477ff000) is halfway between the largest half, 65504, and 2^16; the tie goes to the
  // even neighbour 2^16, which is out of range, so it and everything above become inf.
  if (mag >= 0x477ff000u) return sign | 0x7c00u;
  const uint32_t exp = mag >> 23;
  if (exp < 113) {
    // Below 2^-14: a half subnormal, in units of 2^-24. The float is m * 2^(exp-150) with the
    // implicit bit in m, so the half mantissa is m >> (126 - exp), rounded.
    if (exp < 102) return sign;  // < 2^-25: rounds to zero even with the implicit bit set
    const uint32_t m = (mag & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exp;  // 14..24
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;  // may carry into the smallest normal
    return sign | uint16_t(q);
  }
  uint32_t h = ((exp - 112) << 10) | ((mag >> 13) & 0x3ffu);
  const uint32_t rem = mag & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h;  // a carry bumps the exponent: correct
  return sign | uint16_t(h);
}

inline float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

// Round to nearest even on the upper 16 bits. NaNs keep their top payload bits and are forced
// quiet (bit 6), so truncation can never turn a NaN into inf. Subnormals are kept, as in ggml.
inline uint16_t fp32_to_bf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40u);
  const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t((uint64_t(bits) + rounding) >> 16);
}

}  // namespace shuo::tensor

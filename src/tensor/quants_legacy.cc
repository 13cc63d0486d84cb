// The original ggml 32-element block types Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: decoding, and the
// reference encoders (byte-exact with ggml's quantize_row_*_ref).
#include <algorithm>
#include <cmath>

#include "tensor/quants_impl.h"

namespace shuo::tensor::detail {
namespace {

constexpr int kQK = 32;  // elements per block

// Layouts (bytes):  Q4_0 = d:f16, qs[16]                     (18)
//                   Q4_1 = d:f16, m:f16, qs[16]              (20)
//                   Q5_0 = d:f16, qh:u32, qs[16]             (22)
//                   Q5_1 = d:f16, m:f16, qh:u32, qs[16]      (24)
//                   Q8_0 = d:f16, qs:i8[32]                  (34)
// A nibble byte qs[j] holds element j (low) and element j + 16 (high); bit j of qh is the fifth
// bit of element j.
constexpr size_t kQ4_0Bytes = 18, kQ4_1Bytes = 20, kQ5_0Bytes = 22, kQ5_1Bytes = 24,
                 kQ8_0Bytes = 34;

// The value of largest magnitude, with its sign: the symmetric types map it to the most
// negative code so the full code range is used on the side that matters.
float signed_absmax(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, float* min, float* max) {
  *min = x[0];
  *max = x[0];
  for (int j = 1; j < kQK; ++j) {
    *min = std::min(*min, x[j]);
    *max = std::max(*max, x[j]);
  }
}

}  // namespace

void dequant_q4_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ4_0Bytes, dst += kQK) {
    const float d = load_f16(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = float((qs[j] & 0x0f) - 8) * d;
      dst[j + 16] = float((qs[j] >> 4) - 8) * d;
    }
  }
}

void dequant_q4_1(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ4_1Bytes, dst += kQK) {
    const float d = load_f16(src);
    const float m = load_f16(src + 2);
    const uint8_t* qs = src + 4;
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = float(qs[j] & 0x0f) * d + m;
      dst[j + 16] = float(qs[j] >> 4) * d + m;
    }
  }
}

void dequant_q5_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ5_0Bytes, dst += kQK) {
    const float d = load_f16(src);
    const uint32_t qh = load_u32(src + 2);
    const uint8_t* qs = src + 6;
    for (int j = 0; j < kQK / 2; ++j) {
      const int hi0 = int((qh >> j) & 1) << 4;
      const int hi1 = int((qh >> (j + 16)) & 1) << 4;
      dst[j] = float(((qs[j] & 0x0f) | hi0) - 16) * d;
      dst[j + 16] = float(((qs[j] >> 4) | hi1) - 16) * d;
    }
  }
}

void dequant_q5_1(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ5_1Bytes, dst += kQK) {
    const float d = load_f16(src);
    const float m = load_f16(src + 2);
    const uint32_t qh = load_u32(src + 4);
    const uint8_t* qs = src + 8;
    for (int j = 0; j < kQK / 2; ++j) {
      const int hi0 = int((qh >> j) & 1) << 4;
      const int hi1 = int((qh >> (j + 16)) & 1) << 4;
      dst[j] = float((qs[j] & 0x0f) | hi0) * d + m;
      dst[j + 16] = float((qs[j] >> 4) | hi1) * d + m;
    }
  }
}

void dequant_q8_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ8_0Bytes, dst += kQK) {
    const float d = load_f16(src);
    for (int j = 0; j < kQK; ++j) dst[j] = float(int8_t(src[2 + j])) * d;
  }
}

// The encoders compute the inverse scale in float from the unrounded d (as ggml does) and only
// round d to half when storing it; changing either would change which code a value lands on.

void quant_q4_0(const float* src, uint8_t* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kQ4_0Bytes) {
    const float d = signed_absmax(src) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    for (int j = 0; j < kQK / 2; ++j) {
      // x * id is in [-8, 8]; +8.5 then truncation rounds to the nearest code, and the one
      // value that reaches 16 (x = -max) is clamped.
      const int lo = std::min(15, trunc_to_int(src[j] * id + 8.5f));
      const int hi = std::min(15, trunc_to_int(src[j + 16] * id + 8.5f));
      dst[2 + j] = uint8_t(lo | (hi << 4));
    }
  }
}

void quant_q4_1(const float* src, uint8_t* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kQ4_1Bytes) {
    float min, max;
    min_max(src, &min, &max);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    store_f16(dst + 2, min);
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = std::min(15, trunc_to_int((src[j] - min) * id + 0.5f));
      const int hi = std::min(15, trunc_to_int((src[j + 16] - min) * id + 0.5f));
      dst[4 + j] = uint8_t(lo | (hi << 4));
    }
  }
}

void quant_q5_0(const float* src, uint8_t* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kQ5_0Bytes) {
    const float d = signed_absmax(src) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = std::min(31, trunc_to_int(src[j] * id + 16.5f));
      const int hi = std::min(31, trunc_to_int(src[j + 16] * id + 16.5f));
      dst[6 + j] = uint8_t((lo & 0x0f) | ((hi & 0x0f) << 4));
      qh |= uint32_t((lo >> 4) & 1) << j;
      qh |= uint32_t((hi >> 4) & 1) << (j + 16);
    }
    store_u32(dst + 2, qh);
  }
}

void quant_q5_1(const float* src, uint8_t* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kQ5_1Bytes) {
    float min, max;
    min_max(src, &min, &max);
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    store_f16(dst + 2, min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      // (x - min) * id is in [0, 31], so no clamp is needed (ggml has none either).
      const int lo = trunc_to_int((src[j] - min) * id + 0.5f);
      const int hi = trunc_to_int((src[j + 16] - min) * id + 0.5f);
      dst[8 + j] = uint8_t((lo & 0x0f) | ((hi & 0x0f) << 4));
      qh |= uint32_t((lo >> 4) & 1) << j;
      qh |= uint32_t((hi >> 4) & 1) << (j + 16);
    }
    store_u32(dst + 4, qh);
  }
}

void quant_q8_0(const float* src, uint8_t* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kQ8_0Bytes) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    for (int j = 0; j < kQK; ++j) dst[2 + j] = uint8_t(int8_t(round_to_int(src[j] * id)));
  }
}

}  // namespace shuo::tensor::detail

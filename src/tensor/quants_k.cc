// Decoding of the K-quant super-blocks (256 elements): Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.
// Each super-block has one or two fp16 scales and per-sub-block integer scales; the order of the
// float operations follows ggml's reference so results are bit-identical.
#include "tensor/quants_impl.h"

namespace shuo::tensor::detail {
namespace {

constexpr int kQK = 256;

// Layouts (bytes):
//   Q2_K = scales[16] (low nibble scale, high nibble min, per 16 elements), qs[64], d, dmin  (84)
//   Q3_K = hmask[32], qs[64], scales[12] (16 six-bit scales, bias 32), d                    (110)
//   Q4_K = d, dmin, scales[12] (8 six-bit scale/min pairs), qs[128]                         (144)
//   Q5_K = d, dmin, scales[12], qh[32], qs[128]                                             (176)
//   Q6_K = ql[128], qh[64], scales:i8[16], d                                                (210)
//   Q8_K = d:f32, qs:i8[256], bsums:i16[16]                                                 (292)
constexpr size_t kQ2KBytes = 84, kQ3KBytes = 110, kQ4KBytes = 144, kQ5KBytes = 176,
                 kQ6KBytes = 210, kQ8KBytes = 292;

// Six-bit signed scale i (0..15) of a Q3_K block: the low 4 bits are nibbles of bytes 0..7
// (scales 8..15 in the high nibbles), the top 2 bits are bit pairs of bytes 8..11.
int q3k_scale(const uint8_t* packed, int i) {
  const int low = i < 8 ? (packed[i] & 0x0f) : (packed[i - 8] >> 4);
  const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace

void dequant_q2_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ2KBytes) {
    const uint8_t* scales = src;
    const uint8_t* qs = src + 16;
    const float d = load_f16(src + 80);
    const float dmin = load_f16(src + 82);
    int is = 0;
    // Each 128-element half uses 32 bytes of qs four times, two bits at a time; each pass covers
    // two 16-element sub-blocks (bytes 0..15 and 16..31).
    for (int half = 0; half < 2; ++half, qs += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part, ++is) {
          const float dl = d * float(scales[is] & 0x0f);
          const float ml = dmin * float(scales[is] >> 4);
          for (int l = 0; l < 16; ++l)
            *dst++ = dl * float((qs[part * 16 + l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

void dequant_q3_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ3KBytes) {
    const uint8_t* hmask = src;
    const uint8_t* qs = src + 32;
    const uint8_t* scales = src + 96;
    const float d = load_f16(src + 108);
    int is = 0;
    uint8_t mask = 1;  // one hmask bit per 32-element pass; set means "no -4 offset"
    for (int half = 0; half < 2; ++half, qs += 32) {
      for (int shift = 0; shift < 8; shift += 2, mask <<= 1) {
        for (int part = 0; part < 2; ++part, ++is) {
          const float dl = d * float(q3k_scale(scales, is));
          for (int l = 0; l < 16; ++l) {
            const int k = part * 16 + l;
            const int q = ((qs[k] >> shift) & 3) - ((hmask[k] & mask) ? 0 : 4);
            *dst++ = dl * float(q);
          }
        }
      }
    }
  }
}

void dequant_q4_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ4KBytes) {
    const float d = load_f16(src);
    const float dmin = load_f16(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qs = src + 16;
    // 64 elements per 32 bytes: low nibbles are sub-block 2i, high nibbles sub-block 2i+1.
    for (int i = 0; i < 4; ++i, qs += 32) {
      uint8_t sc, m;
      k4_scale_min(scales, 2 * i, &sc, &m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      k4_scale_min(scales, 2 * i + 1, &sc, &m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      for (int l = 0; l < 32; ++l) *dst++ = d1 * float(qs[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * float(qs[l] >> 4) - m2;
    }
  }
}

void dequant_q5_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ5KBytes) {
    const float d = load_f16(src);
    const float dmin = load_f16(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* qs = src + 48;
    // As Q4_K, plus a fifth bit: bit 2i of qh[l] for sub-block 2i, bit 2i+1 for sub-block 2i+1.
    for (int i = 0; i < 4; ++i, qs += 32) {
      uint8_t sc, m;
      k4_scale_min(scales, 2 * i, &sc, &m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      k4_scale_min(scales, 2 * i + 1, &sc, &m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      const uint8_t bit1 = uint8_t(1u << (2 * i)), bit2 = uint8_t(2u << (2 * i));
      for (int l = 0; l < 32; ++l)
        *dst++ = d1 * float((qs[l] & 0x0f) + ((qh[l] & bit1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *dst++ = d2 * float((qs[l] >> 4) + ((qh[l] & bit2) ? 16 : 0)) - m2;
    }
  }
}

void dequant_q6_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ6KBytes) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = load_f16(src + 208);
    // Each 128-element half: ql bytes 0..31 / 32..63 give low nibbles of elements 0..31 / 32..63
    // and high nibbles of 64..95 / 96..127; qh byte l holds the top two bits of all four.
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, dst += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        // (d * scale) first, then times q: the rounding order ggml uses.
        dst[l] = d * float(sc[is]) * float(q1);
        dst[l + 32] = d * float(sc[is + 2]) * float(q2);
        dst[l + 64] = d * float(sc[is + 4]) * float(q3);
        dst[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
    }
  }
}

void dequant_q8_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQ8KBytes, dst += kQK) {
    const float d = load_f32(src);
    for (int j = 0; j < kQK; ++j) dst[j] = d * float(int8_t(src[4 + j]));
  }
}

}  // namespace shuo::tensor::detail

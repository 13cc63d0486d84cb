// Unpacking quantized blocks to int8 + scales (see quants_i8.h). Field layouts as in
// quants_legacy.cc / quants_k.cc; the scale products are formed in the same order as there.
#include "tensor/quants_i8.h"

#include "tensor/quants_impl.h"

namespace shuo::tensor {

namespace {

using format::GgmlType;
using detail::k4_scale_min;
using detail::load_f16;
using detail::load_u32;

constexpr int64_t kQK = 32, kQKK = 256;

void unpack_q8_0(const uint8_t* src, int64_t nb, int8_t* q, float* d) {
  for (int64_t b = 0; b < nb; ++b, src += 34, q += kQK) {
    d[b] = load_f16(src);
    for (int j = 0; j < kQK; ++j) q[j] = int8_t(src[2 + j]);
  }
}

// Q4_0 / Q4_1: low nibbles are elements 0..15, high nibbles 16..31. Q4_0 values are
// d · (nibble − 8); Q4_1 values are d · nibble + m.
void unpack_q4(const uint8_t* src, int64_t nb, bool with_min, int8_t* q, float* d, float* m) {
  const size_t bytes = with_min ? 20 : 18;
  const int offset = with_min ? 0 : 8;
  for (int64_t b = 0; b < nb; ++b, src += bytes, q += kQK) {
    d[b] = load_f16(src);
    if (with_min) m[b] = load_f16(src + 2);
    const uint8_t* qs = src + (with_min ? 4 : 2);
    for (int j = 0; j < 16; ++j) {
      q[j] = int8_t((qs[j] & 0x0f) - offset);
      q[j + 16] = int8_t((qs[j] >> 4) - offset);
    }
  }
}

// Q5_0 / Q5_1: as Q4, plus bit j of qh as the fifth bit of element j.
void unpack_q5(const uint8_t* src, int64_t nb, bool with_min, int8_t* q, float* d, float* m) {
  const size_t bytes = with_min ? 24 : 22;
  const int offset = with_min ? 0 : 16;
  for (int64_t b = 0; b < nb; ++b, src += bytes, q += kQK) {
    d[b] = load_f16(src);
    if (with_min) m[b] = load_f16(src + 2);
    const uint32_t qh = load_u32(src + (with_min ? 4 : 2));
    const uint8_t* qs = src + (with_min ? 8 : 6);
    for (int j = 0; j < 16; ++j) {
      const int hi0 = int((qh >> j) & 1) << 4, hi1 = int((qh >> (j + 16)) & 1) << 4;
      q[j] = int8_t(((qs[j] & 0x0f) | hi0) - offset);
      q[j + 16] = int8_t(((qs[j] >> 4) | hi1) - offset);
    }
  }
}

// Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scale and min; value = d·sc·q − dmin·m.
void unpack_q45_k(const uint8_t* src, int64_t nb, bool five_bit, int8_t* q, float* d, float* m) {
  const size_t bytes = five_bit ? 176 : 144;
  for (int64_t b = 0; b < nb; ++b, src += bytes) {
    const float dd = load_f16(src), dmin = load_f16(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* qs = src + (five_bit ? 48 : 16);
    for (int i = 0; i < 4; ++i, qs += 32) {
      for (int half = 0; half < 2; ++half) {
        const int j = 2 * i + half;
        uint8_t sc, mn;
        k4_scale_min(scales, j, &sc, &mn);
        *d++ = dd * float(sc);
        *m++ = -(dmin * float(mn));
        const uint8_t bit = uint8_t(1u << j);
        for (int l = 0; l < 32; ++l) {
          int v = half ? (qs[l] >> 4) : (qs[l] & 0x0f);
          if (five_bit && (qh[l] & bit)) v += 16;
          *q++ = int8_t(v);
        }
      }
    }
  }
}

// Q6_K: 16 groups of 16 with int8 scales; value = (d·sc)·(q − 32).
void unpack_q6_k(const uint8_t* src, int64_t nb, int8_t* q, float* d) {
  for (int64_t b = 0; b < nb; ++b, src += 210, q += kQKK, d += 16) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float dd = load_f16(src + 208);
    for (int g = 0; g < 16; ++g) d[g] = dd * float(sc[g]);
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32) {
      int8_t* o = q + half * 128;
      for (int l = 0; l < 32; ++l) {
        o[l] = int8_t(((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32);
        o[l + 32] = int8_t(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
        o[l + 64] = int8_t(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        o[l + 96] = int8_t(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
  }
}

}  // namespace

void k4_scale_min(const uint8_t* packed, int j, uint8_t* scale, uint8_t* min) {
  detail::k4_scale_min(packed, j, scale, min);
}

bool can_unpack_i8(GgmlType t) {
  switch (t) {
    case GgmlType::Q8_0: case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0:
    case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

I8Layout i8_layout(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K:
      return {32, true};
    case GgmlType::Q6_K:
      return {16, false};
    default:
      return {32, false};
  }
}

void unpack_row_i8(GgmlType t, const uint8_t* row, int64_t n, int8_t* q, float* d, float* m) {
  switch (t) {
    case GgmlType::Q8_0: return unpack_q8_0(row, n / kQK, q, d);
    case GgmlType::Q4_0: return unpack_q4(row, n / kQK, false, q, d, m);
    case GgmlType::Q4_1: return unpack_q4(row, n / kQK, true, q, d, m);
    case GgmlType::Q5_0: return unpack_q5(row, n / kQK, false, q, d, m);
    case GgmlType::Q5_1: return unpack_q5(row, n / kQK, true, q, d, m);
    case GgmlType::Q4_K: return unpack_q45_k(row, n / kQKK, false, q, d, m);
    case GgmlType::Q5_K: return unpack_q45_k(row, n / kQKK, true, q, d, m);
    case GgmlType::Q6_K: return unpack_q6_k(row, n / kQKK, q, d);
    default: return;
  }
}

}  // namespace shuo::tensor

// The ternary types TQ1_0 (1.6875 bits/weight, five trits per byte) and TQ2_0 (2 bits/weight):
// decoding and the reference encoders, byte-exact with ggml. Each element is -1, 0 or +1 times
// the block's fp16 scale d = max |x|.
#include <algorithm>
#include <cmath>

#include "tensor/quants_impl.h"

namespace shuo::tensor::detail {
namespace {

constexpr int kQK = 256;

// Layouts (bytes):  TQ1_0 = qs[48], qh[4], d:f16    (54)
//                   TQ2_0 = qs[64], d:f16           (66)
// TQ1_0 packs 5 trits per byte as a base-3 fraction: byte = ceil(t * 256 / 243) where
// t = t0*81 + t1*27 + t2*9 + t3*3 + t4, so trit k is recovered by multiplying the byte by 3^k
// (mod 256, dropping the trits above) and taking the top "digit" ((q * 3) >> 8). qs[0..32)
// hold elements e = n*32 + m in byte m, trit n; qs[32..48) elements 160 + n*16 + m; the four qh
// bytes hold four trits each (element 240 + n*4 + j in byte j), the fifth trit unused.
constexpr size_t kTq1Bytes = 54, kTq2Bytes = 66;
constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};

float trit_value(uint8_t byte, int k, float d) {
  const uint8_t q = uint8_t(byte * kPow3[k]);  // wraps mod 256 on purpose
  const int t = (int(q) * 3) >> 8;
  return float(t - 1) * d;
}

// Code (0, 1, 2) for x in units of the inverse scale: round to -1, 0, +1, then offset.
int trit_code(float x, float id) { return round_to_int(x * id) + 1; }

// Byte for 5 trits given most significant first.
uint8_t pack_trits(int t) { return uint8_t((t * 256 + 242) / 243); }  // ceil(t * 256 / 243)

float block_absmax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

}  // namespace

void dequant_tq1_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kTq1Bytes) {
    const uint8_t* qs = src;
    const uint8_t* qh = src + 48;
    const float d = load_f16(src + 52);
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 32; ++m) *dst++ = trit_value(qs[m], n, d);
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 16; ++m) *dst++ = trit_value(qs[32 + m], n, d);
    for (int n = 0; n < 4; ++n)
      for (int j = 0; j < 4; ++j) *dst++ = trit_value(qh[j], n, d);
  }
}

void dequant_tq2_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kTq2Bytes) {
    const float d = load_f16(src + 64);
    // Two 128-element halves; byte m of a half holds elements m, m+32, m+64, m+96 (2 bits each,
    // lowest first), code c meaning c - 1.
    for (int half = 0; half < 2; ++half)
      for (int k = 0; k < 4; ++k)
        for (int m = 0; m < 32; ++m)
          *dst++ = float(((src[half * 32 + m] >> (2 * k)) & 3) - 1) * d;
  }
}

void quant_tq1_0(const float* src, uint8_t* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kTq1Bytes) {
    const float d = block_absmax(src);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const float* x = src;
    for (int m = 0; m < 32; ++m) {
      int t = 0;
      for (int n = 0; n < 5; ++n) t = t * 3 + trit_code(x[n * 32 + m], id);
      dst[m] = pack_trits(t);
    }
    x += 160;
    for (int m = 0; m < 16; ++m) {
      int t = 0;
      for (int n = 0; n < 5; ++n) t = t * 3 + trit_code(x[n * 16 + m], id);
      dst[32 + m] = pack_trits(t);
    }
    x += 80;
    for (int j = 0; j < 4; ++j) {
      int t = 0;
      for (int n = 0; n < 4; ++n) t = t * 3 + trit_code(x[n * 4 + j], id);
      dst[48 + j] = pack_trits(t * 3);  // four trits in the top positions, the last one zero
    }
    store_f16(dst + 52, d);
  }
}

void quant_tq2_0(const float* src, uint8_t* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kTq2Bytes) {
    const float d = block_absmax(src);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int half = 0; half < 2; ++half) {
      const float* x = src + half * 128;
      for (int m = 0; m < 32; ++m) {
        int q = 0;
        for (int k = 0; k < 4; ++k) q |= (trit_code(x[k * 32 + m], id) & 3) << (2 * k);
        dst[half * 32 + m] = uint8_t(q);
      }
    }
    store_f16(dst + 64, d);
  }
}

}  // namespace shuo::tensor::detail

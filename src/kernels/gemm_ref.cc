// Scalar references of the tiled GEMM kernels (gemm.h): the same packed inputs and the same
// arithmetic as the SIMD kernels, one lane at a time. Kept forever; tests compare against them.
#include <cmath>

#include "kernels/gemm.h"
#include "tensor/fp16.h"
#include "tensor/quants_i8.h"

namespace shuo::kernels {

void gemm_i8_ref(const GemmI8Tile& w, const GemmAct& act, int64_t n_tokens, float* y,
                 int64_t y_stride, int n_rows) {
  const int64_t nb = w.cols / 32, ng16 = w.cols / 16;
  const int per_block = 32 / w.group;  // d groups per 32-element block
  for (int64_t t = 0; t < n_tokens; ++t) {
    const BlockQ8A* a = act.blocks + t * nb;
    const int32_t* corr = act.corr + t * ng16;
    for (int r = 0; r < n_rows; ++r) {
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        for (int part = 0; part < per_block; ++part) {
          const int len = w.group;
          const int64_t c0 = b * 32 + part * len;
          int32_t s = 0;
          for (int c = 0; c < len; ++c) {
            const int64_t col = c0 + c;
            const uint8_t wq = w.q[((col / 4) * kGemmRows + r) * 4 + col % 4];
            s += int32_t(wq) * int32_t(a[b].qs[part * len + c]);
          }
          for (int h = 0; h < len / 16; ++h) s -= kGemmI8Offset * corr[c0 / 16 + h];
          const float dw = w.d[(c0 / len) * kGemmRows + r];
          acc = std::fma(float(s), dw * a[b].d, acc);
        }
        if (w.m) acc = std::fma(w.m[b * kGemmRows + r], a[b].sum, acc);
      }
      y[t * y_stride + r] = acc;
    }
  }
}

void gemm_f32_ref(const GemmF32Tile& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                  int64_t y_stride, int n_rows) {
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int r = 0; r < n_rows; ++r) {
      float acc = 0.0f;
      for (int64_t c = 0; c < w.cols; ++c) acc = std::fma(w.w[c * kGemmRows + r], x[t * x_stride + c], acc);
      y[t * y_stride + r] = acc;
    }
}

}  // namespace shuo::kernels

namespace shuo::kernels {

namespace {
float f16_at(const uint8_t* p) {
  return tensor::fp16_to_fp32(uint16_t(p[0] | (p[1] << 8)));
}

// Q4_Kx16 (packed.h) against 256-element activation blocks (GemmAct::kblocks): per super-block
// of row r, S = Σ_j sc[j] · Σ q·a and M = Σ_j mn[j] · Σ a over sub-block j, both exact integers,
// then d_a · (d·S − dmin·M).
void gemm_packed_q4_k_ref(const PackedTile& w, const GemmAct& act, int64_t n_tokens, float* y, int64_t y_stride,
                          int n_rows) {
  const int64_t nsb = w.cols / 256;
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int r = 0; r < n_rows; ++r) {
      float acc = 0.0f;
      for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* blk = w.data + size_t(sb) * 2304;
        const BlockQ8KA& a = act.kblocks[t * nsb + sb];
        uint8_t s[12];  // the row's stored scale bytes
        for (int k = 0; k < 3; ++k)
          for (int m = 0; m < 4; ++m) s[4 * k + m] = blk[2048 + 96 * (r / 8) + 32 * k + 4 * (r % 8) + m];
        int32_t S = 0, M = 0;
        for (int j = 0; j < 8; ++j) {
          uint8_t sc, mn;
          tensor::k4_scale_min(s, j, &sc, &mn);
          int32_t sum = 0;
          for (int e = 0; e < 32; ++e) {
            const uint8_t byte = blk[((j / 2) * 8 + e / 4) * 64 + r * 4 + e % 4];
            sum += int32_t(j % 2 ? byte >> 4 : byte & 0x0f) * a.qs[32 * j + e];
          }
          S += sc * sum;
          M += mn * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
        }
        const float dd = f16_at(blk + 2240 + 2 * r), dmin = f16_at(blk + 2272 + 2 * r);
        acc = std::fma(float(S), dd * a.d, acc);
        acc = std::fma(float(M), -(dmin * a.d), acc);
      }
      y[t * y_stride + r] = acc;
    }
}

}  // namespace

void gemm_packed_ref(const PackedTile& w, const GemmAct& act, const float* x, int64_t x_stride,
                     int64_t n_tokens, float* y, int64_t y_stride, int n_rows) {
  if (w.kind == PackedKind::kQ4_Kx16) return gemm_packed_q4_k_ref(w, act, n_tokens, y, y_stride, n_rows);
  const int64_t nb = w.cols / 32, ng16 = w.cols / 16;
  const size_t bb = packed_block_bytes(w.kind);
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int r = 0; r < n_rows; ++r) {
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w.data + size_t(b) * bb;
        if (w.kind == PackedKind::kF16x16) {
          for (int c = 0; c < 32; ++c) acc = std::fma(f16_at(blk + c * 32 + 2 * r), x[t * x_stride + b * 32 + c], acc);
          continue;
        }
        const BlockQ8A& a = act.blocks[t * nb + b];
        const int32_t* corr = act.corr + t * ng16 + 2 * b;
        int32_t s = 0;
        int32_t offset = 0;
        if (w.kind == PackedKind::kQ8_0x16) {
          offset = 128;
          for (int e = 0; e < 32; ++e) s += int32_t(blk[((e / 4) * 16 + r) * 4 + e % 4]) * a.qs[e];
        } else if (w.kind == PackedKind::kQ4_0x16) {
          offset = 8;
          for (int e = 0; e < 16; ++e) {
            const uint8_t byte = blk[(e / 4) * 64 + r * 4 + e % 4];
            s += int32_t(byte & 0x0f) * a.qs[e] + int32_t(byte >> 4) * a.qs[e + 16];
          }
        } else {  // kQ5_0x16
          offset = 16;
          for (int e = 0; e < 16; ++e) {
            const int i = e / 4, j = e % 4;
            const uint8_t byte = blk[i * 64 + r * 4 + j];
            const uint8_t bits = blk[256 + 32 * (r / 8) + (r % 8) * 4 + j];
            s += int32_t((byte & 0x0f) | (((bits >> (2 * i)) & 1) << 4)) * a.qs[e] +
                 int32_t((byte >> 4) | (((bits >> (2 * i + 1)) & 1) << 4)) * a.qs[e + 16];
          }
        }
        s -= offset * (corr[0] + corr[1]);
        const size_t scales = w.kind == PackedKind::kQ8_0x16 ? 512 : w.kind == PackedKind::kQ4_0x16 ? 256 : 320;
        const float d = f16_at(blk + scales + 2 * r);
        acc = std::fma(float(s), d * a.d, acc);
      }
      y[t * y_stride + r] = acc;
    }
}

}  // namespace shuo::kernels

// Packing weight rows into the GEMM tile layouts of gemm.h, and the activation group sums.
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/matmul.h"
#include "tensor/quants_i8.h"

namespace shuo::kernels {

bool gemm_i8_type(format::GgmlType t) { return tensor::can_unpack_i8(t); }

bool gemm_f32_type(format::GgmlType t) {
  return t == format::GgmlType::F32 || t == format::GgmlType::F16 || t == format::GgmlType::BF16;
}

void gemm_act_corr(const BlockQ8A* blocks, int64_t n, int32_t* corr) {
  for (int64_t b = 0; b < n / 32; ++b)
    for (int h = 0; h < 2; ++h) {
      int32_t s = 0;
      for (int j = 0; j < 16; ++j) s += blocks[b].qs[h * 16 + j];
      corr[2 * b + h] = s;
    }
}

void interleave_i8_ref(const int8_t* rows, int64_t cols, uint8_t* out) {
  uint32_t* words = reinterpret_cast<uint32_t*>(out);
  for (int64_t k = 0; k < cols / 4; ++k)
    for (int r = 0; r < kGemmRows; ++r) {
      uint32_t v;
      std::memcpy(&v, rows + r * cols + 4 * k, 4);
      words[k * kGemmRows + r] = v ^ 0x80808080u;  // q + kGemmI8Offset (128) in each byte
    }
}

GemmI8Tile pack_i8_tile(const WeightMatrix& w, int64_t r0, int n_rows, GemmPackBuffers& buf,
                        const VecDotKernels& k) {
  const UnpackRowI8Fn unpack = k.unpack_i8 ? k.unpack_i8 : tensor::unpack_row_i8;
  const InterleaveI8Fn interleave = k.interleave_i8 ? k.interleave_i8 : interleave_i8_ref;
  const int64_t cols = w.cols;
  const tensor::I8Layout lay = tensor::i8_layout(w.type);
  const int64_t ng = cols / lay.group, nb = cols / 32;
  buf.q_rows.resize(size_t(kGemmRows * cols));
  buf.d_rows.resize(size_t(kGemmRows * ng));
  buf.m_rows.resize(size_t(kGemmRows * nb));
  for (int r = 0; r < kGemmRows; ++r) {
    int8_t* q = buf.q_rows.data() + r * cols;
    float* d = buf.d_rows.data() + r * ng;
    float* m = buf.m_rows.data() + r * nb;
    if (r < n_rows) {
      unpack(w.type, w.row(r0 + r), cols, q, d, m);
    } else {
      std::memset(q, 0, size_t(cols));
      std::fill(d, d + ng, 0.0f);
      std::fill(m, m + nb, 0.0f);
    }
  }
  buf.q.resize(size_t(kGemmRows * cols));
  buf.d.resize(size_t(kGemmRows * ng));
  interleave(buf.q_rows.data(), cols, buf.q.data());
  for (int64_t g = 0; g < ng; ++g)
    for (int r = 0; r < kGemmRows; ++r) buf.d[g * kGemmRows + r] = buf.d_rows[r * ng + g];
  GemmI8Tile t;
  t.q = buf.q.data();
  t.d = buf.d.data();
  t.group = lay.group;
  t.cols = cols;
  if (lay.has_min) {
    buf.m.resize(size_t(kGemmRows * nb));
    for (int64_t b = 0; b < nb; ++b)
      for (int r = 0; r < kGemmRows; ++r) buf.m[b * kGemmRows + r] = buf.m_rows[r * nb + b];
    t.m = buf.m.data();
  }
  return t;
}

GemmF32Tile pack_f32_tile(const WeightMatrix& w, int64_t r0, int n_rows, GemmPackBuffers& buf) {
  const int64_t cols = w.cols;
  buf.f.resize(size_t(kGemmRows * cols));
  std::vector<float>& rows_f = buf.f_rows;  // rows as floats first, then interleaved
  rows_f.resize(size_t(kGemmRows * cols));
  for (int r = 0; r < kGemmRows; ++r) {
    float* dst = rows_f.data() + r * cols;
    if (r < n_rows) {
      row_to_float(w, r0 + r, dst);
    } else {
      std::fill(dst, dst + cols, 0.0f);
    }
  }
  for (int64_t c = 0; c < cols; ++c)
    for (int r = 0; r < kGemmRows; ++r) buf.f[c * kGemmRows + r] = rows_f[r * cols + c];
  return GemmF32Tile{buf.f.data(), cols};
}

}  // namespace shuo::kernels

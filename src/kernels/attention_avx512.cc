// AVX-512 attention over the paged cache, flash-attention style: a job is one KV head and a
// run of up to 16 tokens, i.e. every query row (token × query head of the group) that reads
// that head. The cache is walked in chunks of up to 16 positions; each chunk's keys are
// gathered once into a [head_dim][16] tile that every row of the job reuses, so a row's 16
// scores are head_dim FMAs with positions in the lanes (no horizontal sums). Softmax is
// online (running max m and sum l per row, the output rescaled when m grows), so nothing
// proportional to the context length is stored, and exp runs 16 lanes at a time.
// An F16 or Q8_0 cache is widened chunk by chunk: the chunk's key and value rows of the head
// are converted once into float scratch that every row of the job then reads.
// Same contract as attention_ref (attention_ref.cc), results equal up to float rounding.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention.h"
#include "kernels/simd_x86.h"
#include "tensor/fp16.h"

namespace shuo::kernels {

namespace {

constexpr int kTokensPerJob = 16;

inline __mmask16 tail_mask(int n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// n halves → floats, 16 at a time.
inline void widen_f16(const uint16_t* src, int n, float* dst) {
  int i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
  }
}

// n elements of Q8_0 blocks (n a multiple of 32) → floats: each block's 32 int8 times its scale.
inline void widen_q8_0(const uint8_t* src, int n, float* dst) {
  for (int b = 0; b < n / 32; ++b, src += 34, dst += 32) {
    const __m512 d = _mm512_set1_ps(tensor::fp16_to_fp32(uint16_t(src[0] | src[1] << 8)));
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 18));
    _mm512_storeu_ps(dst, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo))));
    _mm512_storeu_ps(dst + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi))));
  }
}

// Per-row running state of the online softmax.
struct RowState {
  float m = -INFINITY;  // max score so far
  float l = 0.0f;       // Σ e^(score − m)
};

}  // namespace

void attention_avx512(const float* q, int64_t n_tokens, int32_t pos0, const KvBlocksView& kv,
                      const AttentionShape& s, float* out, tensor::ThreadPool& pool) {
  const int32_t bs = kv.block_size;
  const int group = s.n_head / s.n_head_kv;
  const int hd = s.head_dim;
  const int64_t q_stride = int64_t(s.n_head) * hd;
  const int64_t kv_stride = int64_t(s.n_head_kv) * hd;
  const int64_t n_chunks = (n_tokens + kTokensPerJob - 1) / kTokensPerJob;
  const int n_vec = (hd + 15) / 16;
  // F16 and Q8_0 caches are widened to float scratch rows of hd; an F32 cache is read in place.
  const bool widen = kv.type != format::GgmlType::F32;
  const int64_t row_stride = widen ? hd : kv_stride;  // stride of the rows the chunk loop reads
  // Gather offsets of 16 consecutive positions of one head within a block.
  const __m512i pos_offsets = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                                 _mm512_set1_epi32(int32_t(row_stride)));
  pool.parallel_for(int64_t(s.n_head_kv) * n_chunks, [&](int64_t begin, int64_t end, int) {
    // Scratch on the stack for the common sizes; the vector path only for unusual shapes.
    const size_t rows_max = size_t(kTokensPerJob) * size_t(group);
    std::vector<float> heap;
    float stack_buf[16 * 256 + 16 * 16 * 256 + 2 * 16 * (256 + 16)];
    const size_t need = size_t(16) * hd + rows_max * size_t(n_vec) * 16 + (widen ? size_t(2) * 16 * (hd + 16) : 0);
    float* buf = stack_buf;
    if (need > sizeof(stack_buf) / sizeof(float)) {
      heap.resize(need);
      buf = heap.data();
    }
    float* kt = buf;                     // [hd][16] keys of the chunk, transposed
    float* acc = buf + size_t(16) * hd;  // [rows][n_vec·16] unnormalised outputs
    float* kc = acc + rows_max * size_t(n_vec) * 16;  // F16/Q8_0 cache: [16][hd] keys as float
    float* vc = kc + size_t(16) * (hd + 16);           // and values (+16: masked tail loads)
    RowState st[16 * 64];
    std::vector<RowState> st_heap;
    RowState* state = st;
    if (rows_max > sizeof(st) / sizeof(st[0])) {
      st_heap.resize(rows_max);
      state = st_heap.data();
    }
    alignas(64) float p16[16];

    for (int64_t job = begin; job < end; ++job) {
      const int kvh = int(job / n_chunks);
      const int64_t t0 = (job % n_chunks) * kTokensPerJob;
      const int64_t nt = std::min<int64_t>(kTokensPerJob, n_tokens - t0);
      const int64_t rows = nt * group;
      for (int64_t r = 0; r < rows; ++r) state[r] = RowState{};
      std::fill(acc, acc + rows * n_vec * 16, 0.0f);
      const int64_t n_pos_job = pos0 + t0 + nt;  // the last token of the job sees this many
      for (int64_t c0 = 0; c0 < n_pos_job;) {
        // A chunk: up to 16 positions inside one block.
        const int64_t blk = c0 / bs, in_blk = c0 % bs;
        const int len = int(std::min<int64_t>({16, bs - in_blk, n_pos_job - c0}));
        const int64_t first = in_blk * kv_stride + int64_t(kvh) * hd;  // element offset in the block
        const float* kbase;
        const float* vbase;
        if (kv.type == format::GgmlType::F16) {
          const auto* kh = static_cast<const uint16_t*>(kv.k[blk]) + first;
          const auto* vh = static_cast<const uint16_t*>(kv.v[blk]) + first;
          for (int j = 0; j < len; ++j) {
            widen_f16(kh + j * kv_stride, hd, kc + j * hd);
            widen_f16(vh + j * kv_stride, hd, vc + j * hd);
          }
          kbase = kc;
          vbase = vc;
        } else if (widen) {  // Q8_0: rows are whole blocks (kv_type_fits), 34 bytes per 32
          const auto* kq = static_cast<const uint8_t*>(kv.k[blk]) + first / 32 * 34;
          const auto* vq = static_cast<const uint8_t*>(kv.v[blk]) + first / 32 * 34;
          const int64_t q_stride8 = kv_stride / 32 * 34;
          for (int j = 0; j < len; ++j) {
            widen_q8_0(kq + j * q_stride8, hd, kc + j * hd);
            widen_q8_0(vq + j * q_stride8, hd, vc + j * hd);
          }
          kbase = kc;
          vbase = vc;
        } else {
          kbase = static_cast<const float*>(kv.k[blk]) + first;
          vbase = static_cast<const float*>(kv.v[blk]) + first;
        }
        const __mmask16 lanes = tail_mask(len);
        for (int d = 0; d < hd; ++d)
          _mm512_store_ps(kt + d * 16, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, pos_offsets, kbase + d, 4));
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t t = t0 + r / group;
          const int h = kvh * group + int(r % group);
          const int64_t visible = pos0 + t + 1 - c0;  // positions of this chunk the token sees
          if (visible <= 0) continue;
          const __mmask16 m = lanes & tail_mask(int(std::min<int64_t>(visible, 16)));
          const float* qh = q + t * q_stride + int64_t(h) * hd;
          __m512 sc0 = _mm512_setzero_ps(), sc1 = _mm512_setzero_ps();
          int d = 0;
          for (; d + 2 <= hd; d += 2) {
            sc0 = _mm512_fmadd_ps(_mm512_set1_ps(qh[d]), _mm512_load_ps(kt + d * 16), sc0);
            sc1 = _mm512_fmadd_ps(_mm512_set1_ps(qh[d + 1]), _mm512_load_ps(kt + (d + 1) * 16), sc1);
          }
          if (d < hd) sc0 = _mm512_fmadd_ps(_mm512_set1_ps(qh[d]), _mm512_load_ps(kt + d * 16), sc0);
          const __m512 sc = _mm512_mul_ps(_mm512_add_ps(sc0, sc1), _mm512_set1_ps(s.scale));
          RowState& rs = state[r];
          const float m_new = std::max(rs.m, _mm512_mask_reduce_max_ps(m, sc));
          const float alpha = std::exp(rs.m - m_new);  // 0 on the first chunk (m = −inf)
          const __m512 p = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(sc, _mm512_set1_ps(m_new))));
          rs.l = rs.l * alpha + _mm512_reduce_add_ps(p);
          rs.m = m_new;
          _mm512_store_ps(p16, p);
          const int n_p = int(std::min<int64_t>(visible, len));
          float* o = acc + r * n_vec * 16;
          const __m512 va = _mm512_set1_ps(alpha);
          for (int v = 0; v < n_vec; ++v) {
            const __mmask16 dm = tail_mask(hd - v * 16);
            __m512 ov = _mm512_mul_ps(_mm512_load_ps(o + v * 16), va);
            for (int j = 0; j < n_p; ++j)
              ov = _mm512_fmadd_ps(_mm512_set1_ps(p16[j]), _mm512_maskz_loadu_ps(dm, vbase + j * row_stride + v * 16), ov);
            _mm512_store_ps(o + v * 16, ov);
          }
        }
        c0 += len;
      }
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t t = t0 + r / group;
        const int h = kvh * group + int(r % group);
        float* oh = out + t * q_stride + int64_t(h) * hd;
        const __m512 inv = _mm512_set1_ps(1.0f / state[r].l);
        for (int v = 0; v < n_vec; ++v)
          _mm512_mask_storeu_ps(oh + v * 16, tail_mask(hd - v * 16), _mm512_mul_ps(_mm512_load_ps(acc + r * n_vec * 16 + v * 16), inv));
      }
    }
  });
}

}  // namespace shuo::kernels

// AVX2 + FMA attention over the paged cache, the same flash-attention scheme as the AVX-512
// variant with 8 lanes: a job is one KV head and a run of up to 16 tokens (every query row of
// that head's group), the cache is walked in chunks of up to 8 positions inside one block, and
// each chunk's keys are laid out once as a [head_dim][8] tile that every row of the job reuses,
// so a row's 8 scores are head_dim FMAs with positions in the lanes. Softmax is online (running
// max and sum per row, the output rescaled when the max grows).
// Every cache type is first copied into float scratch rows padded to a multiple of 8 with zeros
// (F32 copied, F16 widened, Q8_0 dequantized), so the value loop needs no tail masks whatever
// the head size. Same contract as attention_ref (attention_ref.cc), equal up to float rounding.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention.h"
#include "kernels/simd_x86.h"
#include "tensor/fp16.h"

namespace shuo::kernels {

namespace {

constexpr int kTokensPerJob = 16;
constexpr int kLanes = 8;

// Lanes 0 … n-1 set (n ≤ 8), as a float mask.
inline __m256 lane_mask(int n) {
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}

inline float hmax_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// One head's row of hd elements at element offset `first` of a block, as floats in dst[0, hdp),
// zero from hd on.
void load_row(const void* block, int64_t first, format::GgmlType type, int hd, int hdp, float* dst) {
  if (type == format::GgmlType::F16) {
    const auto* h = static_cast<const uint16_t*>(block) + first;
    int d = 0;
    for (; d + 8 <= hd; d += 8)
      _mm256_storeu_ps(dst + d, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + d))));
    for (; d < hd; ++d) dst[d] = tensor::fp16_to_fp32(h[d]);
  } else if (type == format::GgmlType::Q8_0) {  // whole 32-element blocks (kv_type_fits)
    const auto* b = static_cast<const uint8_t*>(block) + first / 32 * 34;
    for (int d = 0; d < hd; d += 32, b += 34) {
      const __m256 scale = _mm256_set1_ps(half_at(b));
      for (int i = 0; i < 32; i += 8) {
        const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + i));
        _mm256_storeu_ps(dst + d + i, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
      }
    }
  } else {
    std::memcpy(dst, static_cast<const float*>(block) + first, size_t(hd) * sizeof(float));
  }
  for (int d = hd; d < hdp; ++d) dst[d] = 0.0f;
}

struct RowState {
  float m = -INFINITY;  // max score so far
  float l = 0.0f;       // Σ e^(score − m)
};

}  // namespace

void attention_avx2(const float* q, int64_t n_tokens, int32_t pos0, const KvBlocksView& kv,
                    const AttentionShape& s, float* out, tensor::ThreadPool& pool) {
  const int32_t bs = kv.block_size;
  const int group = s.n_head / s.n_head_kv;
  const int hd = s.head_dim;
  const int hdp = (hd + kLanes - 1) / kLanes * kLanes;
  const int n_vec = hdp / kLanes;
  const int64_t q_stride = int64_t(s.n_head) * hd;
  const int64_t kv_stride = int64_t(s.n_head_kv) * hd;
  const int64_t n_chunks = (n_tokens + kTokensPerJob - 1) / kTokensPerJob;
  pool.parallel_for(int64_t(s.n_head_kv) * n_chunks, [&](int64_t begin, int64_t end, int) {
    const size_t rows_max = size_t(kTokensPerJob) * size_t(group);
    // kt [hd][8] keys transposed, kc/vc [8][hdp] the chunk's rows as float, acc [rows][hdp].
    std::vector<float> buf(size_t(hd) * kLanes + 2 * size_t(kLanes) * hdp + rows_max * hdp);
    float* kt = buf.data();
    float* kc = kt + size_t(hd) * kLanes;
    float* vc = kc + size_t(kLanes) * hdp;
    float* acc = vc + size_t(kLanes) * hdp;
    std::vector<RowState> state(rows_max);
    alignas(32) float p8[kLanes];

    for (int64_t job = begin; job < end; ++job) {
      const int kvh = int(job / n_chunks);
      const int64_t t0 = (job % n_chunks) * kTokensPerJob;
      const int64_t nt = std::min<int64_t>(kTokensPerJob, n_tokens - t0);
      const int64_t rows = nt * group;
      std::fill(state.begin(), state.begin() + rows, RowState{});
      std::fill(acc, acc + rows * hdp, 0.0f);
      const int64_t n_pos_job = pos0 + t0 + nt;  // the last token of the job sees this many
      for (int64_t c0 = 0; c0 < n_pos_job;) {
        // A chunk: up to 8 positions inside one block.
        const int64_t blk = c0 / bs, in_blk = c0 % bs;
        const int len = int(std::min<int64_t>({kLanes, bs - in_blk, n_pos_job - c0}));
        const int64_t first = in_blk * kv_stride + int64_t(kvh) * hd;  // element offset in the block
        for (int j = 0; j < len; ++j) {
          load_row(kv.k[blk], first + j * kv_stride, kv.type, hd, hdp, kc + j * hdp);
          load_row(kv.v[blk], first + j * kv_stride, kv.type, hd, hdp, vc + j * hdp);
        }
        for (int d = 0; d < hd; ++d)
          for (int j = 0; j < kLanes; ++j) kt[d * kLanes + j] = j < len ? kc[j * hdp + d] : 0.0f;
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t t = t0 + r / group;
          const int h = kvh * group + int(r % group);
          const int64_t visible = pos0 + t + 1 - c0;  // positions of this chunk the token sees
          if (visible <= 0) continue;
          const int n_p = int(std::min<int64_t>(visible, len));
          const __m256 live = lane_mask(n_p);
          const float* qh = q + t * q_stride + int64_t(h) * hd;
          __m256 sc0 = _mm256_setzero_ps(), sc1 = _mm256_setzero_ps();
          int d = 0;
          for (; d + 2 <= hd; d += 2) {
            sc0 = _mm256_fmadd_ps(_mm256_set1_ps(qh[d]), _mm256_loadu_ps(kt + d * kLanes), sc0);
            sc1 = _mm256_fmadd_ps(_mm256_set1_ps(qh[d + 1]), _mm256_loadu_ps(kt + (d + 1) * kLanes), sc1);
          }
          if (d < hd) sc0 = _mm256_fmadd_ps(_mm256_set1_ps(qh[d]), _mm256_loadu_ps(kt + d * kLanes), sc0);
          __m256 sc = _mm256_mul_ps(_mm256_add_ps(sc0, sc1), _mm256_set1_ps(s.scale));
          sc = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), sc, live);
          RowState& rs = state[r];
          const float m_new = std::max(rs.m, hmax_ps(sc));
          const float alpha = std::exp(rs.m - m_new);  // 0 on the first chunk (m = −inf)
          const __m256 p = _mm256_and_ps(live, exp256_ps(_mm256_sub_ps(sc, _mm256_set1_ps(m_new))));
          rs.l = rs.l * alpha + hsum_ps(p);
          rs.m = m_new;
          _mm256_store_ps(p8, p);
          float* o = acc + r * hdp;
          const __m256 va = _mm256_set1_ps(alpha);
          for (int v = 0; v < n_vec; ++v) {
            __m256 ov = _mm256_mul_ps(_mm256_loadu_ps(o + v * kLanes), va);
            for (int j = 0; j < n_p; ++j)
              ov = _mm256_fmadd_ps(_mm256_set1_ps(p8[j]), _mm256_loadu_ps(vc + j * hdp + v * kLanes), ov);
            _mm256_storeu_ps(o + v * kLanes, ov);
          }
        }
        c0 += len;
      }
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t t = t0 + r / group;
        const int h = kvh * group + int(r % group);
        float* oh = out + t * q_stride + int64_t(h) * hd;
        const float inv = 1.0f / state[r].l;
        const float* a = acc + r * hdp;
        int d = 0;
        for (; d + kLanes <= hd; d += kLanes)
          _mm256_storeu_ps(oh + d, _mm256_mul_ps(_mm256_loadu_ps(a + d), _mm256_set1_ps(inv)));
        for (; d < hd; ++d) oh[d] = a[d] * inv;
      }
    }
  });
}

}  // namespace shuo::kernels

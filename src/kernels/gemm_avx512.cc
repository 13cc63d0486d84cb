// AVX-512 (+VNNI) tiled GEMM kernels of gemm.h. Per 32-element block, the 16 rows' packed
// weights are 8 registers loaded once and reused by every token of the pass; each token adds 8
// vpdpbusd against its broadcast activations, one int→float conversion and one FMA with the
// combined scales. Scalar references: gemm_ref.cc. Only intrinsics and plain C++ here.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "kernels/gemm.h"

namespace shuo::kernels {

namespace {

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// One pass over T tokens (T ≤ 16 accumulators stay in registers). G: elements per scale.
template <int T, int G, bool kMin>
void pass_i8(const GemmI8Tile& w, const BlockQ8A* act, const int32_t* corr, float* y,
             int64_t y_stride, __mmask16 mask) {
  const int64_t nb = w.cols / 32, ng16 = w.cols / 16;
  const __m512i* wq = reinterpret_cast<const __m512i*>(w.q);
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  // Fully unrolled token loop: the accumulators must live in registers, not on the stack.
  for (int64_t b = 0; b < nb; ++b) {
    __m512i wv[8];
    for (int k = 0; k < 8; ++k) wv[k] = _mm512_loadu_si512(wq + b * 8 + k);
    __m512 dv0, dv1, mv;
    if constexpr (G == 32) {
      dv0 = _mm512_loadu_ps(w.d + b * 16);
    } else {
      dv0 = _mm512_loadu_ps(w.d + (2 * b) * 16);
      dv1 = _mm512_loadu_ps(w.d + (2 * b + 1) * 16);
    }
    if constexpr (kMin) mv = _mm512_loadu_ps(w.m + b * 16);
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const BlockQ8A& a = act[t * nb + b];
      const int32_t* c = corr + t * ng16 + 2 * b;
      const __m512 da = _mm512_set1_ps(a.d);
      if constexpr (G == 32) {
        __m512i s = _mm512_set1_epi32(-kGemmI8Offset * (c[0] + c[1]));
        for (int k = 0; k < 8; ++k) s = _mm512_dpbusd_epi32(s, wv[k], bcast4(a.qs + 4 * k));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dv0, da), acc[t]);
      } else {
        __m512i s0 = _mm512_set1_epi32(-kGemmI8Offset * c[0]), s1 = _mm512_set1_epi32(-kGemmI8Offset * c[1]);
        for (int k = 0; k < 4; ++k) s0 = _mm512_dpbusd_epi32(s0, wv[k], bcast4(a.qs + 4 * k));
        for (int k = 4; k < 8; ++k) s1 = _mm512_dpbusd_epi32(s1, wv[k], bcast4(a.qs + 4 * k));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(dv0, da), acc[t]);
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_mul_ps(dv1, da), acc[t]);
      }
      if constexpr (kMin) acc[t] = _mm512_fmadd_ps(mv, _mm512_set1_ps(a.sum), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, mask, acc[t]);
}

template <int T>
void pass_f32(const GemmF32Tile& w, const float* x, int64_t x_stride, float* y, int64_t y_stride,
              __mmask16 mask) {
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t c = 0; c < w.cols; ++c) {
    const __m512 wv = _mm512_loadu_ps(w.w + c * kGemmRows);
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) acc[t] = _mm512_fmadd_ps(wv, _mm512_set1_ps(x[t * x_stride + c]), acc[t]);
  }
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, mask, acc[t]);
}

// Load-time packed int8 tiles (packed.h): weights straight from the tile, fp16 scales.
template <int T, PackedKind K>
void pass_packed_i8(const PackedTile& w, const BlockQ8A* act, const int32_t* corr, float* y,
                    int64_t y_stride, __mmask16 mask) {
  constexpr bool kQ8 = K == PackedKind::kQ8_0x16;
  constexpr int32_t kOffset = kQ8 ? 128 : 8;
  constexpr size_t kQBytes = kQ8 ? 512 : 256, kBlock = kQBytes + 32;
  constexpr size_t kPrefetch = 4;
  const int64_t nb = w.cols / 32, ng16 = w.cols / 16;
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = w.data + size_t(b) * kBlock;
    // The tile streams from DRAM in batched decode: with several tokens per block the hardware
    // prefetcher alone falls behind (measured 4.8 → 7.1 GB/s at 8 tokens on one core); with
    // one token it keeps up and software prefetches only cost.
    if constexpr (T > 1)
      for (size_t i = 0; i < kBlock; i += 64) _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetch * kBlock + i), _MM_HINT_T0);
    __m512i wv[8];
    if constexpr (kQ8) {
      for (int k = 0; k < 8; ++k) wv[k] = _mm512_loadu_si512(p + 64 * k);
    } else {
      for (int i = 0; i < 4; ++i) {
        const __m512i z = _mm512_loadu_si512(p + 64 * i);
        wv[i] = _mm512_and_si512(z, low4);
        wv[i + 4] = _mm512_and_si512(_mm512_srli_epi16(z, 4), low4);
      }
    }
    const __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + kQBytes)));
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const BlockQ8A& a = act[t * nb + b];
      const int32_t* c = corr + t * ng16 + 2 * b;
      // Two dependency chains of 4 vpdpbusd: with one token the 8-long chain's latency showed.
      __m512i s0 = _mm512_set1_epi32(-kOffset * (c[0] + c[1])), s1 = _mm512_setzero_si512();
      for (int k = 0; k < 8; k += 2) {
        s0 = _mm512_dpbusd_epi32(s0, wv[k], bcast4(a.qs + 4 * k));
        s1 = _mm512_dpbusd_epi32(s1, wv[k + 1], bcast4(a.qs + 4 * k + 4));
      }
      const __m512i s = _mm512_add_epi32(s0, s1);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dv, _mm512_set1_ps(a.d)), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * y_stride, mask, acc[t]);
}

// F16x16 tiles. With few tokens the FMA chains are short, so U independent accumulator sets
// hide the FMA latency (U = 4 for one token: decode).
template <int T>
void pass_packed_f16(const PackedTile& w, const float* x, int64_t x_stride, float* y, int64_t y_stride,
                     __mmask16 mask) {
  constexpr int U = T == 1 ? 4 : (T <= 3 ? 2 : 1);
  __m512 acc[U][T];
  for (int u = 0; u < U; ++u)
    for (int t = 0; t < T; ++t) acc[u][t] = _mm512_setzero_ps();
  for (int64_t c = 0; c < w.cols; c += U) {
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      const __m512 wv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.data + (c + u) * 32)));
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) acc[u][t] = _mm512_fmadd_ps(wv, _mm512_set1_ps(x[t * x_stride + c + u]), acc[u][t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    __m512 s = acc[0][t];
    for (int u = 1; u < U; ++u) s = _mm512_add_ps(s, acc[u][t]);
    _mm512_mask_storeu_ps(y + t * y_stride, mask, s);
  }
}

// Tables of the passes for 1..16 tokens, so the remainder of a prompt runs one pass too.
template <int G, bool kMin, size_t... I>
constexpr auto i8_table(std::index_sequence<I...>) {
  using Fn = void (*)(const GemmI8Tile&, const BlockQ8A*, const int32_t*, float*, int64_t, __mmask16);
  return std::array<Fn, sizeof...(I)>{&pass_i8<int(I) + 1, G, kMin>...};
}
template <size_t... I>
constexpr auto f32_table(std::index_sequence<I...>) {
  using Fn = void (*)(const GemmF32Tile&, const float*, int64_t, float*, int64_t, __mmask16);
  return std::array<Fn, sizeof...(I)>{&pass_f32<int(I) + 1>...};
}

template <PackedKind K, size_t... I>
constexpr auto packed_i8_table(std::index_sequence<I...>) {
  using Fn = void (*)(const PackedTile&, const BlockQ8A*, const int32_t*, float*, int64_t, __mmask16);
  return std::array<Fn, sizeof...(I)>{&pass_packed_i8<int(I) + 1, K>...};
}
template <size_t... I>
constexpr auto packed_f16_table(std::index_sequence<I...>) {
  using Fn = void (*)(const PackedTile&, const float*, int64_t, float*, int64_t, __mmask16);
  return std::array<Fn, sizeof...(I)>{&pass_packed_f16<int(I) + 1>...};
}

constexpr auto kI8G32 = i8_table<32, false>(std::make_index_sequence<kGemmTokens>{});
constexpr auto kI8G32Min = i8_table<32, true>(std::make_index_sequence<kGemmTokens>{});
constexpr auto kI8G16 = i8_table<16, false>(std::make_index_sequence<kGemmTokens>{});
constexpr auto kF32 = f32_table(std::make_index_sequence<kGemmTokens>{});
constexpr auto kPackedQ8 = packed_i8_table<PackedKind::kQ8_0x16>(std::make_index_sequence<kGemmTokens>{});
constexpr auto kPackedQ4 = packed_i8_table<PackedKind::kQ4_0x16>(std::make_index_sequence<kGemmTokens>{});
constexpr auto kPackedF16 = packed_f16_table(std::make_index_sequence<kGemmTokens>{});

inline __mmask16 row_mask(int n_rows) { return __mmask16((1u << n_rows) - 1u); }

}  // namespace

void gemm_i8_avx512(const GemmI8Tile& w, const GemmAct& act, int64_t n_tokens, float* y,
                    int64_t y_stride, int n_rows) {
  const auto& table = w.group == 16 ? kI8G16 : (w.m ? kI8G32Min : kI8G32);
  const int64_t nb = w.cols / 32, ng16 = w.cols / 16;
  const __mmask16 mask = row_mask(n_rows);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kGemmTokens) {
    const int64_t nt = std::min<int64_t>(kGemmTokens, n_tokens - t0);
    table[size_t(nt - 1)](w, act.blocks + t0 * nb, act.corr + t0 * ng16, y + t0 * y_stride, y_stride, mask);
  }
}

void gemm_f32_avx512(const GemmF32Tile& w, const float* x, int64_t x_stride, int64_t n_tokens,
                     float* y, int64_t y_stride, int n_rows) {
  const __mmask16 mask = row_mask(n_rows);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kGemmTokens) {
    const int64_t nt = std::min<int64_t>(kGemmTokens, n_tokens - t0);
    kF32[size_t(nt - 1)](w, x + t0 * x_stride, x_stride, y + t0 * y_stride, y_stride, mask);
  }
}

void gemm_packed_avx512(const PackedTile& w, const GemmAct& act, const float* x, int64_t x_stride,
                        int64_t n_tokens, float* y, int64_t y_stride, int n_rows) {
  const __mmask16 mask = row_mask(n_rows);
  const int64_t nb = w.cols / 32, ng16 = w.cols / 16;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kGemmTokens) {
    const size_t i = size_t(std::min<int64_t>(kGemmTokens, n_tokens - t0) - 1);
    float* yt = y + t0 * y_stride;
    switch (w.kind) {
      case PackedKind::kQ8_0x16:
        kPackedQ8[i](w, act.blocks + t0 * nb, act.corr + t0 * ng16, yt, y_stride, mask);
        break;
      case PackedKind::kQ4_0x16:
        kPackedQ4[i](w, act.blocks + t0 * nb, act.corr + t0 * ng16, yt, y_stride, mask);
        break;
      case PackedKind::kF16x16:
        kPackedF16[i](w, x + t0 * x_stride, x_stride, yt, y_stride, mask);
        break;
      case PackedKind::kQ5_0x16:  // not in this level's packed_kinds, so never packed for it
      case PackedKind::kQ4_Kx16:
      case PackedKind::kNone:
        return;
    }
  }
}

}  // namespace shuo::kernels

// Reference (non-imatrix) encoders for Q4_K, Q5_K, Q6_K and Q8_K, following ggml's algorithms:
// per sub-block a weighted least-squares search for scale (and min), then the sub-block scales are
// themselves quantized to 6 or 8 bits against one fp16 super-block scale.
#include <algorithm>
#include <cmath>

#include "tensor/quants_impl.h"

namespace shuo::tensor::detail {
namespace {

constexpr int kQK = 256;
constexpr size_t kQ4KBytes = 144, kQ5KBytes = 176, kQ6KBytes = 210, kQ8KBytes = 292;
// Below this a sub-block is treated as all zeros (dividing by it would blow up).
constexpr float kGroupEps = 1e-15f;

struct AffineFit {
  float scale = 0.0f;
  float min = 0.0f;  // x ≈ scale * L + min; min <= 0 so it can be stored as a positive offset
};

// Codes L[i] in [0, nmax] and (scale, min) minimising Σ w (scale·L + min − x)², searched over
// nstep candidate inverse scales (nmax + rmin + rdelta·k) / (max − min). For each candidate the
// codes are fixed and (scale, min) is the closed-form weighted least-squares line through them.
AffineFit fit_affine(const float* x, const float* w, int n, int nmax, float rmin, float rdelta,
                     int nstep, uint8_t* L, uint8_t* scratch) {
  float min = x[0], max = x[0], sum_w = 0.0f, sum_x = 0.0f;
  for (int i = 0; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  min = std::min(min, 0.0f);  // a positive offset cannot be stored: the min field is subtracted
  if (max == min) {
    std::fill(L, L + n, 0);
    return {0.0f, min};
  }
  const float range = max - min;
  auto code = [&](float iscale, float v) { return std::clamp(nearest_int(iscale * (v - min)), 0, nmax); };
  auto error_of = [&](const uint8_t* codes, float scale, float offset) {
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float diff = scale * float(codes[i]) + offset - x[i];
      err += w[i] * diff * diff;
    }
    return err;
  };

  // Start from the plain min/max grid.
  AffineFit best{range / float(nmax), min};
  const float iscale0 = float(nmax) / range;
  for (int i = 0; i < n; ++i) L[i] = uint8_t(code(iscale0, x[i]));
  float best_err = error_of(L, best.scale, best.min);

  for (int k = 0; k <= nstep; ++k) {
    const float iscale = (rmin + rdelta * float(k) + float(nmax)) / range;
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = code(iscale, x[i]);
      scratch[i] = uint8_t(l);
      sum_l += w[i] * float(l);
      sum_l2 += w[i] * float(l) * float(l);
      sum_xl += w[i] * float(l) * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det <= 0.0f) continue;  // all codes equal: no line through them
    float scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float offset = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (offset > 0.0f) {  // not storable: refit the scale through the origin
      offset = 0.0f;
      scale = sum_xl / sum_l2;
    }
    const float err = error_of(scratch, scale, offset);
    if (err < best_err) {
      std::copy(scratch, scratch + n, L);
      best_err = err;
      best = {scale, offset};
    }
  }
  return best;
}

// Symmetric codes L[i] in [0, 2·nmax) (value l − nmax) and the scale minimising Σ x² (scale·l − x)²
// over 19 candidate inverse scales around −nmax / max; x² weights favour the large values.
// Returns 0 (and zero codes at nmax) for a block that is all ~zero.
float fit_symmetric(const float* x, int n, int nmax, uint8_t* L) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < kGroupEps) {
    std::fill(L, L + n, uint8_t(nmax));
    return 0.0f;
  }
  // The signed extreme maps to −nmax so the asymmetric code range [−nmax, nmax) loses nothing.
  auto code = [&](float iscale, float v) { return std::clamp(nearest_int(iscale * v), -nmax, nmax - 1); };
  auto sums = [&](float iscale, float* sum_lx, float* sum_l2) {
    *sum_lx = 0.0f;
    *sum_l2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float l = float(code(iscale, x[i]));
      const float w = x[i] * x[i];
      *sum_lx += w * x[i] * l;
      *sum_l2 += w * l * l;
    }
  };
  float iscale = -float(nmax) / max;
  float sum_lx, sum_l2;
  sums(iscale, &sum_lx, &sum_l2);
  for (int i = 0; i < n; ++i) L[i] = uint8_t(code(iscale, x[i]) + nmax);
  float scale = sum_l2 > 0.0f ? sum_lx / sum_l2 : 0.0f;
  // For fixed codes the best scale is sum_lx / sum_l2 and it removes sum_lx² / sum_l2 from the
  // error, so the candidate with the largest sum_lx² / sum_l2 wins.
  float best = scale * sum_lx;
  for (int k = -9; k <= 9; ++k) {
    if (k == 0) continue;
    const float cand = -(float(nmax) + 0.1f * float(k)) / max;
    sums(cand, &sum_lx, &sum_l2);
    if (sum_l2 > 0.0f && sum_lx * sum_lx > best * sum_l2) {
      for (int i = 0; i < n; ++i) L[i] = uint8_t(code(cand, x[i]) + nmax);
      scale = sum_lx / sum_l2;
      best = scale * sum_lx;
    }
  }
  return scale;
}

// Writes the 8 six-bit (scale, min) pairs in the layout k4_scale_min() reads.
void pack_k4_scales(const int* ls, const int* lm, uint8_t* out) {
  for (int j = 0; j < 4; ++j) {
    out[j] = uint8_t(ls[j]);
    out[j + 4] = uint8_t(lm[j]);
  }
  for (int j = 4; j < 8; ++j) {
    out[j + 4] = uint8_t((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
    out[j - 4] |= uint8_t((ls[j] >> 4) << 6);
    out[j] |= uint8_t((lm[j] >> 4) << 6);
  }
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fits the eight 32-element sub-blocks, quantizes
// their scales and mins to 6 bits, writes d, dmin and the scale table at dst, and leaves the final
// codes (recomputed against the stored, rounded scales) in L.
void encode_k_affine(const float* x, int nmax, float rmin, int nstep, uint8_t* dst, uint8_t* L) {
  float scales[8], mins[8], w[32];
  uint8_t scratch[32];
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    // Weight = typical magnitude + own magnitude: large values matter more, but small ones still
    // count (a pure |x| weight would ignore zeros).
    const float av = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) w[l] = av + std::fabs(xs[l]);
    const AffineFit fit = fit_affine(xs, w, 32, nmax, rmin, 0.1f, nstep, L + 32 * j, scratch);
    scales[j] = fit.scale;
    mins[j] = -fit.min;  // stored positive, subtracted on decode
  }
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  int ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = std::clamp(nearest_int(inv_scale * scales[j]), 0, 63);
    lm[j] = std::clamp(nearest_int(inv_min * mins[j]), 0, 63);
  }
  store_f16(dst, max_scale / 63.0f);
  store_f16(dst + 2, max_min / 63.0f);
  pack_k4_scales(ls, lm, dst + 4);
  // Requantize against what the decoder will actually see, so scale rounding is compensated.
  const float d = load_f16(dst), dmin = load_f16(dst + 2);
  for (int j = 0; j < 8; ++j) {
    const float dl = d * float(ls[j]);
    if (dl == 0.0f) continue;  // every code decodes to -dm: keep the fit's codes
    const float ml = dmin * float(lm[j]);
    for (int l = 0; l < 32; ++l)
      L[32 * j + l] = uint8_t(std::clamp(nearest_int((x[32 * j + l] + ml) / dl), 0, nmax));
  }
}

}  // namespace

void quant_q4_k(const float* src, uint8_t* dst, int64_t n_blocks) {
  uint8_t L[kQK];
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kQ4KBytes) {
    encode_k_affine(src, 15, -1.0f, 20, dst, L);
    uint8_t* qs = dst + 16;
    for (int i = 0; i < 4; ++i, qs += 32)
      for (int l = 0; l < 32; ++l) qs[l] = uint8_t(L[64 * i + l] | (L[64 * i + 32 + l] << 4));
  }
}

void quant_q5_k(const float* src, uint8_t* dst, int64_t n_blocks) {
  uint8_t L[kQK];
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kQ5KBytes) {
    encode_k_affine(src, 31, -0.5f, 15, dst, L);
    uint8_t* qh = dst + 16;
    uint8_t* qs = dst + 48;
    std::fill(qh, qh + 32, 0);
    for (int i = 0; i < 4; ++i, qs += 32) {
      for (int l = 0; l < 32; ++l) {
        const int lo = L[64 * i + l], hi = L[64 * i + 32 + l];
        qs[l] = uint8_t((lo & 0x0f) | ((hi & 0x0f) << 4));
        qh[l] |= uint8_t(((lo >> 4) << (2 * i)) | ((hi >> 4) << (2 * i + 1)));
      }
    }
  }
}

void quant_q6_k(const float* src, uint8_t* dst, int64_t n_blocks) {
  uint8_t L[kQK];
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kQ6KBytes) {
    uint8_t* ql = dst;
    uint8_t* qh = dst + 128;
    int8_t* sc = reinterpret_cast<int8_t*>(dst + 192);
    float scales[16];
    float max_scale = 0.0f, max_abs = 0.0f;
    for (int g = 0; g < 16; ++g) {
      scales[g] = fit_symmetric(src + 16 * g, 16, 32, L + 16 * g);
      if (std::fabs(scales[g]) > max_abs) {
        max_abs = std::fabs(scales[g]);
        max_scale = scales[g];
      }
    }
    if (max_abs < kGroupEps) {
      std::fill(dst, dst + kQ6KBytes, 0);
      continue;
    }
    // The largest scale maps to -128, the full int8 range on its side.
    const float iscale = -128.0f / max_scale;
    store_f16(dst + 208, 1.0f / iscale);
    for (int g = 0; g < 16; ++g) sc[g] = int8_t(std::clamp(nearest_int(iscale * scales[g]), -128, 127));
    const float d = load_f16(dst + 208);
    for (int g = 0; g < 16; ++g) {
      const float dl = d * float(sc[g]);
      if (dl == 0.0f) continue;
      for (int i = 0; i < 16; ++i)
        L[16 * g + i] = uint8_t(std::clamp(nearest_int(src[16 * g + i] / dl), -32, 31) + 32);
    }
    // Inverse of dequant_q6_k's layout.
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32) {
      const uint8_t* Lh = L + 128 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = uint8_t((Lh[l] & 0x0f) | ((Lh[l + 64] & 0x0f) << 4));
        ql[l + 32] = uint8_t((Lh[l + 32] & 0x0f) | ((Lh[l + 96] & 0x0f) << 4));
        qh[l] = uint8_t((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                        ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
}

void quant_q8_k(const float* src, uint8_t* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kQK, dst += kQ8KBytes) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      if (std::fabs(src[j]) > amax) {
        amax = std::fabs(src[j]);
        max = src[j];
      }
    }
    if (amax == 0.0f) {
      std::fill(dst, dst + kQ8KBytes, 0);
      continue;
    }
    // Symmetric ±127 (not -128) so the products in the dot kernels stay within int16 pairs.
    const float iscale = -127.0f / max;
    int8_t q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = int8_t(std::clamp(nearest_int(iscale * src[j]), -127, 127));
    const float d = 1.0f / iscale;
    std::memcpy(dst, &d, 4);
    std::memcpy(dst + 4, q, kQK);
    // bsums: per-16 sums of the codes, which the Q*_K × Q8_K dot kernels use to apply the mins.
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += q[16 * g + i];
      store_u16(dst + 4 + kQK + 2 * g, uint16_t(int16_t(sum)));
    }
  }
}

}  // namespace shuo::tensor::detail

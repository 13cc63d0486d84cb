// Scalar reference implementations of the per-row operations (see ops.h).
#include <cmath>
#include <vector>

#include "kernels/ops.h"
#include "tensor/fp16.h"

namespace shuo::kernels {

void rmsnorm_ref(const float* x, const float* w, int64_t n, float eps, float* out) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / double(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

void layernorm_ref(const float* x, const float* w, const float* b, int64_t n, float eps, float* out) {
  double mean = 0.0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= double(n);
  double var = 0.0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= double(n);
  const double inv = 1.0 / std::sqrt(var + eps);
  for (int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>((x[i] - mean) * inv) * w[i];
    out[i] = b ? v + b[i] : v;
  }
}

void softmax_ref(float* x, int64_t n) {
  if (n <= 0) return;
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu_ref(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void gelu_ref(const float* x, int64_t n, float* out) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f, kCoef = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (v <= -10.0f) {
      out[i] = 0.0f;
    } else if (v >= 10.0f) {
      out[i] = v;
    } else {
      // Float arithmetic as in the table llama.cpp fills, on the input rounded to fp16.
      const float h = tensor::fp16_to_fp32(tensor::fp32_to_fp16(v));
      const float g = 0.5f * h * (1.0f + std::tanh(kSqrt2OverPi * h * (1.0f + kCoef * h * h)));
      out[i] = tensor::fp16_to_fp32(tensor::fp32_to_fp16(g));
    }
  }
}

void add_ref(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

RopeTable make_rope_table(int rope_dims, double base, double freq_scale, RopeLayout layout,
                          const std::vector<float>& factors) {
  RopeTable t;
  t.rope_dims = rope_dims;
  t.layout = layout;
  t.inv_freq.resize(rope_dims / 2);
  for (int j = 0; j < rope_dims / 2; ++j) {
    double f = freq_scale * std::pow(base, -2.0 * j / rope_dims);
    if (j < static_cast<int>(factors.size())) f /= factors[j];
    t.inv_freq[j] = f;
  }
  return t;
}

void rope_cos_sin(const RopeTable& rope, int32_t pos, float* cs) {
  for (int j = 0; j < rope.rope_dims / 2; ++j) {
    const double theta = pos * rope.inv_freq[j];
    cs[2 * j] = static_cast<float>(std::cos(theta));
    cs[2 * j + 1] = static_cast<float>(std::sin(theta));
  }
}

void rope_apply(float* v, int n_heads, int head_dim, const float* cs, const RopeTable& rope) {
  const int half = rope.rope_dims / 2;
  const bool interleaved = rope.layout == RopeLayout::kInterleaved;
  for (int h = 0; h < n_heads; ++h) {
    float* head = v + int64_t(h) * head_dim;
    for (int j = 0; j < half; ++j) {
      const float c = cs[2 * j], s = cs[2 * j + 1];
      const int i0 = interleaved ? 2 * j : j;
      const int i1 = interleaved ? 2 * j + 1 : j + half;
      const float a = head[i0], b = head[i1];
      head[i0] = a * c - b * s;
      head[i1] = a * s + b * c;
    }
  }
}

void rope_ref(float* v, int n_heads, int head_dim, int32_t pos, const RopeTable& rope) {
  std::vector<float> cs(rope.rope_dims);
  rope_cos_sin(rope, pos, cs.data());
  rope_apply(v, n_heads, head_dim, cs.data(), rope);
}

}  // namespace shuo::kernels

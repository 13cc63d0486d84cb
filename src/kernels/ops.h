// Element-wise and per-row operations of a transformer layer: the plain scalar references.
// Each `_ref` is the simplest correct loop and is kept forever as the yardstick for SIMD variants
// (issue "CPU performance" adds them next to it, each with a test against the `_ref`).
#pragma once

#include <cstdint>
#include <vector>

namespace shuo::kernels {

// out = x / sqrt(mean(x²) + eps) * w.  x, w, out: [n]. out may alias x.
void rmsnorm_ref(const float* x, const float* w, int64_t n, float eps, float* out);

// out = (x - mean) / sqrt(var + eps) * w + b.  (GPT-2 style LayerNorm; b may be null.)
void layernorm_ref(const float* x, const float* w, const float* b, int64_t n, float eps, float* out);

// In place: x = exp(x - max) / sum.  x: [n].
void softmax_ref(float* x, int64_t n);

// out = silu(gate) * up, silu(v) = v / (1 + e^-v).  All [n]; out may alias gate.
void swiglu_ref(const float* gate, const float* up, int64_t n, float* out);
// AVX-512F variant (ops_avx512.cc, polynomial e^x; within 1e-6 relative of the reference).
void swiglu_avx512(const float* gate, const float* up, int64_t n, float* out);
// AVX2 + FMA variant (ops_avx2.cc), the same polynomial at 8 lanes; same tolerance.
void swiglu_avx2(const float* gate, const float* up, int64_t n, float* out);
using SwigluFn = void (*)(const float* gate, const float* up, int64_t n, float* out);

// GELU as llama.cpp's CPU backend computes it (GPT-2's MLP): the tanh approximation
// g(v) = 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))) read from a table indexed by the input's
// fp16 value and holding fp16 results, i.e. out = fp16(g(fp16(x))); out = 0 for x ≤ -10 and
// out = x for x ≥ 10. Matching that rounding keeps logits within ~2e-3 of llama.cpp's instead
// of ~4e-3 (exact GELU). All [n]; out may alias x.
void gelu_ref(const float* x, int64_t n, float* out);
// AVX-512F variant (ops_avx512.cc): the same fp16 rounding around a polynomial tanh; equal to
// the reference or one fp16 step away where g(fp16(x)) lies next to a rounding boundary.
void gelu_avx512(const float* x, int64_t n, float* out);
// AVX2 + FMA + F16C variant (ops_avx2.cc), the same computation at 8 lanes; same tolerance.
void gelu_avx2(const float* x, int64_t n, float* out);
using GeluFn = void (*)(const float* x, int64_t n, float* out);

// x += y.  [n]
void add_ref(float* x, const float* y, int64_t n);

// How the rotated pairs are laid out in a head: GGUF "llama" (rope type 0) rotates neighbours
// (2j, 2j+1); "neox" (qwen2, gpt-neox, HF rotate-half) rotates (j, j + dims/2).
enum class RopeLayout { kInterleaved, kNeox };

// Rotation frequencies of one model: inv_freq[j] for j < rope_dims/2, already including the
// base, linear scaling and per-dimension factors (Llama 3's rope_freqs).
struct RopeTable {
  int rope_dims = 0;            // rotated dimensions per head (≤ head_dim; the rest pass through)
  RopeLayout layout = RopeLayout::kInterleaved;
  std::vector<double> inv_freq;  // [rope_dims / 2]
};
// inv_freq[j] = freq_scale / factor[j] * base^(-2j / rope_dims); `factors` may be empty.
RopeTable make_rope_table(int rope_dims, double base, double freq_scale, RopeLayout layout,
                          const std::vector<float>& factors);

// Rotates every head of one token in place.  v: [n_heads, head_dim], at position pos.
void rope_ref(float* v, int n_heads, int head_dim, int32_t pos, const RopeTable& rope);

// The same in two steps, so that a forward pass computes the trigonometry once per token and
// reuses it for every head of every layer: cs = [cos θ_0, sin θ_0, cos θ_1, …] ([rope_dims]).
void rope_cos_sin(const RopeTable& rope, int32_t pos, float* cs);
void rope_apply(float* v, int n_heads, int head_dim, const float* cs, const RopeTable& rope);

}  // namespace shuo::kernels

// Scalar references for the vec_dot kernels (see vec_dot.h), and the dispatcher.
#include <cmath>
#include <cstring>

#include "kernels/vec_dot.h"
#include <vector>

#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace shuo::kernels {

namespace {
float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return tensor::fp16_to_fp32(h);
}
}  // namespace

void quantize_act_ref(const float* x, BlockQ8A* out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + b * 32;
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int i = 0; i < 32; ++i) {
      const int q = static_cast<int>(std::nearbyint(xb[i] * id));
      out[b].qs[i] = static_cast<int8_t>(q);
      sum += q;
    }
    out[b].d = d;
    out[b].sum = d * float(sum);
  }
}

float vec_dot_f32_ref(const void* w, const void* x, int64_t n) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

float vec_dot_f16_ref(const void* w, const void* x, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  const float* b = static_cast<const float*>(x);
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += half_at(a + 2 * i) * b[i];
  return s;
}

float vec_dot_bf16_ref(const void* w, const void* x, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  const float* b = static_cast<const float*>(x);
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, a + 2 * i, 2);
    s += tensor::bf16_to_fp32(h) * b[i];
  }
  return s;
}

// Q8_0 block: fp16 d, 32 × int8.
float vec_dot_q8_0_ref(const void* w, const void* x, int64_t n) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const BlockQ8A* xb = static_cast<const BlockQ8A*>(x);
  float s = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b, wb += 34) {
    int32_t dot = 0;
    for (int i = 0; i < 32; ++i) dot += int32_t(int8_t(wb[2 + i])) * xb[b].qs[i];
    s += half_at(wb) * xb[b].d * float(dot);
  }
  return s;
}

// Q4_0 block: fp16 d, 16 bytes; element i < 16 is the low nibble of byte i, element 16 + i the
// high nibble; value = (nibble - 8) * d.
float vec_dot_q4_0_ref(const void* w, const void* x, int64_t n) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const BlockQ8A* xb = static_cast<const BlockQ8A*>(x);
  float s = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b, wb += 18) {
    int32_t dot = 0;
    for (int i = 0; i < 16; ++i) {
      dot += int32_t(wb[2 + i] & 0x0f) * xb[b].qs[i];
      dot += int32_t(wb[2 + i] >> 4) * xb[b].qs[16 + i];
    }
    s += half_at(wb) * (xb[b].d * float(dot) - 8.0f * xb[b].sum);
  }
  return s;
}

void quantize_act_k_ref(const float* x, BlockQ8KA* out, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b) {
    const float* xb = x + b * 256;
    float amax = 0.0f;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 16 * g; i < 16 * g + 16; ++i) {
        const int q = static_cast<int>(std::nearbyint(xb[i] * id));
        out[b].qs[i] = static_cast<int8_t>(q);
        sum += q;
      }
      out[b].bsums[g] = static_cast<int16_t>(sum);
    }
    out[b].d = d;
  }
}

namespace {
float vec_dot_k_ref(format::GgmlType t, const void* w, const void* x, int64_t n) {
  std::vector<float> wf(n);
  (void)tensor::dequantize(t, w, wf.data(), n);
  const BlockQ8KA* xb = static_cast<const BlockQ8KA*>(x);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += double(wf[i]) * xb[i / 256].d * xb[i / 256].qs[i % 256];
  return float(s);
}
}  // namespace

namespace {
float vec_dot_q8a_via_dequant(format::GgmlType t, const void* w, const void* x, int64_t n) {
  std::vector<float> wf(n);
  (void)tensor::dequantize(t, w, wf.data(), n);
  const BlockQ8A* xb = static_cast<const BlockQ8A*>(x);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += double(wf[i]) * xb[i / 32].d * xb[i / 32].qs[i % 32];
  return float(s);
}
}  // namespace

float vec_dot_q4_1_ref(const void* w, const void* x, int64_t n) { return vec_dot_q8a_via_dequant(format::GgmlType::Q4_1, w, x, n); }
float vec_dot_q5_0_ref(const void* w, const void* x, int64_t n) { return vec_dot_q8a_via_dequant(format::GgmlType::Q5_0, w, x, n); }
float vec_dot_q5_1_ref(const void* w, const void* x, int64_t n) { return vec_dot_q8a_via_dequant(format::GgmlType::Q5_1, w, x, n); }

float vec_dot_q4_k_ref(const void* w, const void* x, int64_t n) { return vec_dot_k_ref(format::GgmlType::Q4_K, w, x, n); }
float vec_dot_q5_k_ref(const void* w, const void* x, int64_t n) { return vec_dot_k_ref(format::GgmlType::Q5_K, w, x, n); }
float vec_dot_q6_k_ref(const void* w, const void* x, int64_t n) { return vec_dot_k_ref(format::GgmlType::Q6_K, w, x, n); }

VecDotFn VecDotKernels::for_type(format::GgmlType t) const {
  switch (t) {
    case format::GgmlType::F32: return f32;
    case format::GgmlType::F16: return f16;
    case format::GgmlType::BF16: return bf16;
    case format::GgmlType::Q8_0: return q8_0;
    case format::GgmlType::Q4_0: return q4_0;
    case format::GgmlType::Q4_1: return q4_1;
    case format::GgmlType::Q5_0: return q5_0;
    case format::GgmlType::Q5_1: return q5_1;
    case format::GgmlType::Q4_K: return q4_k;
    case format::GgmlType::Q5_K: return q5_k;
    case format::GgmlType::Q6_K: return q6_k;
    default: return nullptr;
  }
}

bool VecDotKernels::uses_q8_act(format::GgmlType t) {
  return t == format::GgmlType::Q8_0 || t == format::GgmlType::Q4_0 || t == format::GgmlType::Q4_1 ||
         t == format::GgmlType::Q5_0 || t == format::GgmlType::Q5_1;
}

VecDotX4Fn VecDotKernels::for_type_x4(format::GgmlType t) const {
  switch (t) {
    case format::GgmlType::Q8_0: return q8_0_x4;
    case format::GgmlType::Q4_0: return q4_0_x4;
    default: return nullptr;
  }
}

bool VecDotKernels::uses_q8k_act(format::GgmlType t) {
  return t == format::GgmlType::Q4_K || t == format::GgmlType::Q5_K || t == format::GgmlType::Q6_K;
}

VecDotKernels vec_dot_kernels_ref() {
  VecDotKernels k;
  k.isa = "scalar";
  k.quantize_act = quantize_act_ref;
  k.f32 = vec_dot_f32_ref;
  k.f16 = vec_dot_f16_ref;
  k.bf16 = vec_dot_bf16_ref;
  k.q8_0 = vec_dot_q8_0_ref;
  k.q4_0 = vec_dot_q4_0_ref;
  k.q4_1 = vec_dot_q4_1_ref;
  k.q5_0 = vec_dot_q5_0_ref;
  k.q5_1 = vec_dot_q5_1_ref;
  k.quantize_act_k = quantize_act_k_ref;
  k.q4_k = vec_dot_q4_k_ref;
  k.q5_k = vec_dot_q5_k_ref;
  k.q6_k = vec_dot_q6_k_ref;
  return k;
}

VecDotKernels select_vec_dot_kernels(const CpuFeatures& cpu) {
#if defined(__x86_64__)
  if (cpu.has_avx512() && cpu.avx512vnni && cpu.has_avx2_fma()) return vec_dot_kernels_avx512();
  if (cpu.has_avx2_fma()) return vec_dot_kernels_avx2();
#endif
  return vec_dot_kernels_ref();
}

}  // namespace shuo::kernels

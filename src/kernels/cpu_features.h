// What this CPU (and the OS) lets us run: read once with CPUID/XGETBV at start-up and passed to
// the kernel dispatcher. AVX-512 and AMX need OS support for their register state, checked too.
#pragma once

#include <string>

namespace shuo::kernels {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;

  bool has_avx2_fma() const { return avx2 && fma && f16c; }
  bool has_avx512() const { return avx512f && avx512bw && avx512vl && avx512dq; }
  std::string to_string() const;  // "avx2 fma f16c avx512f …"
};

// Detected once per call (cheap); the engine keeps the result.
CpuFeatures detect_cpu_features();

}  // namespace shuo::kernels

// Matrix × activations straight from a weight tensor in its stored type (F32, F16, quantized
// blocks): nothing dequantizes a whole model; rows are converted on the fly per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <vector>

#include "core/result.h"
#include "format/ggml_types.h"
#include "kernels/gemm.h"
#include "kernels/packed.h"
#include "kernels/vec_dot.h"
#include "tensor/thread_pool.h"

namespace shuo::kernels {

// A 2-D weight as stored: `rows` rows of `cols` elements (GGUF ne = {cols, rows}).
struct WeightMatrix {
  format::GgmlType type = format::GgmlType::F32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
  std::string name;  // for errors
  // A copy repacked at load into 16-row tiles (packed.h), or kNone. When set, matmul reads only
  // the packed copy; `data` stays valid for row lookups (embeddings) and references.
  PackedKind packed = PackedKind::kNone;
  const uint8_t* packed_data = nullptr;

  const uint8_t* row(int64_t r) const { return data + size_t(r) * row_bytes; }
  PackedTile packed_tile(int64_t t) const {
    return PackedTile{packed, packed_data + size_t(t) * packed_tile_bytes(packed, cols), cols};
  }
};

// Checks that the type can be used by matmul/row_to_float (error names tensor and type).
Result<void> check_matmul_type(const WeightMatrix& w);

// y[t, r] = Σ_c W[r, c] · x[t, c] for t < n_tokens.  x: [n_tokens, cols], y: [n_tokens, rows].
// Scalar reference: each row is converted to float once per call, then dotted with every token,
// so a prefill batch reads the weights once.
void matmul_ref(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
                tensor::ThreadPool& pool);

// Buffers a matmul reuses between calls (activations converted to the weights' dot form, one
// float row per thread for types without a direct kernel). Grown on demand, never shrunk.
struct MatmulScratch {
  std::vector<BlockQ8A> act_q8;
  std::vector<BlockQ8KA> act_q8k;
  std::vector<float> rows;  // [threads, cols]
  std::vector<int32_t> act_corr;          // GEMM activation group sums (gemm.h GemmAct)
  std::vector<GemmPackBuffers> pack;      // one per thread
};

// From this many tokens on, a matmul runs as tiled GEMM (gemm.h) when the ISA level has the
// kernel for the type; fewer tokens use the row-by-token dot products.
constexpr int64_t kGemmMinTokens = 4;

// Same contract as matmul_ref, with the given ISA kernels. A packed matrix (w.packed) runs
// every call on its packed tiles (k.gemm_packed; the caller packs only when the level has it). With ≥ kGemmMinTokens tokens and a
// GEMM kernel for the type, the rows are packed 16 at a time and run as tiled GEMM. Otherwise
// activations are converted once per call (to int8 blocks for Q8_0/Q4_0), then each weight row
// is dotted with every token straight from its stored blocks. Types without a direct kernel (K-quants, …) are converted row by row
// to float and use the F32 kernel.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
            tensor::ThreadPool& pool, const VecDotKernels& k, MatmulScratch& scratch);

// Row r of W as floats (embedding lookups).  out: [cols].
void row_to_float(const WeightMatrix& w, int64_t r, float* out);

}  // namespace shuo::kernels

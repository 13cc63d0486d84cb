// Scalar reference matmul over stored weight types (see matmul.h).
#include <cstring>
#include <vector>

#include "kernels/matmul.h"
#include "tensor/quants.h"

namespace shuo::kernels {

Result<void> check_matmul_type(const WeightMatrix& w) {
  if (!tensor::can_dequantize(w.type))
    return Error{ErrorCode::kUnsupported, w.name,
                 std::string("tensor type ") + format::ggml_type_name(w.type) + " is not supported"};
  return {};
}

void row_to_float(const WeightMatrix& w, int64_t r, float* out) {
  if (w.type == format::GgmlType::F32) {
    std::memcpy(out, w.row(r), size_t(w.cols) * sizeof(float));
    return;
  }
  // The type was checked at load (check_matmul_type), so this cannot fail.
  (void)tensor::dequantize(w.type, w.row(r), out, w.cols);
}

void matmul_ref(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
                tensor::ThreadPool& pool) {
  const int64_t cols = w.cols;
  const int64_t rows = w.rows;
  pool.parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int) {
        std::vector<float> scratch(w.type == format::GgmlType::F32 ? 0 : cols);
        for (int64_t r = r0; r < r1; ++r) {
          const float* wr;
          if (w.type == format::GgmlType::F32) {
            wr = reinterpret_cast<const float*>(w.row(r));
          } else {
            row_to_float(w, r, scratch.data());
            wr = scratch.data();
          }
          for (int64_t t = 0; t < n_tokens; ++t) {
            const float* xt = x + t * cols;
            float sum = 0.0f;
            for (int64_t c = 0; c < cols; ++c) sum += wr[c] * xt[c];
            y[t * rows + r] = sum;
          }
        }
      },
      16);
}

}  // namespace shuo::kernels

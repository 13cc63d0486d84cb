// Weight lookup with shape/type validation (see weights.h).
#include "model/weights.h"

#include "tensor/quants.h"

namespace shuo::model {

namespace {
std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}
}  // namespace

Result<kernels::WeightMatrix> load_matrix(const format::GgufFile& f, const std::string& name,
                                          int64_t rows, int64_t cols) {
  const auto* t = f.find_tensor(name);
  if (!t) return Error{ErrorCode::kNotFound, name, "tensor is missing in " + f.path()};
  const bool shape_ok = (t->ne.size() == 2 && t->ne[0] == cols && t->ne[1] == rows) ||
                        (t->ne.size() == 1 && rows == 1 && t->ne[0] == cols);
  if (!shape_ok)
    return Error{ErrorCode::kBadFile, name, "shape " + shape_str(t->ne) + ", expected [" +
                                                std::to_string(cols) + ", " + std::to_string(rows) + "]"};
  kernels::WeightMatrix w;
  w.type = t->type;
  w.data = t->data;
  w.rows = rows;
  w.cols = cols;
  w.row_bytes = *format::ggml_row_bytes(t->type, cols);  // cols is a block multiple (validated)
  w.name = name;
  SHUO_TRY(kernels::check_matmul_type(w));
  return w;
}

Result<std::vector<float>> load_vector(const format::GgufFile& f, const std::string& name, int64_t n) {
  const auto* t = f.find_tensor(name);
  if (!t) return Error{ErrorCode::kNotFound, name, "tensor is missing in " + f.path()};
  if (t->n_elements() != n)
    return Error{ErrorCode::kBadFile, name, "shape " + shape_str(t->ne) + ", expected " + std::to_string(n) + " elements"};
  std::vector<float> out(n);
  auto r = tensor::dequantize(t->type, t->data, out.data(), n);
  if (!r.ok()) return Error{r.error().code, name, r.error().to_string()};
  return out;
}

}  // namespace shuo::model

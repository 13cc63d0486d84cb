// Weight lookup with shape/type validation (see weights.h).
#include "model/weights.h"

#include <atomic>
#include <cstdlib>
#include <thread>

#include "kernels/packed.h"
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

void PackedWeights::Free::operator()(uint8_t* p) const { std::free(p); }

void PackedWeights::pack(const std::vector<kernels::WeightMatrix*>& mats, const format::GgufFile& f,
                         const kernels::VecDotKernels& kernels, int threads) {
  struct Job {
    kernels::WeightMatrix* w;
    kernels::PackedKind kind;
    uint8_t* out;
  };
  std::vector<Job> jobs;
  for (kernels::WeightMatrix* w : mats) {
    const kernels::PackedKind kind = kernels::packed_kind_for(w->type, w->cols);
    if (kind == kernels::PackedKind::kNone || !kernels.packs(kind)) continue;
    const size_t n = kernels::packed_tile_bytes(kind, w->cols) * size_t(kernels::packed_tiles(w->rows));
    // 64-byte aligned: the kernels load whole cache lines of a tile.
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64));
    if (!p) continue;  // out of memory: this matrix keeps its stored layout
    buffers_.emplace_back(p);
    bytes_ += n;
    jobs.push_back({w, kind, p});
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      const Job& j = jobs[i];
      const size_t tb = kernels::packed_tile_bytes(j.kind, j.w->cols);
      for (int64_t t = 0; t < kernels::packed_tiles(j.w->rows); ++t)
        kernels::pack_weight_tile(*j.w, j.kind, t, j.out + size_t(t) * tb);
      // Right away, so that resident memory peaks at one copy plus the matrices in flight.
      f.release_pages(j.w->data, j.w->row_bytes * size_t(j.w->rows));
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < threads && size_t(i) < jobs.size(); ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (const Job& j : jobs) {
    j.w->packed = j.kind;
    j.w->packed_data = j.out;
  }
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

kernels::WeightMatrix slice_rows(const kernels::WeightMatrix& w, int64_t row0, int64_t rows,
                                 const std::string& name) {
  kernels::WeightMatrix s = w;
  s.data = w.row(row0);
  s.rows = rows;
  s.name = name;
  return s;
}

namespace {
int64_t sum(const std::vector<int64_t>& parts) {
  int64_t n = 0;
  for (int64_t p : parts) n += p;
  return n;
}
}  // namespace

Result<std::vector<kernels::WeightMatrix>> load_fused_matrix(const format::GgufFile& f, const std::string& name,
                                                             const std::vector<int64_t>& parts, int64_t cols) {
  SHUO_ASSIGN(kernels::WeightMatrix whole, load_matrix(f, name, sum(parts), cols));
  std::vector<kernels::WeightMatrix> out;
  int64_t row = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    out.push_back(slice_rows(whole, row, parts[i], name + "[part " + std::to_string(i) + "]"));
    row += parts[i];
  }
  return out;
}

Result<std::vector<std::vector<float>>> load_fused_vector(const format::GgufFile& f, const std::string& name,
                                                          const std::vector<int64_t>& parts) {
  SHUO_ASSIGN(std::vector<float> whole, load_vector(f, name, sum(parts)));
  std::vector<std::vector<float>> out;
  auto it = whole.begin();
  for (int64_t p : parts) {
    out.emplace_back(it, it + p);
    it += p;
  }
  return out;
}

Result<NormWeights> load_norm(const format::GgufFile& f, const std::string& prefix, int64_t n, bool with_bias) {
  NormWeights nw;
  SHUO_ASSIGN(nw.w, load_vector(f, prefix + ".weight", n));
  if (with_bias) {
    SHUO_ASSIGN(nw.b, load_vector(f, prefix + ".bias", n));
  }
  return nw;
}

}  // namespace shuo::model

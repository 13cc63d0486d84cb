// The load-time rewrite pass (see load_transform.h): plan each tensor, store rewritten rows in a
// scratch file (or the heap), assemble a GgufFile whose other tensors still point at the source.
#include "model/load_transform.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "format/scratch_file.h"
#include "tensor/quants.h"

namespace shuo::model {

using format::GgmlType;

namespace {

constexpr LoadQuantType kLoadTypes[] = {
    {"q8_0", {"Q8_0", 7, GgmlType::Q8_0}},
    {"q4_0", {"Q4_0", 2, GgmlType::Q4_0}},
    // The Q4_K_M mix: Q4_K matrices, Q6_K for the LM head and a share of attn_v / ffn_down.
    {"q4_k", {"Q4_K_M", 15, GgmlType::Q4_K}},
};

constexpr size_t kChunkBytes = 32u << 20;  // output rows converted per parallel step
constexpr uint64_t kAlign = 64;            // tensor starts in the storage (cache lines)

bool is_float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One tensor that is rewritten.
struct Job {
  size_t index = 0;                   // in the source's tensor list
  TensorPlan plan;                    // for progress lines (dst_type is the output type)
  std::vector<const WeightEdit*> edits;
  const WeightEdit* replace = nullptr;  // the last replacement; `edits` are those after it
  bool quantized = false;
  uint64_t offset = 0, n_bytes = 0;   // in the storage
};

// Where rewritten tensors go: a scratch file, or one heap block when no file can be made.
class Storage {
 public:
  static Storage make(const std::string& dir, uint64_t size) {
    Storage s;
    auto f = format::ScratchFile::create(dir, size);
    if (f) {
      s.file_ = std::make_unique<format::ScratchFile>(std::move(*f));
      s.description_ = "scratch file in " + s.file_->dir();
    } else {
      s.heap_ = std::shared_ptr<uint8_t[]>(new (std::nothrow) uint8_t[std::max<uint64_t>(size, 1)]);
      s.description_ = "heap (" + f.error().to_string() + ")";
    }
    return s;
  }
  bool ok() const { return file_ || heap_; }
  const std::string& description() const { return description_; }

  Result<void> write(uint64_t offset, std::span<const uint8_t> bytes) {
    if (file_) return file_->write(offset, bytes);
    std::memcpy(heap_.get() + offset, bytes.data(), bytes.size());
    return {};
  }
  // Puts the storage into the assembly; returns where offset 0 lives.
  Result<const uint8_t*> attach(format::GgufAssembly& parts) {
    if (file_) {
      SHUO_ASSIGN(auto m, file_->map());
      parts.mappings.push_back(m);
      return m->bytes().data();
    }
    parts.owners.push_back(std::shared_ptr<const void>(heap_, heap_.get()));
    return static_cast<const uint8_t*>(heap_.get());
  }

 private:
  std::unique_ptr<format::ScratchFile> file_;
  std::shared_ptr<uint8_t[]> heap_;
  std::string description_;
};

struct RowError {
  int64_t row = -1;
  Error error;
};

// Row r of a job in F32: the source (or replacement) row plus every edit, each added in double
// and rounded once, as a merge of full matrices would.
Result<void> build_row(const format::GgufTensorInfo& t, const Job& job, int64_t r, float* f, double* acc) {
  const int64_t cols = t.cols();
  const GgmlType in_type = job.replace ? job.replace->replace_type : t.type;
  const uint8_t* in = job.replace ? job.replace->replace_data : t.data;
  SHUO_TRY(tensor::dequantize(in_type, in + size_t(r) * *format::ggml_row_bytes(in_type, cols), f, cols));
  for (const WeightEdit* e : job.edits) {
    if (e->rank == 0) continue;
    std::fill(acc, acc + cols, 0.0);
    const float* b = e->b.data() + size_t(r) * size_t(e->rank);
    for (int64_t k = 0; k < e->rank; ++k) {
      const double bk = b[k];
      const float* a = e->a.data() + size_t(k) * size_t(cols);
      for (int64_t c = 0; c < cols; ++c) acc[c] += bk * a[c];
    }
    for (int64_t c = 0; c < cols; ++c) f[c] = float(double(f[c]) + e->scale * acc[c]);
  }
  return {};
}

// Converts one tensor into the storage, chunk by chunk.
Result<void> run_job(const format::GgufTensorInfo& t, const Job& job, tensor::ThreadPool& pool, Storage& store,
                     std::vector<uint8_t>& out, std::vector<float>& rows_f, std::vector<double>& rows_d) {
  const int64_t cols = t.cols(), rows = t.rows();
  const GgmlType dst = job.plan.dst_type;
  const size_t dst_row = *format::ggml_row_bytes(dst, cols);
  const int64_t chunk_rows = std::max<int64_t>(1, int64_t(kChunkBytes / dst_row));
  const bool check_finite = !is_float_type(dst);
  const int n_threads = pool.size();
  if (rows_f.size() < size_t(n_threads) * size_t(cols)) rows_f.resize(size_t(n_threads) * size_t(cols));
  if (rows_d.size() < size_t(n_threads) * size_t(cols)) rows_d.resize(size_t(n_threads) * size_t(cols));
  std::vector<RowError> errors(static_cast<size_t>(n_threads));

  for (int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
    const int64_t nr = std::min(chunk_rows, rows - r0);
    if (out.size() < size_t(nr) * dst_row) out.resize(size_t(nr) * dst_row);
    pool.parallel_for(nr, [&](int64_t b, int64_t e, int thread) {
      float* f = rows_f.data() + size_t(thread) * size_t(cols);
      double* acc = rows_d.data() + size_t(thread) * size_t(cols);
      RowError& err = errors[size_t(thread)];
      for (int64_t i = b; i < e && err.row < 0; ++i) {
        const int64_t r = r0 + i;
        if (auto ok = build_row(t, job, r, f, acc); !ok) {
          err = {r, ok.error()};
          break;
        }
        if (check_finite)
          if (auto ok = check_row_finite(f, cols, t.name, r); !ok) {
            err = {r, ok.error()};
            break;
          }
        if (auto q = tensor::quantize(dst, f, out.data() + size_t(i) * dst_row, cols); !q) err = {r, q.error()};
      }
    });
    const RowError* first = nullptr;
    for (const auto& e : errors)
      if (e.row >= 0 && (!first || e.row < first->row)) first = &e;
    if (first) {
      if (first->error.where == t.name) return first->error;
      return Error{first->error.code, t.name, "row " + std::to_string(first->row) + ": " + first->error.to_string()};
    }
    SHUO_TRY(store.write(job.offset + uint64_t(r0) * dst_row, {out.data(), size_t(nr) * dst_row}));
  }
  return {};
}

Result<void> check_edit(const format::GgufTensorInfo& t, const WeightEdit& e) {
  const int64_t rows = t.rows(), cols = t.cols();
  if (!tensor::can_dequantize(t.type) && !e.replace_data)
    return Error{ErrorCode::kUnsupported, t.name,
                 std::string("stored as ") + format::ggml_type_name(t.type) + ", which cannot be merged (" + e.origin + ")"};
  if (e.replace_data && !tensor::can_dequantize(e.replace_type))
    return Error{ErrorCode::kUnsupported, t.name, std::string("replacement type ") + format::ggml_type_name(e.replace_type) +
                                                      " cannot be read (" + e.origin + ")"};
  if (e.rank < 0 || (e.rank > 0 && (e.a.size() != size_t(e.rank * cols) || e.b.size() != size_t(e.rank * rows))))
    return Error{ErrorCode::kBadFile, t.name,
                 "low-rank delta of rank " + std::to_string(e.rank) + " does not fit [" + std::to_string(rows) + ", " +
                     std::to_string(cols) + "] (" + e.origin + ")"};
  return {};
}

}  // namespace

std::optional<LoadQuantType> find_load_quant_type(const std::string& name) {
  std::string n = lower(name);
  if (n == "8") n = "q8_0";
  if (n == "4") n = "q4_k";
  for (const auto& t : kLoadTypes)
    if (n == t.name) return t;
  return std::nullopt;
}

std::string load_quant_type_names() { return "q8_0, q4_0, q4_k (aliases 8 = q8_0, 4 = q4_k)"; }

Result<format::GgufFile> transform_model(format::GgufFile in, const LoadTransform& t, tensor::ThreadPool& pool,
                                         const std::function<void(const QuantizeProgress&)>& on_progress,
                                         TransformStats* stats_out) {
  const auto t0 = std::chrono::steady_clock::now();
  TransformStats st;
  const auto& tensors = in.tensors();
  st.n_tensors = tensors.size();

  std::vector<TensorPlan> qplan;
  if (t.quantize) {
    SHUO_ASSIGN(qplan, plan_quantization(in, t.quantize->preset));
  }

  std::unordered_map<std::string, std::vector<const WeightEdit*>> edits_of;
  for (const auto& e : t.edits) {
    const auto* ti = in.find_tensor(e.tensor);
    if (!ti) return Error{ErrorCode::kNotFound, e.tensor, "tensor is missing in " + in.path() + " (" + e.origin + ")"};
    SHUO_TRY(check_edit(*ti, e));
    edits_of[e.tensor].push_back(&e);
  }

  std::vector<Job> jobs;
  uint64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& ti = tensors[i];
    Job job;
    job.index = i;
    job.plan = TensorPlan{ti.name, ti.ne, ti.type, ti.type, true, {}};
    if (t.quantize && qplan[i].convert && is_float_type(ti.type) && ti.ne.size() >= 2) {
      job.quantized = true;
      job.plan.dst_type = qplan[i].dst_type;
      job.plan.fallback_from = qplan[i].fallback_from;
    }
    if (auto it = edits_of.find(ti.name); it != edits_of.end()) {
      for (const WeightEdit* e : it->second) {
        if (e->replace_data) {
          job.replace = e;
          job.edits.clear();
        }
        job.edits.push_back(e);
      }
    }
    if (!job.quantized && job.edits.empty()) continue;
    if (!tensor::can_quantize(job.plan.dst_type))
      return Error{ErrorCode::kUnsupported, ti.name,
                   std::string("stored as ") + format::ggml_type_name(ti.type) + ", which cannot be written back after a merge"};
    job.n_bytes = *format::ggml_row_bytes(job.plan.dst_type, ti.cols()) * uint64_t(ti.rows());
    job.offset = total;
    total += (job.n_bytes + kAlign - 1) / kAlign * kAlign;
    jobs.push_back(std::move(job));
  }

  format::GgufAssembly parts = in.share();
  if (jobs.empty()) return format::GgufFile::assemble(std::move(parts));

  Storage store = Storage::make(t.scratch_dir, total);
  if (!store.ok()) return Error{ErrorCode::kIo, in.path(), "cannot allocate " + std::to_string(total >> 20) + " MiB for rewritten tensors"};
  st.storage = store.description();

  QuantizeProgress prog;
  prog.tensors_total = jobs.size();
  for (const auto& j : jobs) prog.bytes_total += j.n_bytes;
  std::vector<uint8_t> out;
  std::vector<float> rows_f;
  std::vector<double> rows_d;
  for (const Job& job : jobs) {
    const auto& ti = tensors[job.index];
    SHUO_TRY(run_job(ti, job, pool, store, out, rows_f, rows_d));
    // Done with the source: its pages leave resident memory now, not at the end.
    in.release_pages(ti.data, ti.n_bytes);
    st.n_rewritten++;
    st.n_quantized += job.quantized;
    st.n_edited += !job.edits.empty();
    st.n_fallback += !job.plan.fallback_from.empty();
    st.in_bytes += ti.n_bytes;
    st.out_bytes += job.n_bytes;
    prog.tensors_done++;
    prog.bytes_done += job.n_bytes;
    prog.tensor = &job.plan;
    if (on_progress) on_progress(prog);
  }
  std::vector<uint8_t>().swap(out);

  SHUO_ASSIGN(const uint8_t* base, store.attach(parts));
  std::vector<const uint8_t*> old_data;
  for (const Job& job : jobs) {
    auto& ti = parts.tensors[job.index];
    old_data.push_back(ti.data);
    ti.type = job.plan.dst_type;
    ti.data = base + job.offset;
  }
  // A buffer that held exactly one rewritten tensor (an owner pointing at that tensor's data,
  // as converters allocate them) would only keep the old copy in memory: let it go.
  std::erase_if(parts.owners, [&](const std::shared_ptr<const void>& o) {
    const auto* p = static_cast<const uint8_t*>(o.get());
    if (std::find(old_data.begin(), old_data.end(), p) == old_data.end()) return false;
    for (const auto& ti : parts.tensors)
      if (ti.data == p) return false;
    return true;
  });
  if (st.n_quantized > 0) {
    auto set_u32 = [&parts](const std::string& key, uint32_t v) {
      for (auto& [k, val] : parts.metadata)
        if (k == key) {
          val = format::GgufValue{v};
          return;
        }
      parts.metadata.emplace_back(key, format::GgufValue{v});
    };
    set_u32("general.file_type", t.quantize->preset.llama_ftype);
    set_u32("general.quantization_version", 2);
  }
  SHUO_ASSIGN(auto file, format::GgufFile::assemble(std::move(parts)));
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (stats_out) *stats_out = st;
  return file;
}

}  // namespace shuo::model

// Model quantization: the per-tensor type rules (docs/quantization.md) and the streaming
// convert loop (rows in parallel, chunk by chunk, straight to the output file).
#include "model/quantize.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <optional>

#include "format/gguf_stream_writer.h"
#include "tensor/quants.h"

namespace shuo::model {

using format::GgmlType;

namespace {

constexpr QuantPreset kPresets[] = {
    {"F32", 0, GgmlType::F32},     // dequantizes: `shuo convert --type f32`, llama-quantize's F32
    {"F16", 1, GgmlType::F16},     {"BF16", 32, GgmlType::BF16},  {"Q8_0", 7, GgmlType::Q8_0},
    {"Q4_0", 2, GgmlType::Q4_0},   {"Q4_K_M", 15, GgmlType::Q4_K}, {"Q5_K_M", 17, GgmlType::Q5_K},
    {"Q6_K", 18, GgmlType::Q6_K},
};

// Output chunk per parallel step: big enough to keep both threads busy, small enough that a
// 150k-row embedding never sits in memory whole.
constexpr size_t kChunkBytes = 32u << 20;
constexpr int64_t kSuperBlock = 256;  // K-quant super-block (QK_K)

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

bool is_float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

// The matrices that get the preset's type: 2-D (or more) weights, except norms and small
// routing/position tables that llama.cpp also leaves alone.
bool is_quantizable_matrix(const format::GgufTensorInfo& t) {
  if (t.ne.size() < 2 || !ends_with(t.name, "weight")) return false;
  return !contains(t.name, "_norm.weight") && !contains(t.name, "ffn_gate_inp.weight") &&
         !contains(t.name, "pos_embd") && !contains(t.name, "token_types");
}

// llama.cpp's layer selection for the _M mixes: the first and last eighth of the layers and
// every third one in between get more bits.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// When a row length is not a multiple of the chosen type's block: the closest 32-block type,
// then F16 (block 1) when even 32 does not divide it.
GgmlType fallback_type(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_K: return GgmlType::Q5_0;
    case GgmlType::Q5_K: return GgmlType::Q5_1;
    case GgmlType::Q6_K: return GgmlType::Q8_0;
    default: return GgmlType::F16;
  }
}

bool row_fits(GgmlType t, int64_t n) { return format::ggml_row_bytes(t, n).has_value(); }

}  // namespace

std::optional<QuantPreset> find_quant_preset(const std::string& name) {
  std::string up = name;
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& p : kPresets)
    if (up == p.name) return p;
  return std::nullopt;
}

std::string quant_preset_names() {
  std::string s;
  for (const auto& p : kPresets) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

Result<void> check_row_finite(const float* row, int64_t cols, const std::string& tensor, int64_t r) {
  for (int64_t c = 0; c < cols; ++c)
    if (!std::isfinite(row[c]))
      return Error{ErrorCode::kBadFile, tensor,
                   "row " + std::to_string(r) + " column " + std::to_string(c) + " is " + (std::isnan(row[c]) ? "NaN" : "infinite")};
  return {};
}

Result<std::vector<TensorPlan>> plan_quantization(const format::GgufFile& in, const QuantPreset& preset,
                                                  const QuantizeOptions& opts) {
  const bool has_output = in.find_tensor("output.weight") != nullptr;
  const bool mixes = !opts.pure && !is_float_type(preset.default_type);
  const bool km = preset.default_type == GgmlType::Q4_K || preset.default_type == GgmlType::Q5_K;
  int n_attn_v = 0, n_ffn_down = 0;
  for (const auto& t : in.tensors()) {
    if (!is_quantizable_matrix(t)) continue;
    n_attn_v += contains(t.name, "attn_v.weight");
    n_ffn_down += contains(t.name, "ffn_down");
  }
  int i_attn_v = 0, i_ffn_down = 0;

  std::vector<TensorPlan> plans;
  plans.reserve(in.tensors().size());
  for (const auto& t : in.tensors()) {
    TensorPlan p{t.name, t.ne, t.type, t.type, false, {}};
    if (is_quantizable_matrix(t)) {
      GgmlType want = preset.default_type;
      if (mixes) {
        if (t.name == "output.weight" || (!has_output && t.name == "token_embd.weight")) {
          // The LM head is the most sensitive matrix; tied embeddings are the LM head.
          if (t.cols() % kSuperBlock != 0) want = GgmlType::Q8_0;
          else if (want != GgmlType::Q8_0) want = GgmlType::Q6_K;
        } else if (contains(t.name, "attn_v.weight")) {
          if (km && use_more_bits(i_attn_v, n_attn_v)) want = GgmlType::Q6_K;
          ++i_attn_v;
        } else if (contains(t.name, "ffn_down")) {
          if (km && use_more_bits(i_ffn_down, n_ffn_down)) want = GgmlType::Q6_K;
          ++i_ffn_down;
        }
      }
      GgmlType got = want;
      if (!row_fits(got, t.cols())) {
        got = fallback_type(got);
        if (!row_fits(got, t.cols())) got = GgmlType::F16;
        p.fallback_from = format::ggml_type_name(want);
      }
      p.dst_type = got;
    } else if (t.ne.size() == 1 && t.type != GgmlType::F32 && tensor::can_dequantize(t.type)) {
      p.dst_type = GgmlType::F32;  // norms and biases stay (or become) F32
    }
    p.convert = p.dst_type != p.src_type;
    if (p.convert && !tensor::can_dequantize(p.src_type))
      return Error{ErrorCode::kUnsupported, t.name,
                   std::string("stored as ") + format::ggml_type_name(t.type) + ", which cannot be converted"};
    if (p.convert && !tensor::can_quantize(p.dst_type))
      return Error{ErrorCode::kInternal, t.name,
                   std::string("planned type ") + format::ggml_type_name(p.dst_type) + " has no quantizer"};
    plans.push_back(std::move(p));
  }
  return plans;
}

namespace {

struct RowError {
  int64_t row = -1;
  Error error;
};

// Converts rows [0, rows) of one tensor, chunk by chunk, into the writer.
Result<void> convert_tensor(const format::GgufTensorInfo& t, const TensorPlan& p, tensor::ThreadPool& pool,
                            format::GgufStreamWriter& w, std::vector<uint8_t>& out, std::vector<float>& rows_f) {
  const int64_t cols = t.cols();
  const int64_t rows = t.rows();
  const size_t src_row = *format::ggml_row_bytes(p.src_type, cols);
  const size_t dst_row = *format::ggml_row_bytes(p.dst_type, cols);
  const int64_t chunk_rows = std::max<int64_t>(1, int64_t(kChunkBytes / dst_row));
  const bool check_finite = !is_float_type(p.dst_type);
  const int n_threads = pool.size();
  if (rows_f.size() < size_t(n_threads * cols)) rows_f.resize(size_t(n_threads * cols));
  std::vector<RowError> errors(n_threads);

  for (int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
    const int64_t nr = std::min(chunk_rows, rows - r0);
    if (out.size() < size_t(nr) * dst_row) out.resize(size_t(nr) * dst_row);
    pool.parallel_for(nr, [&](int64_t b, int64_t e, int thread) {
      float* f = rows_f.data() + size_t(thread) * cols;
      RowError& err = errors[thread];
      for (int64_t i = b; i < e && err.row < 0; ++i) {
        const int64_t r = r0 + i;
        auto d = tensor::dequantize(p.src_type, t.data + size_t(r) * src_row, f, cols);
        if (!d) { err = {r, d.error()}; break; }
        if (check_finite)
          if (auto ok = check_row_finite(f, cols, t.name, r); !ok) {
            err = {r, ok.error()};
            break;
          }
        auto q = tensor::quantize(p.dst_type, f, out.data() + size_t(i) * dst_row, cols);
        if (!q) err = {r, q.error()};
      }
    });
    const RowError* first = nullptr;
    for (const auto& e : errors)
      if (e.row >= 0 && (!first || e.row < first->row)) first = &e;
    if (first) {
      if (first->error.where == t.name) return first->error;
      return Error{first->error.code, t.name, "row " + std::to_string(first->row) + ": " + first->error.to_string()};
    }
    SHUO_TRY(w.write({out.data(), size_t(nr) * dst_row}));
  }
  return {};
}

}  // namespace

Result<QuantizeStats> quantize_model(const format::GgufFile& in, const std::string& out_path,
                                     const QuantPreset& preset, tensor::ThreadPool& pool,
                                     const QuantizeOptions& opts,
                                     const std::function<void(const QuantizeProgress&)>& on_progress) {
  const auto t0 = std::chrono::steady_clock::now();
  SHUO_ASSIGN(std::vector<TensorPlan> plans, plan_quantization(in, preset, opts));

  std::vector<std::pair<std::string, format::GgufValue>> kv = in.metadata();
  auto set_u32 = [&kv](const std::string& key, uint32_t v) {
    for (auto& [k, val] : kv)
      if (k == key) { val = format::GgufValue{v}; return; }
    kv.emplace_back(key, format::GgufValue{v});
  };
  set_u32("general.file_type", preset.llama_ftype);
  set_u32("general.quantization_version", 2);

  std::vector<format::GgufStreamTensor> infos;
  infos.reserve(plans.size());
  for (const auto& p : plans) infos.push_back({p.name, p.dst_type, p.ne});
  format::GgufStreamWriter w;
  SHUO_TRY(w.open(out_path, std::move(kv), std::move(infos)));

  QuantizeStats st;
  QuantizeProgress prog;
  prog.tensors_total = plans.size();
  for (size_t i = 0; i < plans.size(); ++i) prog.bytes_total += w.tensor_bytes(i);

  std::vector<uint8_t> out;
  std::vector<float> rows_f;
  const auto& tensors = in.tensors();
  for (size_t i = 0; i < plans.size(); ++i) {
    const auto& t = tensors[i];
    const auto& p = plans[i];
    if (p.convert) {
      SHUO_TRY(convert_tensor(t, p, pool, w, out, rows_f));
      ++st.n_converted;
    } else {
      SHUO_TRY(w.write({t.data, t.n_bytes}));
    }
    st.n_fallback += !p.fallback_from.empty();
    st.in_bytes += t.n_bytes;
    st.out_bytes += w.tensor_bytes(i);
    prog.tensors_done = i + 1;
    prog.bytes_done += w.tensor_bytes(i);
    prog.tensor = &p;
    if (on_progress) on_progress(prog);
  }
  // The output buffers can be large; release them before the final flush.
  std::vector<uint8_t>().swap(out);
  SHUO_TRY(w.finish());
  st.n_tensors = plans.size();
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

}  // namespace shuo::model

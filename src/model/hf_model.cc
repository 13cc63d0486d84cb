// load_hf_model: config.json + safetensors → GgufAssembly, through the architecture's mapping
// (hf_arch.h). Also the HfConverter plumbing those mappings use.
#include "model/hf_model.h"

#include <cstring>
#include <filesystem>

#include "model/hf_arch.h"

namespace shuo::model {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

struct HfArchitecture {
  const char* hf_class;
  Result<void> (*convert)(HfConverter&);
};

// One row per Hugging Face class shuo maps. Mistral's checkpoints are llama's layout (what
// llama.cpp's converter does too); its sliding window only matters beyond 4096 positions.
constexpr HfArchitecture kHfArchitectures[] = {
    {"LlamaForCausalLM", convert_hf_llama},
    {"MistralForCausalLM", convert_hf_llama},
    {"Qwen2ForCausalLM", convert_hf_qwen2},
    {"GPT2LMHeadModel", convert_hf_gpt2},
    {"GPT2Model", convert_hf_gpt2},
    {"ChatGLMModel", convert_hf_chatglm},
    {"ChatGLMForConditionalGeneration", convert_hf_chatglm},
};

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// general.file_type as llama.cpp numbers it, from the weight matrices' types.
uint32_t file_type_of(const std::vector<format::GgufTensorInfo>& tensors) {
  bool f16 = false, bf16 = false;
  for (const auto& t : tensors) {
    if (t.ne.size() < 2) continue;
    f16 |= t.type == format::GgmlType::F16;
    bf16 |= t.type == format::GgmlType::BF16;
  }
  return bf16 ? 32 : f16 ? 1 : 0;  // LLAMA_FTYPE_MOSTLY_BF16, MOSTLY_F16, ALL_F32
}

}  // namespace

// ------------------------------------------------------------------------------------------
// HfConverter: config accessors

Error HfConverter::config_error(const std::string& key, const std::string& message, ErrorCode code) const {
  return Error{code, (fs::path(dir_) / "config.json").string(), key + ": " + message};
}

bool HfConverter::has(const std::string& key) const {
  auto it = config_.find(key);
  return it != config_.end() && !it->is_null();
}

Result<int64_t> HfConverter::get_int(const std::string& key, int64_t min, int64_t max) const {
  auto it = config_.find(key);
  if (it == config_.end() || it->is_null()) return config_error(key, "is missing");
  if (!it->is_number_integer()) return config_error(key, std::string("must be an integer, got ") + it->dump());
  const int64_t v = it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : it->get<int64_t>();
  if (v < min || v > max)
    return config_error(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + std::to_string(v));
  return v;
}

Result<int64_t> HfConverter::get_int_or(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
  if (!has(key)) return fallback;
  return get_int(key, min, max);
}

Result<double> HfConverter::get_float_or(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const json& v = config_.at(key);
  if (!v.is_number()) return config_error(key, std::string("must be a number, got ") + v.dump());
  return v.get<double>();
}

Result<bool> HfConverter::get_bool_or(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const json& v = config_.at(key);
  if (!v.is_boolean()) return config_error(key, std::string("must be true or false, got ") + v.dump());
  return v.get<bool>();
}

Result<std::optional<std::string>> HfConverter::get_string(const std::string& key) const {
  if (!has(key)) return std::optional<std::string>{};
  const json& v = config_.at(key);
  if (!v.is_string()) return config_error(key, std::string("must be a string, got ") + v.dump());
  return std::optional<std::string>{v.get<std::string>()};
}

// ------------------------------------------------------------------------------------------
// HfConverter: tensors

Result<void> HfConverter::tensor(const std::string& hf_name, const std::string& gguf_name,
                                 const std::vector<int64_t>& shape, HfRows rows, int64_t heads) {
  const format::SafetensorsTensor* t = weights_.find(hf_name);
  if (!t) return Error{ErrorCode::kNotFound, hf_name, "tensor is missing from the safetensors files in " + dir_};
  if (!t->type)
    return Error{ErrorCode::kUnsupported, hf_name, "dtype " + t->dtype + " is not supported (F32, F16, BF16) in " + t->file};
  if (t->shape != shape)
    return Error{ErrorCode::kBadFile, hf_name, "shape " + shape_str(t->shape) + " in " + t->file + ", but config.json says " + shape_str(shape)};
  used_.insert(hf_name);

  format::GgufTensorInfo g;
  g.name = gguf_name;
  g.type = *t->type;
  g.ne.assign(shape.rbegin(), shape.rend());  // GGUF lists the fastest dimension first
  if (g.ne.empty()) g.ne = {1};
  g.data = t->data;
  if (rows == HfRows::kRopeInterleave) {
    if (shape.size() != 1 && shape.size() != 2) return Error{ErrorCode::kInternal, hf_name, "RoPE rows of a tensor that is not 1-D or 2-D"};
    const int64_t n_rows = shape[0];
    if (heads <= 0 || n_rows % heads != 0 || (n_rows / heads) % 2 != 0)
      return Error{ErrorCode::kBadFile, hf_name, std::to_string(n_rows) + " rows do not split into " + std::to_string(heads) + " heads of even size"};
    const size_t row_bytes = t->n_bytes / size_t(n_rows);
    const int64_t hd = n_rows / heads, half = hd / 2;
    auto buf = std::shared_ptr<uint8_t[]>(new uint8_t[t->n_bytes]);
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < half; ++j)
        for (int64_t s = 0; s < 2; ++s)
          std::memcpy(buf.get() + size_t(h * hd + 2 * j + s) * row_bytes, t->data + size_t(h * hd + s * half + j) * row_bytes, row_bytes);
    g.data = buf.get();
    owners_.push_back(std::shared_ptr<const void>(buf, buf.get()));
    // The permuted copy is what the model reads; the original's pages can go.
    for (const auto& f : weights_.files())
      if (f.mapping()) f.mapping()->release_pages(t->data, t->n_bytes);
  }
  if (rows == HfRows::kTranspose) {
    if (shape.size() != 2) return Error{ErrorCode::kInternal, hf_name, "transpose of a tensor that is not 2-D"};
    const int64_t n_in = shape[0], n_out = shape[1];
    const size_t es = t->n_bytes / size_t(n_in * n_out);  // element bytes (F32, F16, BF16)
    auto buf = std::shared_ptr<uint8_t[]>(new uint8_t[t->n_bytes]);
    for (int64_t i = 0; i < n_in; ++i)
      for (int64_t o = 0; o < n_out; ++o)
        std::memcpy(buf.get() + size_t(o * n_in + i) * es, t->data + size_t(i * n_out + o) * es, es);
    g.ne = {n_in, n_out};  // n_out rows of n_in
    g.data = buf.get();
    owners_.push_back(std::shared_ptr<const void>(buf, buf.get()));
    for (const auto& f : weights_.files())
      if (f.mapping()) f.mapping()->release_pages(t->data, t->n_bytes);
  }
  tensors_.push_back(std::move(g));
  return {};
}

void HfConverter::computed_tensor(const std::string& gguf_name, std::vector<float> values, std::vector<int64_t> ne) {
  auto buf = std::make_shared<std::vector<float>>(std::move(values));
  format::GgufTensorInfo g;
  g.name = gguf_name;
  g.type = format::GgmlType::F32;
  g.ne = std::move(ne);
  g.data = reinterpret_cast<const uint8_t*>(buf->data());
  owners_.push_back(std::move(buf));
  tensors_.push_back(std::move(g));
}

Result<void> HfConverter::check_all_used(const std::string& arch) const {
  for (const auto& name : weights_.names())
    if (!used_.count(name))
      return Error{ErrorCode::kUnsupported, name, "tensor is not part of the " + arch + " mapping (a variant of the architecture shuo does not know?)"};
  return {};
}

// ------------------------------------------------------------------------------------------
// load_hf_model

std::string hf_architecture_names() {
  std::string s;
  for (const auto& a : kHfArchitectures) s += (s.empty() ? "" : ", ") + std::string(a.hf_class);
  return s;
}

Result<HfModel> load_hf_model(const std::string& dir) {
  const std::string config_path = (fs::path(dir) / "config.json").string();
  std::error_code ec;
  if (!fs::exists(config_path, ec))
    return Error{ErrorCode::kNotFound, dir, "no config.json: not a Hugging Face model folder"};
  SHUO_ASSIGN(auto mapped, format::MappedFile::open(config_path));
  json config;
  try {
    const auto b = mapped->bytes();
    config = json::parse(b.begin(), b.end());
  } catch (const json::exception& e) {
    return Error{ErrorCode::kBadFile, config_path, std::string("not valid JSON: ") + e.what()};
  }
  if (!config.is_object()) return Error{ErrorCode::kBadFile, config_path, "must be a JSON object"};
  const auto archs = config.find("architectures");
  if (archs == config.end() || !archs->is_array() || archs->empty() || !(*archs)[0].is_string())
    return Error{ErrorCode::kBadFile, config_path, "architectures: must be a list naming the model class, e.g. [\"LlamaForCausalLM\"]"};
  const std::string hf_class = (*archs)[0].get<std::string>();
  const HfArchitecture* arch = nullptr;
  for (const auto& a : kHfArchitectures)
    if (hf_class == a.hf_class) arch = &a;
  if (!arch)
    return Error{ErrorCode::kUnsupported, config_path,
                 "architectures: '" + hf_class + "' is not supported (supported: " + hf_architecture_names() + ")"};

  SHUO_ASSIGN(auto weights, format::SafetensorsModel::open_dir(dir));
  HfConverter c(dir, config, weights);
  fs::path named = fs::absolute(dir, ec).lexically_normal();
  if (named.filename().empty()) named = named.parent_path();  // "dir/"
  c.set_str("general.name", named.filename().string());
  SHUO_TRY(arch->convert(c));
  SHUO_TRY(c.check_all_used(hf_class));

  HfModel m;
  m.hf_class = hf_class;
  for (const auto& [k, v] : c.metadata())
    if (k == "general.architecture") m.arch = std::get<std::string>(v.v);
  if (m.arch.empty()) return Error{ErrorCode::kInternal, hf_class, "the mapping set no general.architecture"};
  for (const auto& t : c.tensors())
    if (t.name == "token_embd.weight") m.vocab_size = int32_t(t.ne.back());
  c.set_u32("general.file_type", file_type_of(c.tensors()));
  m.assembly.name = dir;
  m.assembly.metadata = std::move(c.metadata());
  m.assembly.tensors = std::move(c.tensors());
  m.assembly.owners = std::move(c.owners());
  for (const auto& f : weights.files())
    if (f.mapping()) m.assembly.mappings.push_back(f.mapping());
  return m;
}

}  // namespace shuo::model

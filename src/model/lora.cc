// PEFT adapter folders → WeightEdits (see lora.h).
#include "model/lora.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "format/safetensors.h"
#include "tensor/quants.h"

namespace shuo::model {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kPrefix = "base_model.model.";

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// What adapter_config.json says, checked.
struct LoraConfig {
  int64_t r = 0;
  double alpha = 8;  // PEFT's default lora_alpha
  bool rslora = false;
  std::optional<std::vector<std::string>> target_modules;  // nullopt: a regex or "all-linear"
  std::vector<std::string> modules_to_save;
};

Result<LoraConfig> read_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ErrorCode::kNotFound, path, "cannot open (a PEFT adapter folder has adapter_config.json)"};
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error{ErrorCode::kBadFile, path, "is not a JSON object"};
  auto field = [&](const std::string& key, const std::string& msg) {
    return Error{ErrorCode::kBadFile, path + ": " + key, msg};
  };
  LoraConfig c;
  if (j.contains("peft_type") && !(j["peft_type"].is_string() && j["peft_type"] == "LORA"))
    return Error{ErrorCode::kUnsupported, path + ": peft_type", "is " + j["peft_type"].dump() + "; only \"LORA\" adapters can be merged"};
  if (!j.contains("r") || !j["r"].is_number_integer() || j["r"].get<int64_t>() <= 0 || j["r"].get<int64_t>() > 65536)
    return field("r", "must be an integer in 1..65536");
  c.r = j["r"].get<int64_t>();
  if (j.contains("lora_alpha")) {
    if (!j["lora_alpha"].is_number()) return field("lora_alpha", "must be a number");
    c.alpha = j["lora_alpha"].get<double>();
    if (!std::isfinite(c.alpha)) return field("lora_alpha", "must be finite");
  }
  auto flag = [&](const char* key) -> Result<bool> {
    if (!j.contains(key) || j[key].is_null()) return false;
    if (!j[key].is_boolean()) return field(key, "must be true or false");
    return j[key].get<bool>();
  };
  SHUO_ASSIGN(c.rslora, flag("use_rslora"));
  SHUO_ASSIGN(bool dora, flag("use_dora"));
  if (dora) return Error{ErrorCode::kUnsupported, path + ": use_dora", "DoRA adapters are not supported (only plain LoRA merges)"};
  // fan_in_fan_out only matters for GPT-2's Conv1D weights; PEFT itself turns it off for the
  // nn.Linear projections of the llama-family models that are mapped here.
  SHUO_TRY(flag("fan_in_fan_out"));
  if (j.contains("bias") && !j["bias"].is_null() && j["bias"] != "none")
    return Error{ErrorCode::kUnsupported, path + ": bias", "is " + j["bias"].dump() + "; only \"none\" is supported (trained biases are not merged)"};
  for (const char* key : {"rank_pattern", "alpha_pattern"})
    if (j.contains(key) && !j[key].is_null() && !(j[key].is_object() && j[key].empty()))
      return Error{ErrorCode::kUnsupported, path + ": " + key, "per-module ranks or alphas are not supported"};
  if (j.contains("target_modules") && j["target_modules"].is_array()) {
    std::vector<std::string> t;
    for (const auto& v : j["target_modules"]) {
      if (!v.is_string()) return field("target_modules", "must hold strings");
      t.push_back(v.get<std::string>());
    }
    c.target_modules = std::move(t);
  } else if (j.contains("target_modules") && !j["target_modules"].is_string() && !j["target_modules"].is_null()) {
    return field("target_modules", "must be a list of names or a string");
  }
  if (j.contains("modules_to_save") && !j["modules_to_save"].is_null()) {
    if (!j["modules_to_save"].is_array()) return field("modules_to_save", "must be a list of names");
    for (const auto& v : j["modules_to_save"]) {
      if (!v.is_string()) return field("modules_to_save", "must hold strings");
      c.modules_to_save.push_back(v.get<std::string>());
    }
  }
  return c;
}

// PEFT's rule for a module key matching a listed name: equal, or ending in "." + name.
bool module_matches(const std::string& module, const std::vector<std::string>& names) {
  for (const auto& n : names)
    if (module == n || ends_with(module, "." + n)) return true;
  return false;
}

// Where a Hugging Face module lives in the GGUF file.
struct Target {
  std::string gguf;     // tensor name without ".weight" / ".bias"
  int64_t rope_heads = 0;  // > 0: rows permuted per head into the interleaved layout
};

struct BaseInfo {
  std::string arch;
  bool permute_qk = false;
  int64_t n_head = 0, n_head_kv = 0;
};

Result<BaseInfo> base_info(const format::GgufFile& base) {
  BaseInfo b;
  SHUO_ASSIGN(b.arch, base.get<std::string>("general.architecture"));
  if (b.arch != "llama" && b.arch != "qwen2")
    return Error{ErrorCode::kUnsupported, base.path(),
                 "LoRA adapters can be merged into llama and qwen2 models; this one is '" + b.arch + "'"};
  b.permute_qk = b.arch == "llama";
  SHUO_ASSIGN(uint32_t nh, base.get<uint32_t>(b.arch + ".attention.head_count"));
  SHUO_ASSIGN(auto nkv, base.get_optional<uint32_t>(b.arch + ".attention.head_count_kv"));
  b.n_head = nh;
  b.n_head_kv = nkv ? *nkv : nh;
  return b;
}

// "model.layers.3.self_attn.q_proj" → blk.3.attn_q; nullopt for a module shuo has no tensor for.
std::optional<Target> map_module(const std::string& m, const BaseInfo& b) {
  if (m == "model.embed_tokens") return Target{"token_embd"};
  if (m == "model.norm") return Target{"output_norm"};
  if (m == "lm_head") return Target{"output"};
  constexpr std::string_view layers = "model.layers.";
  if (!starts_with(m, layers)) return std::nullopt;
  const std::string_view rest = std::string_view(m).substr(layers.size());
  int64_t n = -1;
  const auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
  if (ec != std::errc() || p == rest.data() || p == rest.data() + rest.size() || *p != '.' || n < 0) return std::nullopt;
  const std::string part(p + 1, rest.data() + rest.size());
  static const std::map<std::string, std::string> kParts = {
      {"self_attn.q_proj", "attn_q"},       {"self_attn.k_proj", "attn_k"},     {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"},  {"mlp.gate_proj", "ffn_gate"},      {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"},        {"input_layernorm", "attn_norm"},   {"post_attention_layernorm", "ffn_norm"},
  };
  const auto it = kParts.find(part);
  if (it == kParts.end()) return std::nullopt;
  Target t{"blk." + std::to_string(n) + "." + it->second};
  if (b.permute_qk && part == "self_attn.q_proj") t.rope_heads = b.n_head;
  if (b.permute_qk && part == "self_attn.k_proj") t.rope_heads = b.n_head_kv;
  return t;
}

// Row i of the GGUF tensor is HF row rope_row(i): the converters' rotate-half → interleaved order.
int64_t rope_row(int64_t i, int64_t head_dim) {
  const int64_t h = i / head_dim, r = i % head_dim, half = head_dim / 2;
  return h * head_dim + (r % 2) * half + r / 2;
}

Result<std::vector<float>> to_f32(const format::SafetensorsTensor& t) {
  if (!t.type)
    return Error{ErrorCode::kUnsupported, t.name, "dtype " + t.dtype + " is not supported (F32, F16, BF16) in " + t.file};
  std::vector<float> v(size_t(t.n_elements()));
  SHUO_TRY(tensor::dequantize(*t.type, t.data, v.data(), t.n_elements()));
  return v;
}

struct Pair {
  const format::SafetensorsTensor* a = nullptr;
  const format::SafetensorsTensor* b = nullptr;
  bool embedding = false;
};

}  // namespace

Result<LoraAdapter> load_lora_adapter(const std::string& dir, const format::GgufFile& base) {
  const std::string cfg_path = (fs::path(dir) / "adapter_config.json").string();
  const std::string st_path = (fs::path(dir) / "adapter_model.safetensors").string();
  if (!fs::is_directory(dir)) return Error{ErrorCode::kNotFound, dir, "is not a folder (--lora takes a PEFT adapter folder)"};
  SHUO_ASSIGN(LoraConfig cfg, read_config(cfg_path));
  if (!fs::exists(st_path)) {
    if (fs::exists(fs::path(dir) / "adapter_model.bin"))
      return Error{ErrorCode::kUnsupported, st_path,
                   "is missing; adapter_model.bin (PyTorch pickle) is not read — save the adapter with safe_serialization=True"};
    return Error{ErrorCode::kNotFound, st_path, "is missing"};
  }
  SHUO_ASSIGN(auto file, format::SafetensorsFile::open(st_path));
  SHUO_ASSIGN(BaseInfo info, base_info(base));

  LoraAdapter out;
  out.dir = dir;
  out.rank = cfg.r;
  out.scale = cfg.rslora ? cfg.alpha / std::sqrt(double(cfg.r)) : cfg.alpha / double(cfg.r);
  out.keep_alive.push_back(file.mapping());

  // Group the tensors by module, in file order.
  std::map<std::string, Pair> pairs;
  std::vector<std::string> order;
  auto slot = [&](const std::string& module) -> Pair& {
    if (!pairs.count(module)) order.push_back(module);
    return pairs[module];
  };
  for (const auto& t : file.tensors()) {
    const std::string& n = t.name;
    if (!starts_with(n, kPrefix))
      return Error{ErrorCode::kBadFile, n, "does not start with '" + std::string(kPrefix) + "' (not a PEFT adapter tensor) in " + st_path};
    const std::string rest = n.substr(kPrefix.size());
    auto strip = [&](std::string_view suffix) { return rest.substr(0, rest.size() - suffix.size()); };
    if (ends_with(rest, ".lora_A.weight")) slot(strip(".lora_A.weight")).a = &t;
    else if (ends_with(rest, ".lora_B.weight")) slot(strip(".lora_B.weight")).b = &t;
    else if (ends_with(rest, ".lora_embedding_A")) { auto& p = slot(strip(".lora_embedding_A")); p.a = &t; p.embedding = true; }
    else if (ends_with(rest, ".lora_embedding_B")) { auto& p = slot(strip(".lora_embedding_B")); p.b = &t; p.embedding = true; }
    else if (ends_with(rest, ".lora_magnitude_vector") || ends_with(rest, ".lora_magnitude_vector.weight"))
      return Error{ErrorCode::kUnsupported, n, "DoRA magnitude vectors are not supported"};
    else {
      // modules_to_save: the module's whole parameter, saved under its base name.
      const bool weight = ends_with(rest, ".weight"), bias = ends_with(rest, ".bias");
      const std::string module = weight ? strip(".weight") : bias ? strip(".bias") : rest;
      if ((!weight && !bias) || !module_matches(module, cfg.modules_to_save))
        return Error{ErrorCode::kBadFile, n, "is neither a lora_A/lora_B tensor nor a module listed in modules_to_save (" + cfg_path + ")"};
      const auto target = map_module(module, info);
      if (!target) return Error{ErrorCode::kUnsupported, n, "module '" + module + "' has no tensor in " + info.arch + " models"};
      const std::string gguf = target->gguf + (weight ? ".weight" : ".bias");
      const auto* bt = base.find_tensor(gguf);
      if (!bt) return Error{ErrorCode::kNotFound, n, "replaces " + gguf + ", which " + base.path() + " does not have"};
      std::vector<int64_t> want(bt->ne.rbegin(), bt->ne.rend());
      if (t.shape != want)
        return Error{ErrorCode::kBadFile, n, "shape " + shape_str(t.shape) + " does not fit " + gguf + " " + shape_str(want)};
      if (!t.type) return Error{ErrorCode::kUnsupported, n, "dtype " + t.dtype + " is not supported (F32, F16, BF16)"};
      WeightEdit e;
      e.tensor = gguf;
      e.origin = st_path + ": " + n;
      e.replace_type = *t.type;
      e.replace_data = t.data;
      if (target->rope_heads > 0) {
        // The replacement is in HF row order: copy it into the GGUF order.
        const int64_t rows = t.shape[0], hd = rows / target->rope_heads;
        if (rows % target->rope_heads != 0 || hd % 2 != 0)
          return Error{ErrorCode::kBadFile, n, std::to_string(rows) + " rows do not split into heads of even size"};
        const size_t row_bytes = t.n_bytes / size_t(rows);
        auto buf = std::shared_ptr<uint8_t[]>(new uint8_t[t.n_bytes]);
        for (int64_t i = 0; i < rows; ++i)
          std::memcpy(buf.get() + size_t(i) * row_bytes, t.data + size_t(rope_row(i, hd)) * row_bytes, row_bytes);
        e.replace_data = buf.get();
        out.keep_alive.push_back(std::shared_ptr<const void>(buf, buf.get()));
      }
      out.edits.push_back(std::move(e));
      ++out.n_replaced;
    }
  }

  for (const auto& module : order) {
    const Pair& p = pairs[module];
    const std::string shown = std::string(kPrefix) + module;
    if (!p.a || !p.b)
      return Error{ErrorCode::kBadFile, (p.a ? p.a : p.b)->name,
                   std::string("has no matching ") + (p.a ? "lora_B" : "lora_A") + " tensor in " + st_path};
    const std::string leaf = module.substr(module.rfind('.') + 1);
    if (cfg.target_modules && !module_matches(module, *cfg.target_modules))
      return Error{ErrorCode::kBadFile, p.a->name, "module '" + leaf + "' is not in target_modules of " + cfg_path};
    const auto target = map_module(module, info);
    if (!target) return Error{ErrorCode::kUnsupported, p.a->name, "module '" + module + "' has no tensor in " + info.arch + " models"};
    const std::string gguf = target->gguf + ".weight";
    const auto* bt = base.find_tensor(gguf);
    if (!bt) return Error{ErrorCode::kNotFound, p.a->name, "targets " + gguf + ", which " + base.path() + " does not have"};
    if (bt->ne.size() != 2) return Error{ErrorCode::kBadFile, p.a->name, "targets " + gguf + ", which is not a matrix"};
    const int64_t out_dim = bt->ne[1], in_dim = bt->ne[0];
    if (p.a->shape.size() != 2 || p.b->shape.size() != 2)
      return Error{ErrorCode::kBadFile, p.a->name, "lora_A and lora_B must be 2-D"};
    // lora_A [r, in], lora_B [out, r]; for embeddings lora_embedding_A [r, vocab], _B [dim, r],
    // whose product is the transpose of token_embd's [vocab, dim].
    const int64_t ra = p.a->shape[0], rb = p.b->shape[1];
    if (ra != cfg.r) return Error{ErrorCode::kBadFile, p.a->name, "has rank " + std::to_string(ra) + " but r = " + std::to_string(cfg.r) + " in " + cfg_path};
    if (rb != cfg.r) return Error{ErrorCode::kBadFile, p.b->name, "has rank " + std::to_string(rb) + " but r = " + std::to_string(cfg.r) + " in " + cfg_path};
    const int64_t a_cols = p.a->shape[1], b_rows = p.b->shape[0];
    const int64_t want_a = p.embedding ? out_dim : in_dim, want_b = p.embedding ? in_dim : out_dim;
    if (a_cols != want_a)
      return Error{ErrorCode::kBadFile, p.a->name, "shape " + shape_str(p.a->shape) + " does not fit " + gguf + " [" +
                                                       std::to_string(out_dim) + ", " + std::to_string(in_dim) + "]"};
    if (b_rows != want_b)
      return Error{ErrorCode::kBadFile, p.b->name, "shape " + shape_str(p.b->shape) + " does not fit " + gguf + " [" +
                                                       std::to_string(out_dim) + ", " + std::to_string(in_dim) + "]"};
    SHUO_ASSIGN(std::vector<float> a, to_f32(*p.a));
    SHUO_ASSIGN(std::vector<float> b, to_f32(*p.b));
    const int64_t r = cfg.r;
    WeightEdit e;
    e.tensor = gguf;
    e.origin = st_path + ": " + shown;
    e.rank = r;
    e.scale = out.scale;
    if (p.embedding) {
      // Row v of token_embd gets Σ_k A[k][v] · B[:, k]: b' = Aᵀ [vocab, r], a' = Bᵀ [r, dim].
      e.b.resize(size_t(out_dim * r));
      e.a.resize(size_t(r * in_dim));
      for (int64_t v = 0; v < out_dim; ++v)
        for (int64_t k = 0; k < r; ++k) e.b[size_t(v * r + k)] = a[size_t(k * out_dim + v)];
      for (int64_t k = 0; k < r; ++k)
        for (int64_t d = 0; d < in_dim; ++d) e.a[size_t(k * in_dim + d)] = b[size_t(d * r + k)];
    } else if (target->rope_heads > 0) {
      const int64_t hd = out_dim / target->rope_heads;
      if (out_dim % target->rope_heads != 0 || hd % 2 != 0)
        return Error{ErrorCode::kBadFile, p.b->name, std::to_string(out_dim) + " rows do not split into " +
                                                         std::to_string(target->rope_heads) + " heads of even size"};
      e.a = std::move(a);
      e.b.resize(b.size());
      for (int64_t i = 0; i < out_dim; ++i)
        std::copy_n(b.begin() + rope_row(i, hd) * r, r, e.b.begin() + i * r);
    } else {
      e.a = std::move(a);
      e.b = std::move(b);
    }
    out.edits.push_back(std::move(e));
    ++out.n_lora;
  }
  if (out.edits.empty()) return Error{ErrorCode::kBadFile, st_path, "holds no LoRA tensors"};
  return out;
}

void append_lora(LoadTransform& t, LoraAdapter adapter) {
  for (auto& e : adapter.edits) t.edits.push_back(std::move(e));
  for (auto& k : adapter.keep_alive) t.keep_alive.push_back(std::move(k));
}

}  // namespace shuo::model

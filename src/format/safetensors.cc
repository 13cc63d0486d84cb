// safetensors parsing and validation: 8-byte little-endian header length, a JSON object of
// tensors {dtype, shape, data_offsets} plus an optional "__metadata__" string map, then the data.
// Like the reference implementation, the tensors must tile the data section exactly (sorted by
// offset: no gap, no overlap, nothing after the last one), so every byte has one owner.
#include "format/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <unordered_set>

#include <nlohmann/json.hpp>

namespace shuo::format {

int64_t SafetensorsTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated at parse: no overflow
  return n;
}

namespace {

using json = nlohmann::json;

// Bytes per element of every dtype the format defines; which of them shuo loads is separate.
std::optional<size_t> dtype_size(const std::string& d) {
  static const std::pair<const char*, size_t> kSizes[] = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
      {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
      {"F8_E8M0", 1}, {"C64", 8},
  };
  for (const auto& [name, size] : kSizes)
    if (d == name) return size;
  return std::nullopt;
}

std::optional<GgmlType> loadable_type(const std::string& d) {
  if (d == "F32") return GgmlType::F32;
  if (d == "F16") return GgmlType::F16;
  if (d == "BF16") return GgmlType::BF16;
  return std::nullopt;
}

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& name, const SafetensorsLimits& limits)
      : b_(bytes), name_(name), limits_(limits) {}

  Result<void> run(std::vector<SafetensorsTensor>& tensors, std::vector<std::pair<std::string, std::string>>& metadata) {
    if (b_.size() < 8)
      return fail("header length (offset 0)", "needs 8 bytes, the file has " + std::to_string(b_.size()) + ": file is truncated");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | b_[size_t(i)];
    if (n > limits_.max_header_bytes)
      return fail("header length (offset 0)", std::to_string(n) + " bytes exceeds the limit of " + std::to_string(limits_.max_header_bytes));
    if (n > b_.size() - 8)
      return fail("header length (offset 0)", "header of " + std::to_string(n) + " bytes runs past the end of the file (" +
                                                  std::to_string(b_.size()) + " bytes): file is truncated");
    if (n < 2 || b_[8] != '{')
      return fail("header (offset 8)", "is not a JSON object");
    const char* text = reinterpret_cast<const char*>(b_.data() + 8);
    data_ = b_.subspan(8 + n);

    // nlohmann keeps the last of duplicate keys silently; a duplicate tensor name is corruption.
    std::string duplicate;
    std::unordered_set<std::string> seen;
    json::parser_callback_t note_keys = [&](int depth, json::parse_event_t ev, json& parsed) {
      if (depth == 1 && ev == json::parse_event_t::key && parsed.is_string() && duplicate.empty() &&
          !seen.insert(parsed.get<std::string>()).second)
        duplicate = parsed.get<std::string>();
      return true;
    };
    json header;
    try {
      header = json::parse(text, text + n, note_keys);
    } catch (const json::exception& e) {
      return fail("header (offset 8)", std::string("is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) return fail("header (offset 8)", "is not a JSON object");
    if (!duplicate.empty()) return fail(duplicate, "tensor name appears twice in the header");

    for (auto& [key, value] : header.items()) {
      if (key == "__metadata__") {
        SHUO_TRY(read_metadata(value, metadata));
        continue;
      }
      SHUO_ASSIGN(SafetensorsTensor t, read_tensor(key, value));
      tensors.push_back(std::move(t));
    }
    return check_layout(tensors);
  }

 private:
  Error fail(const std::string& field, const std::string& msg) const {
    return Error{ErrorCode::kBadFile, name_, field + ": " + msg};
  }

  Result<void> read_metadata(const json& v, std::vector<std::pair<std::string, std::string>>& out) {
    if (!v.is_object()) return fail("__metadata__", "must be an object of strings");
    for (auto& [k, s] : v.items()) {
      if (!s.is_string()) return fail("__metadata__." + k, std::string("must be a string, got ") + s.type_name());
      out.emplace_back(k, s.get<std::string>());
    }
    return {};
  }

  Result<SafetensorsTensor> read_tensor(const std::string& name, const json& v) {
    if (!v.is_object()) return fail(name, std::string("must be an object {dtype, shape, data_offsets}, got ") + v.type_name());
    for (auto& [k, _] : v.items())
      if (k != "dtype" && k != "shape" && k != "data_offsets") return fail(name + "." + k, "unknown field");
    SafetensorsTensor t;
    t.name = name;
    t.file = name_;

    const auto d = v.find("dtype");
    if (d == v.end() || !d->is_string()) return fail(name + ".dtype", "must be a string");
    t.dtype = d->get<std::string>();
    const auto esize = dtype_size(t.dtype);
    if (!esize) return fail(name + ".dtype", "unknown dtype '" + t.dtype + "'");
    t.type = loadable_type(t.dtype);

    const auto s = v.find("shape");
    if (s == v.end() || !s->is_array()) return fail(name + ".shape", "must be an array of integers");
    if (s->size() > limits_.max_dims)
      return fail(name + ".shape", std::to_string(s->size()) + " dimensions exceed the limit of " + std::to_string(limits_.max_dims));
    uint64_t n_bytes = *esize;
    bool overflow = false;
    for (const json& dim : *s) {
      if (!dim.is_number_unsigned())
        return fail(name + ".shape", "dimensions must be non-negative integers, got " + dim.dump());
      const uint64_t x = dim.get<uint64_t>();
      if (x > uint64_t(INT64_MAX)) overflow = true;
      overflow |= __builtin_mul_overflow(n_bytes, x, &n_bytes);
      t.shape.push_back(int64_t(std::min<uint64_t>(x, uint64_t(INT64_MAX))));
    }
    if (overflow || n_bytes > data_.size())
      return fail(name + ".shape", "needs more bytes than the data section holds (" + std::to_string(data_.size()) + ")");

    const auto o = v.find("data_offsets");
    if (o == v.end() || !o->is_array() || o->size() != 2 || !(*o)[0].is_number_unsigned() || !(*o)[1].is_number_unsigned())
      return fail(name + ".data_offsets", "must be [begin, end], two non-negative integers");
    const uint64_t begin = (*o)[0].get<uint64_t>(), end = (*o)[1].get<uint64_t>();
    if (begin > end) return fail(name + ".data_offsets", "begin " + std::to_string(begin) + " > end " + std::to_string(end));
    if (end > data_.size())
      return fail(name + ".data_offsets", "end " + std::to_string(end) + " is past the data section (" + std::to_string(data_.size()) +
                                              " bytes): file is truncated");
    if (end - begin != n_bytes)
      return fail(name + ".data_offsets", "span of " + std::to_string(end - begin) + " bytes, but " + t.dtype + " " + shape_str(t.shape) +
                                              " needs " + std::to_string(n_bytes));
    t.data = data_.data() + begin;
    t.n_bytes = size_t(n_bytes);
    return t;
  }

  static std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

  // Sorted by begin, each tensor must start where the previous one ended.
  Result<void> check_layout(std::vector<SafetensorsTensor>& tensors) {
    std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
      return a.data != b.data ? a.data < b.data : a.n_bytes < b.n_bytes;
    });
    const uint8_t* at = data_.data();
    const SafetensorsTensor* prev = nullptr;
    for (const auto& t : tensors) {
      if (t.data < at)
        return fail(t.name + ".data_offsets", "overlaps " + (prev ? prev->name : std::string("another tensor")));
      if (t.data > at)
        return fail(t.name + ".data_offsets", "leaves a gap of " + std::to_string(t.data - at) + " bytes before it");
      at = t.data + t.n_bytes;
      prev = &t;
    }
    if (at != data_.data() + data_.size())
      return fail("data section", std::to_string(data_.data() + data_.size() - at) + " bytes after the last tensor belong to none");
    return {};
  }

  std::span<const uint8_t> b_;
  std::span<const uint8_t> data_;
  const std::string& name_;
  const SafetensorsLimits& limits_;
};

}  // namespace

Result<SafetensorsFile> SafetensorsFile::parse(std::span<const uint8_t> bytes, std::string name,
                                               const SafetensorsLimits& limits) {
  SafetensorsFile f;
  f.name_ = std::move(name);
  Parser p(bytes, f.name_, limits);
  SHUO_TRY(p.run(f.tensors_, f.metadata_));
  for (size_t i = 0; i < f.tensors_.size(); ++i) f.index_.emplace(f.tensors_[i].name, i);
  return f;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path, const SafetensorsLimits& limits) {
  SHUO_ASSIGN(auto mapping, MappedFile::open(path));
  SHUO_ASSIGN(SafetensorsFile f, parse(mapping->bytes(), path, limits));
  f.mapping_ = std::move(mapping);
  return f;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

// ------------------------------------------------------------------------------------------
// Folders

namespace {

namespace fs = std::filesystem;

Result<json> read_json_file(const std::string& path) {
  SHUO_ASSIGN(auto m, MappedFile::open(path));
  const auto b = m->bytes();
  try {
    return json::parse(b.begin(), b.end());
  } catch (const json::exception& e) {
    return Error{ErrorCode::kBadFile, path, std::string("not valid JSON: ") + e.what()};
  }
}

// Shards named by an index must be plain file names inside the folder.
bool plain_file_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos && s.find('\0') == std::string::npos;
}

}  // namespace

Result<SafetensorsModel> SafetensorsModel::open_dir(const std::string& dir, const SafetensorsLimits& limits) {
  SafetensorsModel m;
  const fs::path d(dir);
  const fs::path index_path = d / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(index_path, ec)) {
    const std::string ip = index_path.string();
    SHUO_ASSIGN(json index, read_json_file(ip));
    if (!index.is_object()) return Error{ErrorCode::kBadFile, ip, "must be a JSON object"};
    const auto wm = index.find("weight_map");
    if (wm == index.end() || !wm->is_object() || wm->empty())
      return Error{ErrorCode::kBadFile, ip, "weight_map: must be a non-empty object of tensor name → file"};
    std::vector<std::string> shards;
    for (auto& [tensor, file] : wm->items()) {
      if (!file.is_string() || !plain_file_name(file.get<std::string>()))
        return Error{ErrorCode::kBadFile, ip, "weight_map." + tensor + ": must be a file name in the folder, got " + file.dump()};
      if (std::find(shards.begin(), shards.end(), file.get<std::string>()) == shards.end()) shards.push_back(file.get<std::string>());
    }
    for (const auto& s : shards) {
      SHUO_ASSIGN(SafetensorsFile f, SafetensorsFile::open((d / s).string(), limits));
      m.files_.push_back(std::move(f));
    }
    for (const auto& f : m.files_) {
      const std::string shard = fs::path(f.path()).filename().string();
      for (const auto& t : f.tensors()) {
        const auto it = wm->find(t.name);
        if (it == wm->end())
          return Error{ErrorCode::kBadFile, ip, "weight_map: has no entry for tensor " + t.name + " of " + shard};
        if (it->get<std::string>() != shard)
          return Error{ErrorCode::kBadFile, ip, "weight_map." + t.name + ": names " + it->get<std::string>() + ", but the tensor is in " + shard};
        m.index_.emplace(t.name, &t);  // unique: its one weight_map entry names this shard
      }
    }
    for (auto& [tensor, file] : wm->items())
      if (!m.index_.count(tensor))
        return Error{ErrorCode::kBadFile, ip, "weight_map." + tensor + ": tensor is not in " + file.get<std::string>()};
    return m;
  }

  const fs::path single = d / "model.safetensors";
  if (!fs::exists(single, ec)) {
    if (fs::exists(d / "pytorch_model.bin", ec) || fs::exists(d / "pytorch_model.bin.index.json", ec))
      return Error{ErrorCode::kUnsupported, dir, "has only PyTorch pickle weights (pytorch_model.bin); shuo reads safetensors "
                                                 "(model.safetensors or model.safetensors.index.json)"};
    return Error{ErrorCode::kNotFound, dir, "no model.safetensors or model.safetensors.index.json"};
  }
  SHUO_ASSIGN(SafetensorsFile f, SafetensorsFile::open(single.string(), limits));
  m.files_.push_back(std::move(f));
  for (const auto& t : m.files_[0].tensors()) m.index_.emplace(t.name, &t);
  return m;
}

const SafetensorsTensor* SafetensorsModel::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsModel::names() const {
  std::vector<std::string> out;
  for (const auto& f : files_)
    for (const auto& t : f.tensors()) out.push_back(t.name);
  return out;
}

}  // namespace shuo::format

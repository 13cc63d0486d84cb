// GGUF parsing and validation. Every read is bounds-checked against the mapping; counts are
// checked against the bytes left before anything is allocated, so a hostile file cannot make
// the reader crash, hang or allocate more than a small multiple of its own size.
#include "format/gguf.h"


#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <sstream>
#include <type_traits>

namespace shuo::format {

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::UINT8: return "uint8";
    case GgufType::INT8: return "int8";
    case GgufType::UINT16: return "uint16";
    case GgufType::INT16: return "int16";
    case GgufType::UINT32: return "uint32";
    case GgufType::INT32: return "int32";
    case GgufType::FLOAT32: return "float32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::UINT64: return "uint64";
    case GgufType::INT64: return "int64";
    case GgufType::FLOAT64: return "float64";
  }
  return "unknown";
}

int64_t GgufTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // validated at load: no overflow
  return n;
}

int64_t GgufTensorInfo::rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < ne.size(); ++i) n *= ne[i];
  return n;
}

// ------------------------------------------------------------------------------------------
// Mapping

void GgufFile::release_pages(const uint8_t* p, size_t n) const {
  for (const auto& m : mappings_)
    if (m->contains(p, n)) m->release_pages(p, n);
}

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

// ------------------------------------------------------------------------------------------
// Parser

namespace {
constexpr uint64_t kMaxStringBytes = 64ull << 20;     // one metadata string (templates are < 1 MB)
constexpr uint64_t kMaxTotalArrayItems = 16ull << 20; // all array elements in one file
constexpr uint64_t kMaxTensorName = 256;

size_t min_value_bytes(GgufType t) {
  switch (t) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
    case GgufType::UINT16: case GgufType::INT16: return 2;
    case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
    case GgufType::STRING: return 8;
    case GgufType::ARRAY: return 12;
  }
  return 1;
}
}  // namespace

class GgufParser {
 public:
  GgufParser(std::span<const uint8_t> bytes, const std::string& name, const GgufLimits& limits)
      : b_(bytes), name_(name), limits_(limits) {}

  Result<void> run(GgufFile& f) {
    SHUO_ASSIGN(uint32_t magic, read<uint32_t>("magic"));
    if (magic != 0x46554747u) {  // "GGUF" little-endian
      return fail(0, "magic", "not a GGUF file (magic bytes are not 'GGUF')");
    }
    SHUO_ASSIGN(uint32_t version, read<uint32_t>("version"));
    if (version != 2 && version != 3) {
      return fail(4, "version", "unsupported GGUF version " + std::to_string(version) +
                                    " (supported: 2, 3)");
    }
    f.version_ = version;
    const size_t off_nt = pos_;
    SHUO_ASSIGN(uint64_t n_tensors, read<uint64_t>("tensor_count"));
    const size_t off_nkv = pos_;
    SHUO_ASSIGN(uint64_t n_kv, read<uint64_t>("metadata_kv_count"));
    // Each tensor info takes at least 24 bytes and each kv at least 13: a count that cannot fit
    // in the bytes left is corrupt, and rejecting it here bounds every allocation below.
    if (n_tensors > limits_.max_tensors || n_tensors > remaining() / 24)
      return fail(off_nt, "tensor_count", "count " + std::to_string(n_tensors) + " is impossible for a file of " + std::to_string(b_.size()) + " bytes");
    if (n_kv > limits_.max_kv || n_kv > remaining() / 13)
      return fail(off_nkv, "metadata_kv_count", "count " + std::to_string(n_kv) + " is impossible for a file of " + std::to_string(b_.size()) + " bytes");

    f.kv_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
      const size_t off = pos_;
      SHUO_ASSIGN(std::string key, read_string("metadata key #" + std::to_string(i)));
      SHUO_ASSIGN(uint32_t type_id, read<uint32_t>("type of '" + key + "'"));
      SHUO_ASSIGN(GgufValue value, read_value(type_id, key, 0));
      if (f.kv_index_.count(key)) return fail(off, key, "duplicate metadata key");
      f.kv_index_.emplace(key, f.kv_.size());
      f.kv_.emplace_back(std::move(key), std::move(value));
    }

    if (const GgufValue* a = f.find("general.alignment")) {
      uint64_t al = 0;
      if (auto* v = std::get_if<uint32_t>(&a->v)) al = *v;
      else if (auto* v = std::get_if<int32_t>(&a->v)) al = *v > 0 ? uint64_t(*v) : 0;
      else if (auto* v = std::get_if<uint64_t>(&a->v)) al = *v;
      else return fail(0, "general.alignment", std::string("has type ") + gguf_type_name(a->type()) + ", expected uint32");
      if (al == 0 || (al & (al - 1)) != 0 || al > (1u << 20))
        return fail(0, "general.alignment", "must be a power of two ≤ 1 MiB, got " + std::to_string(al));
      f.alignment_ = static_cast<uint32_t>(al);
    }

    f.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
      SHUO_TRY(read_tensor_info(f, i));
    }
    // The data section starts at the next multiple of the alignment.
    const uint64_t data = (uint64_t(pos_) + f.alignment_ - 1) / f.alignment_ * f.alignment_;
    if (n_tensors > 0 && data > b_.size())
      return fail(pos_, "data section", "starts at " + std::to_string(data) + ", past the end of the file (" + std::to_string(b_.size()) + " bytes): file is truncated");
    f.data_offset_ = static_cast<size_t>(std::min<uint64_t>(data, b_.size()));
    return check_tensor_data(f);
  }

 private:
  size_t remaining() const { return b_.size() - pos_; }

  Error fail(size_t offset, const std::string& field, const std::string& msg) const {
    return Error{ErrorCode::kBadFile, name_,
                 field + " (offset " + std::to_string(offset) + "): " + msg};
  }

  template <typename T>
  Result<T> read(const std::string& field) {
    if (remaining() < sizeof(T))
      return fail(pos_, field, "needs " + std::to_string(sizeof(T)) + " bytes, only " + std::to_string(remaining()) + " left: file is truncated");
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  Result<std::string> read_string(const std::string& field) {
    const size_t off = pos_;
    SHUO_ASSIGN(uint64_t len, read<uint64_t>(field + " length"));
    if (len > remaining())
      return fail(off, field, "string length " + std::to_string(len) + " runs past the end of the file (" + std::to_string(remaining()) + " bytes left)");
    if (len > kMaxStringBytes)
      return fail(off, field, "string length " + std::to_string(len) + " exceeds the limit");
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), len);
    pos_ += len;
    return s;
  }

  Result<GgufValue> read_value(uint32_t type_id, const std::string& key, uint32_t depth) {
    const size_t off = pos_;
    if (type_id > static_cast<uint32_t>(GgufType::FLOAT64))
      return fail(off, key, "unknown value type id " + std::to_string(type_id));
    switch (static_cast<GgufType>(type_id)) {
      case GgufType::UINT8: return scalar<uint8_t>(key);
      case GgufType::INT8: return scalar<int8_t>(key);
      case GgufType::UINT16: return scalar<uint16_t>(key);
      case GgufType::INT16: return scalar<int16_t>(key);
      case GgufType::UINT32: return scalar<uint32_t>(key);
      case GgufType::INT32: return scalar<int32_t>(key);
      case GgufType::FLOAT32: return scalar<float>(key);
      case GgufType::UINT64: return scalar<uint64_t>(key);
      case GgufType::INT64: return scalar<int64_t>(key);
      case GgufType::FLOAT64: return scalar<double>(key);
      case GgufType::BOOL: {
        SHUO_ASSIGN(uint8_t b, read<uint8_t>(key));
        if (b > 1) return fail(off, key, "bool value " + std::to_string(b) + " is not 0 or 1");
        return GgufValue{bool(b != 0)};
      }
      case GgufType::STRING: {
        SHUO_ASSIGN(std::string s, read_string(key));
        return GgufValue{std::move(s)};
      }
      case GgufType::ARRAY: {
        if (depth >= limits_.max_array_depth)
          return fail(off, key, "arrays nested deeper than " + std::to_string(limits_.max_array_depth));
        SHUO_ASSIGN(uint32_t elem, read<uint32_t>(key + " element type"));
        if (elem > static_cast<uint32_t>(GgufType::FLOAT64))
          return fail(off, key, "unknown array element type id " + std::to_string(elem));
        SHUO_ASSIGN(uint64_t count, read<uint64_t>(key + " length"));
        const size_t min_bytes = min_value_bytes(static_cast<GgufType>(elem));
        if (count > remaining() / min_bytes)
          return fail(off, key, "array of " + std::to_string(count) + " " + gguf_type_name(static_cast<GgufType>(elem)) + " runs past the end of the file");
        total_items_ += count;
        if (total_items_ > kMaxTotalArrayItems)
          return fail(off, key, "more than " + std::to_string(kMaxTotalArrayItems) + " array elements in the file");
        auto arr = std::make_shared<GgufArray>();
        arr->elem_type = static_cast<GgufType>(elem);
        arr->items.reserve(count);
        for (uint64_t i = 0; i < count; ++i) {
          SHUO_ASSIGN(GgufValue v, read_value(elem, key, depth + 1));
          arr->items.push_back(std::move(v));
        }
        return GgufValue{std::shared_ptr<const GgufArray>(std::move(arr))};
      }
    }
    return fail(off, key, "unknown value type");
  }

  template <typename T>
  Result<GgufValue> scalar(const std::string& key) {
    SHUO_ASSIGN(T v, read<T>(key));
    return GgufValue{v};
  }

  Result<void> read_tensor_info(GgufFile& f, uint64_t index) {
    const size_t off = pos_;
    const std::string label = "tensor #" + std::to_string(index);
    SHUO_ASSIGN(std::string name, read_string(label + " name"));
    if (name.empty() || name.size() > kMaxTensorName)
      return fail(off, label + " name", "length " + std::to_string(name.size()) + " is not in [1, " + std::to_string(kMaxTensorName) + "]");
    SHUO_ASSIGN(uint32_t n_dims, read<uint32_t>(name + " n_dims"));
    if (n_dims == 0 || n_dims > limits_.max_dims)
      return fail(off, name, "n_dims " + std::to_string(n_dims) + " is not in [1, " + std::to_string(limits_.max_dims) + "]");
    GgufTensorInfo t;
    t.name = std::move(name);
    uint64_t n_elem = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      SHUO_ASSIGN(int64_t ne, read<int64_t>(t.name + " ne[" + std::to_string(d) + "]"));
      if (ne < 0) return fail(off, t.name, "dimension " + std::to_string(d) + " is negative (" + std::to_string(ne) + ")");
      if (__builtin_mul_overflow(n_elem, uint64_t(ne), &n_elem) || n_elem > uint64_t(std::numeric_limits<int64_t>::max()))
        return fail(off, t.name, "element count overflows");
      t.ne.push_back(ne);
    }
    const size_t type_off = pos_;
    SHUO_ASSIGN(uint32_t type_id, read<uint32_t>(t.name + " type"));
    auto info = ggml_type_info(type_id);
    if (!info) return fail(type_off, t.name, "unknown tensor type id " + std::to_string(type_id));
    t.type = info->type;
    if (t.ne[0] % info->block_size != 0)
      return fail(off, t.name, "first dimension " + std::to_string(t.ne[0]) + " is not a multiple of the " + info->name + " block size " + std::to_string(info->block_size));
    uint64_t n_bytes = 0;
    if (__builtin_mul_overflow(n_elem / info->block_size, uint64_t(info->type_size), &n_bytes))
      return fail(off, t.name, "byte size overflows");
    t.n_bytes = n_bytes;
    const size_t offs_off = pos_;
    SHUO_ASSIGN(uint64_t offset, read<uint64_t>(t.name + " offset"));
    if (offset % f.alignment_ != 0)
      return fail(offs_off, t.name, "data offset " + std::to_string(offset) + " is not a multiple of the alignment " + std::to_string(f.alignment_));
    t.offset = offset;
    if (f.tensor_index_.count(t.name)) return fail(off, t.name, "duplicate tensor name");
    f.tensor_index_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
    return {};
  }

  Result<void> check_tensor_data(GgufFile& f) {
    const uint64_t data_size = b_.size() - f.data_offset_;
    std::vector<const GgufTensorInfo*> by_offset;
    by_offset.reserve(f.tensors_.size());
    for (auto& t : f.tensors_) {
      uint64_t end = 0;
      if (__builtin_add_overflow(t.offset, uint64_t(t.n_bytes), &end) || end > data_size)
        return fail(f.data_offset_ + std::min<uint64_t>(t.offset, data_size), t.name,
                    "data [" + std::to_string(t.offset) + ", +" + std::to_string(t.n_bytes) + ") runs past the end of the data section (" + std::to_string(data_size) + " bytes): file is truncated or corrupt");
      t.data = b_.data() + f.data_offset_ + t.offset;
      by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const auto* prev = by_offset[i - 1];
      const auto* cur = by_offset[i];
      if (prev->n_bytes > 0 && cur->offset < prev->offset + prev->n_bytes)
        return fail(f.data_offset_ + cur->offset, cur->name, "data overlaps tensor '" + prev->name + "'");
    }
    return {};
  }

  std::span<const uint8_t> b_;
  const std::string& name_;
  const GgufLimits& limits_;
  size_t pos_ = 0;
  uint64_t total_items_ = 0;
};

// ------------------------------------------------------------------------------------------
// Open / parse

Result<GgufFile> GgufFile::parse(std::span<const uint8_t> bytes, std::string name,
                                 const GgufLimits& limits) {
  GgufFile f;
  f.name_ = std::move(name);
  f.bytes_ = bytes;
  GgufParser p(bytes, f.name_, limits);
  SHUO_TRY(p.run(f));
  return f;
}

Result<GgufFile> GgufFile::open(const std::string& path, const GgufLimits& limits) {
  SHUO_ASSIGN(auto mapping, MappedFile::open(path));
  if (mapping->bytes().empty()) return Error{ErrorCode::kBadFile, path, "magic (offset 0): file is empty"};
  SHUO_ASSIGN(GgufFile f, parse(mapping->bytes(), path, limits));
  f.mappings_.push_back(std::move(mapping));
  return f;
}

Result<GgufFile> GgufFile::assemble(GgufAssembly parts) {
  GgufFile f;
  f.assembled_ = true;
  f.name_ = std::move(parts.name);
  f.version_ = 3;
  for (auto& [key, value] : parts.metadata) {
    if (f.kv_index_.count(key)) return Error{ErrorCode::kBadFile, f.name_, key + ": duplicate metadata key"};
    f.kv_index_.emplace(key, f.kv_.size());
    f.kv_.emplace_back(std::move(key), std::move(value));
  }
  uint64_t offset = 0;
  for (auto& t : parts.tensors) {
    const auto info = ggml_type_info(t.type);
    if (t.ne.empty() || t.ne.size() > 4) return Error{ErrorCode::kBadFile, f.name_, t.name + ": needs 1 to 4 dimensions"};
    for (int64_t d : t.ne)
      if (d <= 0) return Error{ErrorCode::kBadFile, f.name_, t.name + ": dimension " + std::to_string(d) + " is not positive"};
    if (t.ne[0] % info.block_size != 0)
      return Error{ErrorCode::kBadFile, f.name_, t.name + ": first dimension " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                                                     info.name + " block size " + std::to_string(info.block_size)};
    uint64_t n_bytes = uint64_t(info.type_size);
    bool overflow = __builtin_mul_overflow(n_bytes, uint64_t(t.ne[0] / info.block_size), &n_bytes);
    for (size_t i = 1; i < t.ne.size(); ++i) overflow |= __builtin_mul_overflow(n_bytes, uint64_t(t.ne[i]), &n_bytes);
    if (overflow) return Error{ErrorCode::kBadFile, f.name_, t.name + ": size overflows"};
    if (!t.data) return Error{ErrorCode::kBadFile, f.name_, t.name + ": no data"};
    if (f.tensor_index_.count(t.name)) return Error{ErrorCode::kBadFile, f.name_, t.name + ": duplicate tensor name"};
    t.n_bytes = size_t(n_bytes);
    t.offset = offset;
    offset += (n_bytes + f.alignment_ - 1) / f.alignment_ * f.alignment_;
    f.tensor_index_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }
  f.mappings_ = std::move(parts.mappings);
  f.owners_ = std::move(parts.owners);
  return f;
}

GgufAssembly GgufFile::share() const {
  GgufAssembly a;
  a.name = name_;
  a.metadata = kv_;
  a.tensors = tensors_;
  a.mappings = mappings_;
  a.owners = owners_;
  return a;
}

// ------------------------------------------------------------------------------------------
// Accessors

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

template <typename T>
constexpr const char* wanted_name() {
  if constexpr (std::is_same_v<T, std::string>) return "string";
  else if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_floating_point_v<T>) return "float";
  else if constexpr (std::is_signed_v<T>) return "signed integer";
  else return "unsigned integer";
}

// Converts a stored value to T when that loses nothing (integer widths, float32→double).
template <typename T>
std::optional<T> convert(const GgufValue& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (auto* s = std::get_if<std::string>(&v.v)) return *s;
    return std::nullopt;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (auto* b = std::get_if<bool>(&v.v)) return *b;
    return std::nullopt;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (auto* f = std::get_if<float>(&v.v)) return static_cast<T>(*f);
    if (auto* d = std::get_if<double>(&v.v)) return static_cast<T>(*d);
    return std::nullopt;
  } else {
    return std::visit(
        [](const auto& x) -> std::optional<T> {
          using X = std::decay_t<decltype(x)>;
          if constexpr (std::is_integral_v<X> && !std::is_same_v<X, bool>) {
            if (std::in_range<T>(x)) return static_cast<T>(x);
          }
          return std::nullopt;
        },
        v.v);
  }
}

}  // namespace

template <typename T>
Result<std::optional<T>> GgufFile::get_optional(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::optional<T>{};
  auto c = convert<T>(*v);
  if (!c)
    return Error{ErrorCode::kBadFile, std::string(key),
                 std::string("in ") + name_ + ": has type " + gguf_type_name(v->type()) + ", expected " + wanted_name<T>() + " (or a value out of range)"};
  return std::optional<T>(std::move(*c));
}

template <typename T>
Result<T> GgufFile::get(std::string_view key) const {
  SHUO_ASSIGN(std::optional<T> v, get_optional<T>(key));
  if (!v) return Error{ErrorCode::kNotFound, std::string(key), "metadata key is missing in " + name_};
  return std::move(*v);
}

Result<const GgufArray*> GgufFile::get_array_ref(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return Error{ErrorCode::kNotFound, std::string(key), "metadata key is missing in " + name_};
  auto* a = std::get_if<std::shared_ptr<const GgufArray>>(&v->v);
  if (!a) return Error{ErrorCode::kBadFile, std::string(key), std::string("in ") + name_ + ": has type " + gguf_type_name(v->type()) + ", expected array"};
  return a->get();
}

template <typename T>
Result<std::vector<T>> GgufFile::get_array(std::string_view key) const {
  SHUO_ASSIGN(const GgufArray* a, get_array_ref(key));
  std::vector<T> out;
  out.reserve(a->items.size());
  for (size_t i = 0; i < a->items.size(); ++i) {
    auto c = convert<T>(a->items[i]);
    if (!c)
      return Error{ErrorCode::kBadFile, std::string(key) + "[" + std::to_string(i) + "]",
                   std::string("in ") + name_ + ": element has type " + gguf_type_name(a->items[i].type()) + ", expected " + wanted_name<T>()};
    out.push_back(std::move(*c));
  }
  return out;
}

#define SHUO_GGUF_INSTANTIATE(T)                                                     \
  template Result<T> GgufFile::get<T>(std::string_view) const;                       \
  template Result<std::optional<T>> GgufFile::get_optional<T>(std::string_view) const; \
  template Result<std::vector<T>> GgufFile::get_array<T>(std::string_view) const;
SHUO_GGUF_INSTANTIATE(uint8_t)
SHUO_GGUF_INSTANTIATE(int8_t)
SHUO_GGUF_INSTANTIATE(uint16_t)
SHUO_GGUF_INSTANTIATE(int16_t)
SHUO_GGUF_INSTANTIATE(uint32_t)
SHUO_GGUF_INSTANTIATE(int32_t)
SHUO_GGUF_INSTANTIATE(uint64_t)
SHUO_GGUF_INSTANTIATE(int64_t)
SHUO_GGUF_INSTANTIATE(float)
SHUO_GGUF_INSTANTIATE(double)
SHUO_GGUF_INSTANTIATE(bool)
SHUO_GGUF_INSTANTIATE(std::string)
#undef SHUO_GGUF_INSTANTIATE

// ------------------------------------------------------------------------------------------
// Printing

namespace {
void append_escaped(std::ostringstream& os, const std::string& s, size_t max_bytes) {
  os << '"';
  size_t n = 0;
  for (char c : s) {
    if (n++ >= max_bytes) { os << "…"; break; }
    if (c == '\n') os << "\\n";
    else if (c == '\t') os << "\\t";
    else if (c == '"') os << "\\\"";
    else if (static_cast<unsigned char>(c) < 0x20) os << "\\x" << std::hex << int(c) << std::dec;
    else os << c;
  }
  os << '"';
}
}  // namespace

std::string gguf_value_to_string(const GgufValue& v, size_t max_items) {
  std::ostringstream os;
  std::visit(
      [&](const auto& x) {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::string>) append_escaped(os, x, 120);
        else if constexpr (std::is_same_v<X, bool>) os << (x ? "true" : "false");
        else if constexpr (std::is_same_v<X, uint8_t> || std::is_same_v<X, int8_t>) os << int(x);
        else if constexpr (std::is_same_v<X, std::shared_ptr<const GgufArray>>) {
          os << "[";
          const size_t shown = std::min(max_items, x->items.size());
          for (size_t i = 0; i < shown; ++i) {
            if (i) os << ", ";
            os << gguf_value_to_string(x->items[i], max_items);
          }
          if (x->items.size() > shown) os << ", … (" << x->items.size() << " " << gguf_type_name(x->elem_type) << ")";
          os << "]";
        } else os << x;
      },
      v.v);
  return os.str();
}

}  // namespace shuo::format

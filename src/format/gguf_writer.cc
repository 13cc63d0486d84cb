// GgufWriter implementation: header, kv pairs, tensor infos, padding, data.
#include "format/gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <memory>

namespace shuo::format {

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : kv_)
    if (k == key) { v = std::move(value); return; }
  kv_.emplace_back(key, std::move(value));
}

namespace {
template <typename T>
GgufValue make_array(GgufType elem, const std::vector<T>& v) {
  auto a = std::make_shared<GgufArray>();
  a->elem_type = elem;
  a->items.reserve(v.size());
  for (const auto& x : v) a->items.push_back(GgufValue{x});
  return GgufValue{std::shared_ptr<const GgufArray>(std::move(a))};
}
}  // namespace

void GgufWriter::set_str_array(const std::string& key, const std::vector<std::string>& v) { set(key, make_array(GgufType::STRING, v)); }
void GgufWriter::set_f32_array(const std::string& key, const std::vector<float>& v) { set(key, make_array(GgufType::FLOAT32, v)); }
void GgufWriter::set_i32_array(const std::string& key, const std::vector<int32_t>& v) { set(key, make_array(GgufType::INT32, v)); }

void GgufWriter::copy_metadata(const GgufFile& src) {
  for (const auto& [k, v] : src.metadata()) set(k, v);
}

void GgufWriter::remove(const std::string& key) {
  std::erase_if(kv_, [&](const auto& kv) { return kv.first == key; });
}

Result<void> GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                                    std::span<const uint8_t> data) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  const auto bytes = ne.empty() ? std::nullopt : ggml_row_bytes(type, ne[0]);
  if (!bytes) return Error{ErrorCode::kBadField, name, "first dimension is not a multiple of the block size"};
  const size_t want = *bytes * size_t(n / ne[0]);
  if (data.size() != want)
    return Error{ErrorCode::kBadField, name, "has " + std::to_string(data.size()) + " bytes, type and shape need " + std::to_string(want)};
  for (const auto& t : tensors_)
    if (t.name == name) return Error{ErrorCode::kBadField, name, "duplicate tensor name"};
  tensors_.push_back(Tensor{name, type, std::move(ne), data});
  return {};
}

Result<void> GgufWriter::add_tensor_copy(const std::string& name, GgmlType type,
                                         std::vector<int64_t> ne, std::vector<uint8_t> data) {
  owned_.push_back(std::move(data));
  auto r = add_tensor(name, type, std::move(ne), owned_.back());
  if (!r.ok()) { owned_.pop_back(); return r; }
  tensors_.back().owned = owned_.size() - 1;
  return {};
}

namespace {
struct ByteSink {
  std::vector<uint8_t> out;
  size_t pos = 0;
  void write(const void* p, size_t n) {
    out.resize(pos + n);
    if (n) std::memcpy(out.data() + pos, p, n);
    pos += n;
  }
};
struct FileSink {
  FILE* f;
  size_t pos = 0;
  bool ok = true;
  void write(const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f) != n) ok = false;
    pos += n;
  }
};

template <typename Sink, typename T>
void put(Sink& s, T v) { s.write(&v, sizeof(T)); }

template <typename Sink>
void put_string(Sink& s, const std::string& str) {
  put<Sink, uint64_t>(s, str.size());
  s.write(str.data(), str.size());
}

template <typename Sink>
void put_value(Sink& s, const GgufValue& v) {
  std::visit(
      [&](const auto& x) {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::string>) put_string(s, x);
        else if constexpr (std::is_same_v<X, bool>) put<Sink, uint8_t>(s, x ? 1 : 0);
        else if constexpr (std::is_same_v<X, std::shared_ptr<const GgufArray>>) {
          put<Sink, uint32_t>(s, static_cast<uint32_t>(x->elem_type));
          put<Sink, uint64_t>(s, x->items.size());
          for (const auto& item : x->items) put_value(s, item);
        } else put<Sink, X>(s, x);
      },
      v.v);
}
}  // namespace

template <typename Sink>
void GgufWriter::emit(Sink& s) const {
  put<Sink, uint32_t>(s, 0x46554747u);  // "GGUF"
  put<Sink, uint32_t>(s, 3);
  put<Sink, uint64_t>(s, tensors_.size());
  put<Sink, uint64_t>(s, kv_.size());
  for (const auto& [k, v] : kv_) {
    put_string(s, k);
    put<Sink, uint32_t>(s, static_cast<uint32_t>(v.type()));
    put_value(s, v);
  }
  const uint32_t align = alignment_;
  auto padded = [&](size_t n) { return (n + align - 1) / align * align; };
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(s, t.name);
    put<Sink, uint32_t>(s, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<Sink, int64_t>(s, d);
    put<Sink, uint32_t>(s, static_cast<uint32_t>(t.type));
    put<Sink, uint64_t>(s, offset);
    offset += padded(t.data.size());
  }
  static const uint8_t zeros[64] = {};
  auto pad_to = [&](size_t target) {
    while (s.pos < target) s.write(zeros, std::min<size_t>(sizeof zeros, target - s.pos));
  };
  pad_to(padded(s.pos));
  for (const auto& t : tensors_) {
    s.write(t.data.data(), t.data.size());
    pad_to(padded(s.pos));
  }
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  ByteSink s;
  emit(s);
  return std::move(s.out);
}

Result<void> GgufWriter::write(const std::string& path) const {
  for (const auto& [k, v] : kv_)
    if (k == "general.alignment" && !(std::holds_alternative<uint32_t>(v.v) && std::get<uint32_t>(v.v) == alignment_))
      return Error{ErrorCode::kBadField, "general.alignment", "the writer only writes alignment 32"};
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Error{ErrorCode::kIo, path, std::string("cannot create: ") + std::strerror(errno)};
  FileSink s{f};
  emit(s);
  const bool closed = std::fclose(f) == 0;
  if (!s.ok || !closed) return Error{ErrorCode::kIo, path, "write failed (disk full?)"};
  return {};
}

}  // namespace shuo::format

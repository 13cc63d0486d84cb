// GgufStreamWriter: header and tensor table up front, then tensor data streamed in order.
#include "format/gguf_stream_writer.h"

#include <cerrno>
#include <cstring>
#include <unordered_set>

namespace shuo::format {

namespace {

// Serialises the header and metadata into a byte buffer (small: KBs to a few MBs of vocab).
struct HeaderBytes {
  std::vector<uint8_t> out;
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
  template <typename T>
  void pod(T v) { raw(&v, sizeof v); }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    raw(s.data(), s.size());
  }
  void value(const GgufValue& v) {
    std::visit(
        [&](const auto& x) {
          using X = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<X, std::string>) str(x);
          else if constexpr (std::is_same_v<X, bool>) pod<uint8_t>(x ? 1 : 0);
          else if constexpr (std::is_same_v<X, std::shared_ptr<const GgufArray>>) {
            pod<uint32_t>(static_cast<uint32_t>(x->elem_type));
            pod<uint64_t>(x->items.size());
            for (const auto& item : x->items) value(item);
          } else pod<X>(x);
        },
        v.v);
  }
};

uint64_t round_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

}  // namespace

GgufStreamWriter::~GgufStreamWriter() { abandon(); }

void GgufStreamWriter::abandon() {
  if (f_) {
    std::fclose(f_);
    f_ = nullptr;
    std::remove(tmp_path_.c_str());
  }
}

Result<void> GgufStreamWriter::open(const std::string& path,
                                    std::vector<std::pair<std::string, GgufValue>> kv,
                                    std::vector<GgufStreamTensor> tensors) {
  abandon();
  path_ = path;
  tmp_path_ = path + ".tmp";
  alignment_ = 32;
  for (const auto& [k, v] : kv) {
    if (k != "general.alignment") continue;
    const auto* a = std::get_if<uint32_t>(&v.v);
    if (!a || *a == 0 || (*a & (*a - 1)) != 0)
      return Error{ErrorCode::kBadField, "general.alignment", "must be a u32 power of two"};
    alignment_ = *a;
  }
  sizes_.clear();
  std::unordered_set<std::string> names;
  for (const auto& t : tensors) {
    if (t.ne.empty() || t.ne.size() > 4)
      return Error{ErrorCode::kBadField, t.name, "has " + std::to_string(t.ne.size()) + " dimensions (1 to 4 allowed)"};
    int64_t n = 1;
    for (int64_t d : t.ne) {
      if (d <= 0) return Error{ErrorCode::kBadField, t.name, "has a dimension ≤ 0"};
      n *= d;
    }
    const auto row = ggml_row_bytes(t.type, t.ne[0]);
    if (!row)
      return Error{ErrorCode::kBadField, t.name,
                   "row of " + std::to_string(t.ne[0]) + " elements is not a multiple of the " +
                       ggml_type_name(t.type) + " block size"};
    if (!names.insert(t.name).second) return Error{ErrorCode::kBadField, t.name, "duplicate tensor name"};
    sizes_.push_back(*row * size_t(n / t.ne[0]));
  }
  tensors_ = std::move(tensors);

  HeaderBytes h;
  h.pod<uint32_t>(0x46554747u);  // "GGUF"
  h.pod<uint32_t>(3);
  h.pod<uint64_t>(tensors_.size());
  h.pod<uint64_t>(kv.size());
  for (const auto& [k, v] : kv) {
    h.str(k);
    h.pod<uint32_t>(static_cast<uint32_t>(v.type()));
    h.value(v);
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    h.str(t.name);
    h.pod<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) h.pod<int64_t>(d);
    h.pod<uint32_t>(static_cast<uint32_t>(t.type));
    h.pod<uint64_t>(offset);
    offset += round_up(sizes_[i], alignment_);
  }

  f_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!f_) return Error{ErrorCode::kIo, tmp_path_, std::string("cannot create: ") + std::strerror(errno)};
  pos_ = 0;
  current_ = 0;
  current_written_ = 0;
  SHUO_TRY(put(h.out.data(), h.out.size()));
  SHUO_TRY(pad());
  // Zero-byte tensors cannot exist (dims ≥ 1), so current_ starts on a tensor that needs data.
  return {};
}

Result<void> GgufStreamWriter::put(const void* p, size_t n) {
  if (!f_) return Error{ErrorCode::kInternal, path_, "writer is not open"};
  if (n && std::fwrite(p, 1, n, f_) != n) {
    const std::string why = std::strerror(errno);
    abandon();
    return Error{ErrorCode::kIo, tmp_path_, "write failed at byte " + std::to_string(pos_) + ": " + why};
  }
  pos_ += n;
  return {};
}

Result<void> GgufStreamWriter::pad() {
  static const uint8_t zeros[256] = {};
  while (pos_ % alignment_ != 0) {
    const size_t n = std::min<uint64_t>(sizeof zeros, alignment_ - pos_ % alignment_);
    SHUO_TRY(put(zeros, n));
  }
  return {};
}

Result<void> GgufStreamWriter::write(std::span<const uint8_t> data) {
  while (!data.empty()) {
    if (current_ >= tensors_.size())
      return Error{ErrorCode::kInternal, path_, "more tensor bytes written than the tensors need"};
    const size_t want = sizes_[current_] - current_written_;
    const size_t n = std::min(want, data.size());
    SHUO_TRY(put(data.data(), n));
    current_written_ += n;
    data = data.subspan(n);
    if (current_written_ == sizes_[current_]) {
      SHUO_TRY(pad());
      ++current_;
      current_written_ = 0;
    }
  }
  return {};
}

Result<void> GgufStreamWriter::finish() {
  if (!f_) return Error{ErrorCode::kInternal, path_, "writer is not open"};
  if (current_ < tensors_.size())
    return Error{ErrorCode::kInternal, tensors_[current_].name,
                 "has " + std::to_string(current_written_) + " of " + std::to_string(sizes_[current_]) +
                     " bytes written at finish()"};
  const bool flushed = std::fflush(f_) == 0;
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!flushed || !closed) {
    std::remove(tmp_path_.c_str());
    return Error{ErrorCode::kIo, tmp_path_, "write failed (disk full?)"};
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp_path_.c_str());
    return Error{ErrorCode::kIo, path_, "cannot rename from " + tmp_path_ + ": " + why};
  }
  return {};
}

}  // namespace shuo::format

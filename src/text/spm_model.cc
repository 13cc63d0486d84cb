// SentencePiece ModelProto reader; see spm_model.h. Field numbers are those of
// sentencepiece_model.proto (ModelProto.pieces = 1, trainer_spec = 2, normalizer_spec = 3).
#include "text/spm_model.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace shuo::text {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // ▁

// Protobuf wire format: a cursor over one message's bytes.
class Wire {
 public:
  Wire(std::string_view b, const std::string& where) : b_(b), where_(where) {}
  bool done() const { return pos_ >= b_.size(); }

  Result<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) return err("truncated varint");
      const auto byte = static_cast<uint8_t>(b_[pos_++]);
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return v;
    }
    return err("varint longer than 10 bytes");
  }
  Result<std::string_view> bytes() {
    SHUO_ASSIGN(uint64_t n, varint());
    if (n > b_.size() - pos_) return err("length " + std::to_string(n) + " runs past the end");
    std::string_view s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  Result<uint32_t> fixed32() {
    if (b_.size() - pos_ < 4) return err("truncated fixed32");
    uint32_t v;
    std::memcpy(&v, b_.data() + pos_, 4);  // little-endian on every machine shuo runs on
    pos_ += 4;
    return v;
  }
  // Skips a field of wire type `wt` that this reader does not use.
  Result<void> skip(uint32_t wt) {
    switch (wt) {
      case 0: { SHUO_TRY(varint()); return {}; }
      case 1: if (b_.size() - pos_ < 8) return err("truncated fixed64"); pos_ += 8; return {};
      case 2: { SHUO_TRY(bytes()); return {}; }
      case 5: { SHUO_TRY(fixed32()); return {}; }
      default: return err("unknown wire type " + std::to_string(wt));
    }
  }
  Error err(const std::string& msg) const {
    return Error{ErrorCode::kBadFile, where_, msg + " at byte " + std::to_string(pos_)};
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
  std::string where_;
};

struct Piece {
  std::string text;
  float score = 0;
  int type = 1;  // NORMAL=1 UNKNOWN=2 CONTROL=3 USER_DEFINED=4 UNUSED=5 BYTE=6
};

struct Model {
  std::vector<Piece> pieces;
  int model_type = 1;  // UNIGRAM=1 BPE=2 WORD=3 CHAR=4
  bool byte_fallback = false;
  int64_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  std::string normalizer = "nmt_nfkc";
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
};

// Reads one field header; returns false at the end.
Result<bool> next_field(Wire& w, uint32_t* field, uint32_t* wt) {
  if (w.done()) return false;
  SHUO_ASSIGN(uint64_t key, w.varint());
  *field = static_cast<uint32_t>(key >> 3);
  *wt = static_cast<uint32_t>(key & 7);
  return true;
}

Result<void> expect(Wire& w, uint32_t wt, uint32_t want, const std::string& name) {
  if (wt != want) return w.err(name + " has wire type " + std::to_string(wt) + ", expected " + std::to_string(want));
  return {};
}

Result<Piece> parse_piece(std::string_view b, const std::string& where) {
  Wire w(b, where);
  Piece p;
  uint32_t f = 0, wt = 0;
  while (true) {
    SHUO_ASSIGN(bool more, next_field(w, &f, &wt));
    if (!more) break;
    if (f == 1) {
      SHUO_TRY(expect(w, wt, 2, "piece"));
      SHUO_ASSIGN(std::string_view s, w.bytes());
      p.text = std::string(s);
    } else if (f == 2) {
      SHUO_TRY(expect(w, wt, 5, "score"));
      SHUO_ASSIGN(uint32_t bits, w.fixed32());
      std::memcpy(&p.score, &bits, 4);
    } else if (f == 3) {
      SHUO_TRY(expect(w, wt, 0, "type"));
      SHUO_ASSIGN(uint64_t t, w.varint());
      if (t < 1 || t > 6) return Error{ErrorCode::kBadFile, where + ".type", "unknown piece type " + std::to_string(t)};
      p.type = static_cast<int>(t);
    } else {
      SHUO_TRY(w.skip(wt));
    }
  }
  return p;
}

int64_t as_int32(uint64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

Result<void> parse_trainer(std::string_view b, const std::string& where, Model* m) {
  Wire w(b, where);
  uint32_t f = 0, wt = 0;
  while (true) {
    SHUO_ASSIGN(bool more, next_field(w, &f, &wt));
    if (!more) break;
    if (wt == 0 && (f == 3 || f == 35 || (f >= 40 && f <= 43))) {
      SHUO_ASSIGN(uint64_t v, w.varint());
      if (f == 3) m->model_type = static_cast<int>(v);
      else if (f == 35) m->byte_fallback = v != 0;
      else if (f == 40) m->unk_id = as_int32(v);
      else if (f == 41) m->bos_id = as_int32(v);
      else if (f == 42) m->eos_id = as_int32(v);
      else m->pad_id = as_int32(v);
    } else {
      SHUO_TRY(w.skip(wt));
    }
  }
  return {};
}

Result<void> parse_normalizer(std::string_view b, const std::string& where, Model* m) {
  Wire w(b, where);
  uint32_t f = 0, wt = 0;
  while (true) {
    SHUO_ASSIGN(bool more, next_field(w, &f, &wt));
    if (!more) break;
    if (f == 1 && wt == 2) {
      SHUO_ASSIGN(std::string_view s, w.bytes());
      m->normalizer = std::string(s);
    } else if (wt == 0 && f >= 3 && f <= 5) {
      SHUO_ASSIGN(uint64_t v, w.varint());
      (f == 3 ? m->add_dummy_prefix : f == 4 ? m->remove_extra_whitespaces : m->escape_whitespaces) = v != 0;
    } else {
      SHUO_TRY(w.skip(wt));
    }
  }
  return {};
}

}  // namespace

Result<HfTokenizerSpec> parse_spm_model(std::string_view bytes, const std::string& source) {
  Model m;
  Wire w(bytes, source);
  uint32_t f = 0, wt = 0;
  while (true) {
    SHUO_ASSIGN(bool more, next_field(w, &f, &wt));
    if (!more) break;
    if (wt == 2 && (f == 1 || f == 2 || f == 3)) {
      SHUO_ASSIGN(std::string_view sub, w.bytes());
      if (f == 1) {
        SHUO_ASSIGN(Piece p, parse_piece(sub, source + ": pieces[" + std::to_string(m.pieces.size()) + "]"));
        m.pieces.push_back(std::move(p));
      } else if (f == 2) {
        SHUO_TRY(parse_trainer(sub, source + ": trainer_spec", &m));
      } else {
        SHUO_TRY(parse_normalizer(sub, source + ": normalizer_spec", &m));
      }
    } else {
      SHUO_TRY(w.skip(wt));
    }
  }
  if (m.pieces.empty()) return Error{ErrorCode::kBadFile, source + ": pieces", "the model has no pieces"};
  if (m.model_type != 2)
    return Error{ErrorCode::kUnsupported, source + ": trainer_spec.model_type",
                 "SentencePiece model type " + std::to_string(m.model_type) +
                     " is not supported (only BPE = 2; Unigram = 1 needs Viterbi segmentation)"};
  if (m.normalizer != "identity")
    return Error{ErrorCode::kUnsupported, source + ": normalizer_spec.name",
                 "normalization rule \"" + m.normalizer + "\" is not supported (only identity)"};
  if (!m.escape_whitespaces)
    return Error{ErrorCode::kUnsupported, source + ": normalizer_spec.escape_whitespaces",
                 "false is not supported"};

  HfTokenizerSpec spec;
  spec.byte_fallback = m.byte_fallback;
  spec.fuse_unk = true;
  const auto n = static_cast<int32_t>(m.pieces.size());
  std::unordered_map<std::string_view, int32_t> ids;
  for (int32_t id = 0; id < n; ++id) {
    const Piece& p = m.pieces[id];
    spec.vocab.emplace_back(p.text, id);
    ids.emplace(p.text, id);
    if (p.type == 3 || p.type == 4 || p.type == 2) {
      HfAddedToken a;
      a.id = id;
      a.content = p.text;
      a.special = p.type != 4;
      if (!a.content.empty()) spec.added_tokens.push_back(std::move(a));
    }
  }
  auto id_name = [&](int64_t id) -> std::optional<std::string> {
    if (id < 0 || id >= n) return std::nullopt;
    return m.pieces[id].text;
  };
  spec.unk_token = id_name(m.unk_id);
  spec.bos_token = id_name(m.bos_id);
  spec.eos_token = id_name(m.eos_id);
  spec.pad_token = id_name(m.pad_id);

  // Merges: every split of a NORMAL piece into two pieces, best piece score first; ties keep
  // vocab order, and one piece's splits are ordered by the ids of their parts (HF's extractor).
  struct M {
    float score;
    int32_t merged, left, right;
  };
  std::vector<M> merges;
  for (int32_t id = 0; id < n; ++id) {
    const Piece& p = m.pieces[id];
    if (p.type != 1) continue;
    for (size_t k = 1; k < p.text.size(); ++k) {
      if ((static_cast<uint8_t>(p.text[k]) & 0xC0) == 0x80) continue;  // not a character boundary
      auto l = ids.find(std::string_view(p.text).substr(0, k));
      auto r = ids.find(std::string_view(p.text).substr(k));
      if (l != ids.end() && r != ids.end()) merges.push_back({p.score, id, l->second, r->second});
    }
  }
  std::stable_sort(merges.begin(), merges.end(), [](const M& a, const M& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.merged != b.merged) return a.merged < b.merged;
    return a.left != b.left ? a.left < b.left : a.right < b.right;
  });
  for (const M& x : merges) spec.merges.emplace_back(m.pieces[x.left].text, m.pieces[x.right].text);

  // SentencePiece prepends "▁" once to the whole input (user-defined pieces in the text do not
  // start a new one), unlike HF's legacy Prepend normalizer, which runs between added tokens.
  using NK = HfNormalizer::Kind;
  spec.spm_remove_extra_whitespaces = m.remove_extra_whitespaces;
  spec.spm_dummy_prefix = m.add_dummy_prefix;
  spec.normalizers.push_back({NK::kReplace, "", {" ", false}, std::string(kSpace), false, false});

  using DK = HfDecoder::Kind;
  spec.decoders.push_back({DK::kReplace, {std::string(kSpace), false}, " ", 0, 0, std::string(kSpace), HfPrependScheme::kAlways});
  if (m.byte_fallback) spec.decoders.push_back({DK::kByteFallback, {}, "", 0, 0, std::string(kSpace), HfPrependScheme::kAlways});
  spec.decoders.push_back({DK::kFuse, {}, "", 0, 0, std::string(kSpace), HfPrependScheme::kAlways});
  if (m.add_dummy_prefix) spec.decoders.push_back({DK::kStrip, {}, " ", 1, 0, std::string(kSpace), HfPrependScheme::kAlways});

  if (spec.bos_token) spec.prefix_tokens.push_back(*spec.bos_token);  // SentencePiece Llama: BOS first
  return spec;
}

}  // namespace shuo::text

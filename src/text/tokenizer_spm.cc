// SentencePiece-style BPE (GGUF tokenizer.ggml.model = "llama"): start from UTF-8 characters,
// repeatedly merge the adjacent pair whose concatenation is the vocab piece with the highest
// score (ties: leftmost pair), then emit each final piece, or its bytes as <0xXX> tokens when the
// piece is not in the vocab (byte fallback). O(n log n) in the text length: a linked list of
// symbols plus a max-heap of candidate pairs, stale entries skipped when popped.
#include <cstdio>
#include <queue>

#include "text/byte_level.h"
#include "text/tokenizer_impl.h"

namespace shuo::text {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

// Parses "<0xAB>"; -1 when `s` is not a byte token spelling.
int parse_byte_token(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
  int v = 0;
  for (char c : s.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else return -1;
  }
  return v;
}

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {
    const int32_t n = vocab_.size();
    pieces_.resize(n);
    for (int32_t id = 0; id < n; ++id) {
      const std::string& s = vocab_.texts[id];
      const TokenType t = vocab_.types[id];
      if (t == TokenType::kByte) {
        const int b = parse_byte_token(s);
        pieces_[id] = b >= 0 ? std::string(1, static_cast<char>(b)) : s;
      } else if (t == TokenType::kUserDefined) {
        pieces_[id] = s;
      } else {
        pieces_[id] = replace_all(s, kSpace, " ");
      }
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      auto id = vocab_.find(name);
      if (!id) id = vocab_.find(std::string(1, static_cast<char>(b)));
      byte_ids_[b] = id ? *id : vocab_.unk_id;
    }
  }

 protected:
  void encode_text(std::string_view text, bool after_special,
                   std::vector<int32_t>* out) const override {
    std::string s;
    s.reserve(text.size() + 8);
    if (vocab_.add_space_prefix && after_special) s += kSpace;
    s += replace_all(text, " ", kSpace);
    if (s.empty()) return;

    // Symbols: byte ranges of s, linked in order. A merge grows the left symbol over the right.
    struct Symbol {
      int32_t prev, next;
      uint32_t start, len;  // len 0: merged away
    };
    std::vector<Symbol> sym;
    sym.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      const auto n = static_cast<uint32_t>(utf8_char_len(s, i));
      const auto k = static_cast<int32_t>(sym.size());
      sym.push_back({k - 1, k + 1, static_cast<uint32_t>(i), n});
      i += n;
    }
    sym.back().next = -1;

    struct Pair {
      float score;
      int32_t left, right;
      uint32_t len;  // left.len + right.len when queued; a mismatch on pop means stale
    };
    auto lower = [](const Pair& a, const Pair& b) {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Pair, std::vector<Pair>, decltype(lower)> heap(lower);
    auto try_pair = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const uint32_t len = sym[left].len + sym[right].len;
      auto id = vocab_.find(std::string_view(s).substr(sym[left].start, len));
      if (!id) return;
      heap.push({vocab_.scores[*id], left, right, len});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) try_pair(i, i + 1);

    while (!heap.empty()) {
      const Pair p = heap.top();
      heap.pop();
      Symbol& l = sym[p.left];
      Symbol& r = sym[p.right];
      if (l.len == 0 || r.len == 0 || l.len + r.len != p.len) continue;
      l.len += r.len;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = p.left;
      try_pair(l.prev, p.left);
      try_pair(p.left, l.next);
    }

    for (int32_t i = 0; i >= 0; i = sym[i].next) {
      const std::string_view piece = std::string_view(s).substr(sym[i].start, sym[i].len);
      if (auto id = vocab_.find(piece)) {
        out->push_back(*id);
        continue;
      }
      for (char c : piece) {
        const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
        if (id >= 0) out->push_back(id);
      }
    }
  }

 private:
  static std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0;;) {
      const size_t j = s.find(from, i);
      if (j == std::string_view::npos) {
        out.append(s.substr(i));
        return out;
      }
      out.append(s.substr(i, j - i));
      out.append(to);
      i = j + from.size();
    }
  }

  std::array<int32_t, 256> byte_ids_{};  // byte → <0xXX> token (else the 1-char token, else unk)
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> make_spm_tokenizer(Vocab vocab) {
  return std::unique_ptr<Tokenizer>(new SpmTokenizer(std::move(vocab)));
}

}  // namespace shuo::text

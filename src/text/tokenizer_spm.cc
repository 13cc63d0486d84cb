// SentencePiece-style BPE (GGUF tokenizer.ggml.model = "llama"): start from UTF-8 characters,
// repeatedly merge the adjacent pair whose concatenation is the vocab piece with the highest
// score (ties: leftmost pair), then emit each final piece, or its bytes as <0xXX> tokens when the
// piece is not in the vocab (byte fallback). O(n log n) in the chunk length: a linked list of
// symbols plus a max-heap of candidate pairs, stale entries skipped when popped.
#include <algorithm>
#include <cstdio>

#include "text/byte_level.h"
#include "text/pair_table.h"
#include "text/replace_all.h"
#include "text/tokenizer_impl.h"

namespace shuo::text {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

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
    for (int c = 0; c < 256; ++c) {
      auto id = c < 0x80 ? vocab_.find(std::string(1, static_cast<char>(c))) : std::nullopt;
      ascii_ids_[c] = id ? *id : -1;
    }
    for (const std::string& t : vocab_.texts) {
      for (size_t k = utf8_char_len(t, 0); k < t.size(); k += utf8_char_len(t, k)) {
        const std::string_view sv(t);
        auto left = vocab_.find(sv.substr(0, k));
        if (!left) continue;
        auto right = vocab_.find(sv.substr(k));
        if (!right) continue;
        const int32_t merged = *vocab_.find(sv);  // the id encode would find for this text
        merges_.insert(*left, *right, Merge{vocab_.scores[merged], merged});
      }
    }
    for (const std::string& t : vocab_.texts) {
      for (size_t i = t.find(kSpace, 1); i != std::string::npos; i = t.find(kSpace, i + 1)) {
        if (i < kSpace.size() || t.compare(i - kSpace.size(), kSpace.size(), kSpace) != 0)
          chunk_at_spaces_ = false;
      }
    }
  }

 protected:
  void encode_text(std::string_view text, bool after_special,
                   std::vector<int32_t>* out) const override {
    std::string s;
    s.reserve(text.size() + 8);
    if (vocab_.add_space_prefix && after_special) s += kSpace;
    s += replace_all(text, " ", kSpace);
    const std::string_view sv(s);
    Scratch scratch;
    if (!chunk_at_spaces_) {
      merge_chunk(sv, &scratch, out);
      return;
    }
    // Cut before each "▁" that follows another character: no vocab piece spans such a point
    // (checked at load), so merging the chunks separately gives the same ids, with small heaps.
    size_t begin = 0;
    for (size_t i = 1; i + kSpace.size() <= sv.size(); ++i) {
      if (sv.compare(i, kSpace.size(), kSpace) != 0) continue;
      if (i >= kSpace.size() && sv.compare(i - kSpace.size(), kSpace.size(), kSpace) == 0) continue;
      merge_chunk(sv.substr(begin, i - begin), &scratch, out);
      begin = i;
      i += kSpace.size() - 1;
    }
    merge_chunk(sv.substr(begin), &scratch, out);
  }

 private:
  // Symbols: byte ranges of the chunk, linked in order. A merge grows the left symbol over the
  // right one.
  struct Symbol {
    int32_t prev, next;
    uint32_t start, len;  // len 0: merged away
    int32_t id;           // the vocab piece spelled by the range; -1: none (a rare character)
  };
  struct Pair {
    float score;
    int32_t left, right;
    uint32_t len;  // left.len + right.len when queued; a mismatch on pop means stale
    int32_t merged_id;
  };
  struct PairBefore {  // max-heap: highest score, then leftmost
    bool operator()(const Pair& a, const Pair& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };
  struct Scratch {  // reused across the chunks of one encode call
    std::vector<Symbol> sym;
    std::vector<Pair> heap;
  };
  struct Merge {
    float score;
    int32_t merged_id;
  };

  void merge_chunk(std::string_view s, Scratch* sc, std::vector<int32_t>* out) const {
    if (s.empty()) return;
    auto& sym = sc->sym;
    sym.clear();
    for (size_t i = 0; i < s.size();) {
      const auto n = static_cast<uint32_t>(utf8_char_len(s, i));
      const auto k = static_cast<int32_t>(sym.size());
      int32_t id = n == 1 ? ascii_ids_[static_cast<uint8_t>(s[i])] : -1;
      if (n > 1) {
        if (auto found = vocab_.find(s.substr(i, n))) id = *found;
      }
      sym.push_back({k - 1, k + 1, static_cast<uint32_t>(i), n, id});
      i += n;
    }
    sym.back().next = -1;

    auto& heap = sc->heap;  // a binary heap via std::push_heap / std::pop_heap
    heap.clear();
    auto try_pair = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const uint32_t len = sym[left].len + sym[right].len;
      Merge m;
      if (sym[left].id >= 0 && sym[right].id >= 0) {
        const Merge* found = merges_.find(sym[left].id, sym[right].id);
        if (!found) return;
        m = *found;
      } else {  // a side is no vocab piece, so it is not in merges_: look the text up
        auto id = vocab_.find(s.substr(sym[left].start, len));
        if (!id) return;
        m = {vocab_.scores[*id], *id};
      }
      heap.push_back({m.score, left, right, len, m.merged_id});
      std::push_heap(heap.begin(), heap.end(), PairBefore{});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) try_pair(i, i + 1);

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), PairBefore{});
      const Pair p = heap.back();
      heap.pop_back();
      Symbol& l = sym[p.left];
      Symbol& r = sym[p.right];
      if (l.len == 0 || r.len == 0 || l.len + r.len != p.len) continue;
      l.len += r.len;
      l.id = p.merged_id;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = p.left;
      try_pair(l.prev, p.left);
      try_pair(p.left, l.next);
    }

    for (int32_t i = 0; i >= 0; i = sym[i].next) {
      if (sym[i].id >= 0) {
        out->push_back(sym[i].id);
        continue;
      }
      for (char c : s.substr(sym[i].start, sym[i].len)) {
        const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
        if (id >= 0) out->push_back(id);
      }
    }
  }

  std::array<int32_t, 256> byte_ids_{};  // byte → <0xXX> token (else the 1-char token, else unk)
  std::array<int32_t, 256> ascii_ids_{};  // 1-byte character → its piece, -1 when none
  // (left piece, right piece) → score and id of their concatenation, for every vocab piece that
  // splits into two pieces: the same answers as looking the concatenated text up, without hashing
  // strings in the inner loop.
  PairTable<Merge> merges_;
  bool chunk_at_spaces_ = true;  // no vocab piece has "▁" right after another character
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> make_spm_tokenizer(Vocab vocab) {
  return std::unique_ptr<Tokenizer>(new SpmTokenizer(std::move(vocab)));
}

}  // namespace shuo::text

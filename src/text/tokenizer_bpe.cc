// Byte-level BPE (GGUF tokenizer.ggml.model = "gpt2"): the pre-tokenizer cuts text into words;
// each word's bytes start as one symbol each (GPT-2 byte alphabet), then the adjacent pair with
// the lowest merge rank (`tokenizer.ggml.merges` order; ties: leftmost) is merged until no pair
// has a rank. O(m log m) per word of m bytes: a linked list plus a min-heap of candidate pairs.
#include <algorithm>

#include "format/gguf.h"
#include "text/byte_level.h"
#include "text/bpe_merge.h"
#include "text/pair_table.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer_impl.h"

namespace shuo::text {

namespace {

constexpr const char* kMergesKey = "tokenizer.ggml.merges";

using Merge = BpeMergeRule;

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(Vocab vocab, PreTokenizer pre, PairTable<Merge> merges)
      : Tokenizer(std::move(vocab)), pre_(std::move(pre)), merges_(std::move(merges)) {
    // Llama 3's tokenizer.json sets ignore_merges: a word that is a vocab entry is taken whole.
    ignore_merges_ = pre_.name() == "llama-bpe" || pre_.name() == "llama3" ||
                     pre_.name() == "llama-v3";
    const int32_t n = vocab_.size();
    pieces_.resize(n);
    for (int32_t id = 0; id < n; ++id) {
      // USER_DEFINED tokens are stored as plain text, not in the byte alphabet.
      pieces_[id] = vocab_.types[id] == TokenType::kUserDefined
                        ? vocab_.texts[id]
                        : alphabet_.decode(vocab_.texts[id]);
    }
    for (int b = 0; b < 256; ++b) {
      auto id = vocab_.find(alphabet_.encode_byte(static_cast<uint8_t>(b)));
      byte_ids_[b] = id ? *id : -1;
    }
  }

 protected:
  void encode_text(std::string_view text, bool /*after_special*/,
                   std::vector<int32_t>* out) const override {
    std::vector<std::string_view> words;
    pre_.split(text, &words);
    Scratch scratch;
    for (std::string_view w : words) encode_word(w, &scratch, out);
  }

 private:
  using Symbol = BpeSymbol;  // id -1: this byte has no token
  using Pair = BpeCandidate;
  struct Scratch {  // reused across the words of one encode call
    std::vector<Symbol> sym;
    std::vector<Pair> heap;
    std::string encoded;
  };

  void encode_word(std::string_view w, Scratch* sc, std::vector<int32_t>* out) const {
    if (w.size() == 1) {
      emit_byte(static_cast<uint8_t>(w[0]), out);
      return;
    }
    if (ignore_merges_) {
      sc->encoded.clear();
      alphabet_.encode(w, &sc->encoded);
      if (auto id = vocab_.find(sc->encoded)) {
        out->push_back(*id);
        return;
      }
    }
    auto& sym = sc->sym;
    sym.clear();
    const auto n = static_cast<int32_t>(w.size());
    for (int32_t i = 0; i < n; ++i)
      sym.push_back({i - 1, i + 1 < n ? i + 1 : -1, byte_ids_[static_cast<uint8_t>(w[i])]});

    bpe_merge(sym, merges_, sc->heap);

    for (int32_t i = 0; i >= 0; i = sym[i].next) {
      if (sym[i].id >= 0) {
        out->push_back(sym[i].id);
      } else if (vocab_.unk_id >= 0) {
        out->push_back(vocab_.unk_id);  // a byte without a token: only broken vocabs
      }
    }
  }

  void emit_byte(uint8_t b, std::vector<int32_t>* out) const {
    if (byte_ids_[b] >= 0) {
      out->push_back(byte_ids_[b]);
    } else if (vocab_.unk_id >= 0) {
      out->push_back(vocab_.unk_id);
    }
  }

  ByteLevelAlphabet alphabet_;
  PreTokenizer pre_;
  PairTable<Merge> merges_;                     // (left id, right id) → rank, merged id
  std::array<int32_t, 256> byte_ids_{};         // byte → its single-character token
  bool ignore_merges_ = false;
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> make_bpe_tokenizer(Vocab vocab, const format::GgufFile& f) {
  SHUO_ASSIGN(PreTokenizer pre, PreTokenizer::create(vocab.pre));
  SHUO_ASSIGN(const format::GgufArray* arr, f.get_array_ref(kMergesKey));
  if (arr->elem_type != format::GgufType::STRING)
    return Error{ErrorCode::kBadFile, kMergesKey,
                 std::string("has elements of type ") + format::gguf_type_name(arr->elem_type) +
                     ", expected string"};
  PairTable<Merge> merges(arr->items.size());
  for (size_t rank = 0; rank < arr->items.size(); ++rank) {
    const auto* s = std::get_if<std::string>(&arr->items[rank].v);
    if (!s) return Error{ErrorCode::kBadFile, kMergesKey, "element is not a string"};
    // "left right"; the separator is the first space after the first character.
    const size_t sep = s->find(' ', 1);
    if (sep == std::string::npos)
      return Error{ErrorCode::kBadFile, std::string(kMergesKey) + "[" + std::to_string(rank) + "]",
                   "merge \"" + *s + "\" has no space separator"};
    const std::string_view sv(*s);
    const auto left = vocab.find(sv.substr(0, sep));
    const auto right = vocab.find(sv.substr(sep + 1));
    const auto merged = vocab.find(std::string(sv.substr(0, sep)) + std::string(sv.substr(sep + 1)));
    // A merge whose parts or result are not tokens can never fire on token ids; skip it.
    if (!left || !right || !merged) continue;
    merges.insert(*left, *right, Merge{static_cast<int32_t>(rank), *merged});
  }
  return std::unique_ptr<Tokenizer>(new BpeTokenizer(std::move(vocab), std::move(pre),
                                                     std::move(merges)));
}

}  // namespace shuo::text

// The Hugging Face tokenizer.json pipeline as a text::Tokenizer; see hf_tokenizer.h.
//
// encode: added tokens are cut out of the input first (leftmost, longest; special ones only
// with parse_special), then each run of text between them is normalized, pre-tokenized into
// words, and each word goes through BPE: start from its characters (a character that is not a
// token becomes its <0xXX> byte tokens with byte_fallback, else unk), then repeatedly merge the
// adjacent pair with the lowest merge rank (ties: leftmost). ignore_merges: a word that is a
// token is taken whole. add_special wraps the ids in the post-processor's tokens.
#include <algorithm>

#include "text/byte_level.h"
#include "text/hf_pipeline.h"
#include "text/hf_tokenizer.h"
#include "text/hf_vocab.h"
#include "text/bpe_merge.h"
#include "text/pair_table.h"
#include "text/utf8.h"

namespace shuo::text {

namespace {

using Merge = BpeMergeRule;

bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// HF's is_word_character (alphanumeric or '_'); any non-ASCII byte counts as a letter.
bool is_word_byte(char c) {
  const auto b = static_cast<uint8_t>(c);
  return b >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '_';
}

class HfBpeTokenizer final : public Tokenizer {
 public:
  HfBpeTokenizer(HfVocabTable table, const HfTokenizerSpec& spec, HfNormalizerChain norm,
                 HfPreTokenizerChain pre, HfDecoderChain dec, PairTable<Merge> merges)
      : Tokenizer(std::move(table.vocab)),
        model_ids_(std::move(table.model_ids)),
        special_(std::move(table.special)),
        prefix_ids_(std::move(table.prefix_ids)),
        suffix_ids_(std::move(table.suffix_ids)),
        added_(spec.added_tokens),
        norm_(std::move(norm)),
        pre_(std::move(pre)),
        dec_(std::move(dec)),
        merges_(std::move(merges)),
        ignore_merges_(spec.ignore_merges),
        byte_fallback_(spec.byte_fallback),
        fuse_unk_(spec.fuse_unk),
        join_with_space_(spec.decoders.empty()),
        spm_dummy_prefix_(spec.spm_dummy_prefix),
        spm_remove_extra_whitespaces_(spec.spm_remove_extra_whitespaces) {
    const int32_t n = vocab_.size();
    pieces_.resize(n);
    for (int32_t id = 0; id < n; ++id) pieces_[id] = dec_.piece(vocab_.texts[id]);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      auto it = model_ids_.find(std::string_view(name));
      byte_ids_[b] = it == model_ids_.end() ? -1 : it->second;
    }
    for (size_t i = 0; i < added_.size(); ++i)
      added_by_byte_[static_cast<uint8_t>(added_[i].content[0])].push_back(i);
    for (auto& list : added_by_byte_) {
      std::stable_sort(list.begin(), list.end(), [&](size_t a, size_t b) {
        return added_[a].content.size() > added_[b].content.size();
      });
    }
  }

  std::vector<int32_t> encode(std::string_view input, bool add_special,
                              bool parse_special) const override {
    std::string spm_text;
    std::string_view text = input;
    if (spm_dummy_prefix_ || spm_remove_extra_whitespaces_) {
      spm_text = spm_input(input);
      text = spm_text;
    }
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_special) out.insert(out.end(), prefix_ids_.begin(), prefix_ids_.end());
    Scratch sc;
    size_t plain = 0;  // start of the current run of plain text
    for (size_t i = 0; i < text.size();) {
      size_t b = 0, e = 0;
      const HfAddedToken* tok = match_added(text, i, plain, parse_special, &b, &e);
      if (!tok) {
        ++i;
        continue;
      }
      encode_run(text.substr(plain, b - plain), plain == 0, &sc, &out);
      out.push_back(tok->id);
      plain = i = e;
    }
    encode_run(text.substr(plain), plain == 0, &sc, &out);
    if (add_special) out.insert(out.end(), suffix_ids_.begin(), suffix_ids_.end());
    return out;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special,
                     bool from_start) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
      if (!vocab_.valid(id) || (skip_special && special_[id])) continue;
      tokens.push_back(vocab_.texts[id]);
    }
    if (join_with_space_) {  // HF without a decoder: token strings joined by spaces
      std::string out;
      for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
      return out;
    }
    return dec_.decode(std::move(tokens), from_start);
  }

 protected:
  void encode_text(std::string_view text, bool after_special,
                   std::vector<int32_t>* out) const override {
    Scratch sc;  // not reached through encode() (overridden); kept correct for completeness
    encode_run(text, after_special, &sc, out);
  }

 private:
  using Symbol = BpeSymbol;
  using Pair = BpeCandidate;
  struct Scratch {
    std::vector<HfWord> words;
    std::vector<Symbol> sym;
    std::vector<Pair> heap;
  };

  // SentencePiece's whole-input rules (tokenizer.model): extra spaces removed, one space in front.
  std::string spm_input(std::string_view in) const {
    std::string s;
    if (spm_remove_extra_whitespaces_) {
      for (char c : in) {
        if (c == ' ' && (s.empty() || s.back() == ' ')) continue;
        s.push_back(c);
      }
      if (!s.empty() && s.back() == ' ') s.pop_back();
    } else {
      s = in;
    }
    if (spm_dummy_prefix_ && !s.empty()) s.insert(0, " ");
    return s;
  }

  // The added token matched at text[i] (leftmost-longest, as HF's Aho-Corasick), or nullptr.
  // [*b, *e) is the matched range, widened over whitespace by lstrip / rstrip (never before
  // `plain`, the end of the previous match).
  const HfAddedToken* match_added(std::string_view text, size_t i, size_t plain, bool parse_special,
                                  size_t* b, size_t* e) const {
    for (size_t k : added_by_byte_[static_cast<uint8_t>(text[i])]) {
      const HfAddedToken& a = added_[k];
      if (a.special && !parse_special) continue;
      if (text.compare(i, a.content.size(), a.content) != 0) continue;
      size_t start = i, stop = i + a.content.size();
      if (a.single_word && ((start > 0 && is_word_byte(text[start - 1])) ||
                            (stop < text.size() && is_word_byte(text[stop]))))
        continue;
      if (a.lstrip)
        while (start > plain && is_ascii_space(text[start - 1])) --start;
      if (a.rstrip)
        while (stop < text.size() && is_ascii_space(text[stop])) ++stop;
      *b = start;
      *e = stop;
      return &a;
    }
    return nullptr;
  }

  // One run of text between added tokens: normalize, pre-tokenize, BPE each word.
  void encode_run(std::string_view run, bool at_input_start, Scratch* sc,
                  std::vector<int32_t>* out) const {
    if (run.empty()) return;
    std::string text(run);
    norm_.apply(&text);
    sc->words.clear();
    pre_.split(std::move(text), at_input_start, &sc->words);
    for (const HfWord& w : sc->words) encode_word(w.text, sc, out);
  }

  std::optional<int32_t> model_find(std::string_view s) const {
    auto it = model_ids_.find(s);
    if (it == model_ids_.end()) return std::nullopt;
    return it->second;
  }

  void encode_word(std::string_view w, Scratch* sc, std::vector<int32_t>* out) const {
    if (ignore_merges_) {
      if (auto id = model_find(w)) {
        out->push_back(*id);
        return;
      }
    }
    auto& sym = sc->sym;
    sym.clear();
    bool prev_unk = false;
    for (size_t i = 0; i < w.size();) {
      const size_t n = utf8_char_len(w, i);
      const std::string_view c = w.substr(i, n);
      i += n;
      if (auto id = model_find(c)) {
        sym.push_back({0, 0, *id});
        prev_unk = false;
        continue;
      }
      if (byte_fallback_ &&
          std::all_of(c.begin(), c.end(), [&](char ch) { return byte_ids_[static_cast<uint8_t>(ch)] >= 0; })) {
        for (char ch : c) sym.push_back({0, 0, byte_ids_[static_cast<uint8_t>(ch)]});
        prev_unk = false;
        continue;
      }
      if (vocab_.unk_id < 0) continue;  // no unk token: HF drops the character
      if (!(fuse_unk_ && prev_unk)) sym.push_back({0, 0, vocab_.unk_id});
      prev_unk = true;
    }
    const auto m = static_cast<int32_t>(sym.size());
    if (m == 0) return;
    for (int32_t i = 0; i < m; ++i) {
      sym[i].prev = i - 1;
      sym[i].next = i + 1 < m ? i + 1 : -1;
    }

    bpe_merge(sym, merges_, sc->heap);
    for (int32_t i = 0; i >= 0; i = sym[i].next) out->push_back(sym[i].id);
  }

  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> model_ids_;
  std::vector<bool> special_;
  std::vector<int32_t> prefix_ids_, suffix_ids_;
  std::vector<HfAddedToken> added_;
  std::array<std::vector<size_t>, 256> added_by_byte_;  // indexes into added_, longest first
  HfNormalizerChain norm_;
  HfPreTokenizerChain pre_;
  HfDecoderChain dec_;
  PairTable<Merge> merges_;  // (left id, right id) → rank, merged id
  std::array<int32_t, 256> byte_ids_{};
  bool ignore_merges_, byte_fallback_, fuse_unk_, join_with_space_;
  bool spm_dummy_prefix_, spm_remove_extra_whitespaces_;
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> make_hf_tokenizer(const HfTokenizerSpec& spec) {
  SHUO_ASSIGN(HfVocabTable table, build_hf_vocab(spec));
  SHUO_ASSIGN(HfNormalizerChain norm, HfNormalizerChain::create(spec.normalizers));
  SHUO_ASSIGN(HfPreTokenizerChain pre, HfPreTokenizerChain::create(spec.pre_tokenizers));
  SHUO_ASSIGN(HfDecoderChain dec, HfDecoderChain::create(spec.decoders));

  PairTable<Merge> merges(spec.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [a, b] = spec.merges[rank];
    auto where = [&] { return "tokenizer.json: model.merges[" + std::to_string(rank) + "]"; };
    auto left = table.model_ids.find(a);
    auto right = table.model_ids.find(b);
    joined = a + b;
    auto merged = table.model_ids.find(joined);
    // The `tokenizers` library refuses such a file too.
    if (left == table.model_ids.end())
      return Error{ErrorCode::kBadFile, where(), "\"" + a + "\" is not in model.vocab"};
    if (right == table.model_ids.end())
      return Error{ErrorCode::kBadFile, where(), "\"" + b + "\" is not in model.vocab"};
    if (merged == table.model_ids.end())
      return Error{ErrorCode::kBadFile, where(), "the merged token \"" + joined + "\" is not in model.vocab"};
    merges.insert(left->second, right->second, Merge{static_cast<int32_t>(rank), merged->second});
  }

  Vocab& v = table.vocab;
  v.kind = pre.byte_level() ? VocabKind::kBpe : VocabKind::kSpm;
  v.model = "hf-bpe";
  v.pre = "tokenizer.json";
  // The SentencePiece leading space: a Prepend("▁") normalizer (legacy Llama files) or a
  // Metaspace pre-tokenizer that prepends. Callers use it to drop that space from output.
  v.add_space_prefix = spec.spm_dummy_prefix;
  for (const HfNormalizer& n : spec.normalizers)
    if (n.kind == HfNormalizer::Kind::kPrepend && n.prepend == "\xE2\x96\x81") v.add_space_prefix = true;
  for (const HfPreTokenizer& p : spec.pre_tokenizers)
    if (p.kind == HfPreTokenizer::Kind::kMetaspace && p.prepend_scheme != HfPrependScheme::kNever)
      v.add_space_prefix = true;
  return std::unique_ptr<Tokenizer>(new HfBpeTokenizer(std::move(table), spec, std::move(norm),
                                                       std::move(pre), std::move(dec),
                                                       std::move(merges)));
}

}  // namespace shuo::text

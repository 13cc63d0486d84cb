// Tokenizer: the factory, special-token splitting, BOS/EOS, end-of-generation ids and decoding,
// shared by the SentencePiece and byte-level BPE tokenizers.
#include "text/tokenizer.h"

#include <algorithm>

#include "format/gguf.h"
#include "text/tokenizer_impl.h"

namespace shuo::text {

namespace {

// Control tokens that end a turn in common chat formats, besides the model's eos/eot/eom ids.
constexpr std::string_view kEogTexts[] = {
    "<|im_end|>",    "<|eot_id|>",      "<|eom_id|>",    "<|end|>",
    "<|endoftext|>", "<|end_of_text|>", "<end_of_turn>",
};

bool is_special_type(TokenType t) {
  return t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUnused;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const format::GgufFile& f) {
  SHUO_ASSIGN(Vocab vocab, load_vocab(f));
  switch (vocab.kind) {
    case VocabKind::kSpm:
      return make_spm_tokenizer(std::move(vocab));
    case VocabKind::kBpe:
      return make_bpe_tokenizer(std::move(vocab), f);
    case VocabKind::kWordPiece:
      break;
  }
  return Error{ErrorCode::kUnsupported, "tokenizer.ggml.model",
               "tokenizer model \"" + vocab.model + "\" (WordPiece) is not supported yet"};
}

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  const int32_t n = vocab_.size();
  for (int32_t id = 0; id < n; ++id) {
    const TokenType t = vocab_.types[id];
    const std::string& s = vocab_.texts[id];
    if ((t == TokenType::kControl || t == TokenType::kUserDefined) && !s.empty()) {
      specials_by_byte_[static_cast<uint8_t>(s[0])].push_back(id);
      if (t == TokenType::kUserDefined) has_user_defined_ = true;
    }
  }
  for (auto& ids : specials_by_byte_) {
    std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
      return vocab_.texts[a].size() > vocab_.texts[b].size();
    });
  }

  for (int32_t id : {vocab_.eos_id, vocab_.eot_id, vocab_.eom_id})
    if (id >= 0) eog_ids_.push_back(id);
  eog_ids_.insert(eog_ids_.end(), vocab_.turn_end_ids.begin(), vocab_.turn_end_ids.end());
  for (std::string_view text : kEogTexts) {
    auto id = vocab_.find(text);
    if (id && (vocab_.types[*id] == TokenType::kControl ||
               vocab_.types[*id] == TokenType::kUserDefined))
      eog_ids_.push_back(*id);
  }
  std::sort(eog_ids_.begin(), eog_ids_.end());
  eog_ids_.erase(std::unique(eog_ids_.begin(), eog_ids_.end()), eog_ids_.end());
}

Tokenizer::~Tokenizer() = default;

void Tokenizer::split_special(std::string_view text, bool parse_special,
                              std::vector<Fragment>* out) const {
  size_t plain = 0;  // start of the current run of plain text
  for (size_t i = 0; i < text.size();) {
    size_t matched = 0;
    for (int32_t id : specials_by_byte_[static_cast<uint8_t>(text[i])]) {
      if (!parse_special && vocab_.types[id] == TokenType::kControl) continue;
      const std::string& s = vocab_.texts[id];
      if (text.compare(i, s.size(), s) == 0) {
        if (i > plain) out->push_back({text.substr(plain, i - plain), -1});
        out->push_back({text.substr(i, s.size()), id});
        matched = s.size();
        break;
      }
    }
    if (matched) {
      i += matched;
      plain = i;
    } else {
      ++i;
    }
  }
  if (plain < text.size()) out->push_back({text.substr(plain), -1});
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && add_bos()) out.push_back(vocab_.bos_id);
  if (parse_special || has_user_defined_) {
    std::vector<Fragment> fragments;
    split_special(text, parse_special, &fragments);
    bool after_special = true;
    for (const Fragment& f : fragments) {
      if (f.id >= 0) {
        out.push_back(f.id);
        after_special = true;
      } else {
        encode_text(f.text, after_special, &out);
        after_special = false;
      }
    }
  } else if (!text.empty()) {
    encode_text(text, true, &out);
  }
  if (add_special && add_eos()) out.push_back(vocab_.eos_id);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (!vocab_.valid(id)) return {};
  if (is_special_type(vocab_.types[id])) return render_special ? vocab_.texts[id] : std::string();
  return pieces_[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special,
                              bool from_start) const {
  std::string out;
  bool strip_space = from_start && adds_space_prefix();
  for (int32_t id : ids) {
    if (!vocab_.valid(id)) continue;
    const bool special = is_special_type(vocab_.types[id]);
    if (special) {
      if (!skip_special) out += vocab_.texts[id];
      continue;
    }
    const std::string& piece = pieces_[id];
    if (strip_space && !piece.empty() && piece[0] == ' ') {
      out.append(piece, 1);
    } else {
      out += piece;
    }
    strip_space = false;
  }
  return out;
}

bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

const std::string& Tokenizer::token_text(int32_t id) const {
  return vocab_.valid(id) ? vocab_.texts[id] : empty_;
}

TokenType Tokenizer::token_type(int32_t id) const {
  return vocab_.valid(id) ? vocab_.types[id] : TokenType::kUndefined;
}

}  // namespace shuo::text

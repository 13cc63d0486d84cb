// Text ↔ token ids for GGUF models: SentencePiece-style BPE ("llama") and byte-level BPE ("gpt2").
// Hugging Face tokenizer.json / tokenizer.model tokenizers are subclasses too (hf_tokenizer.h).
// One Tokenizer per loaded model; every method is const and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "text/vocab.h"

namespace shuo::format {
class GgufFile;
}

namespace shuo::text {

class Tokenizer {
 public:
  // Builds the tokenizer that `tokenizer.ggml.model` names. Errors name the key: a missing
  // token list, an unsupported model ("bert" WordPiece is not implemented) or pre-tokenizer.
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const format::GgufFile& f);
  virtual ~Tokenizer();

  // Token ids for `text` (any bytes; invalid UTF-8 is kept byte for byte where the vocab can).
  // add_special: prepend BOS / append EOS as add_bos() / add_eos() say.
  // parse_special: text spelling a CONTROL token (e.g. "<|im_start|>") becomes that token;
  //   raw user text must pass false. USER_DEFINED tokens (text added to the vocab, e.g.
  //   DeepSeek's "ü") are always matched whole, as llama.cpp and HF added tokens do.
  //   Matching is leftmost, longest token first, before any other splitting.
  // SentencePiece: when adds_space_prefix(), a space is prepended to each run of plain text that
  //   starts the input or follows a matched special token; spaces become U+2581. "" gives no ids.
  // Virtual: a Hugging Face tokenizer.json tokenizer (hf_tokenizer.h) runs its own pipeline.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special,
                                      bool parse_special) const;

  // The raw bytes of one token (may be part of a UTF-8 character). SPM: U+2581 → ' ',
  // "<0xE4>" → byte 0xE4. BPE: byte-level alphabet → bytes. CONTROL, UNKNOWN and UNUSED tokens
  // give "" unless render_special (then their vocab text); USER_DEFINED tokens give their text.
  // Out-of-range ids give "".
  std::string token_to_piece(int32_t id, bool render_special = false) const;

  // Concatenated pieces (token_to_piece(id, !skip_special)).
  // Leading-space rule, only when adds_space_prefix() and from_start: `ids` are taken to start a
  // sequence, so the first token that is not CONTROL/UNKNOWN/UNUSED (i.e. after any BOS) loses
  // one leading ' ' from its piece — the one encode() added. Then decode(encode(t)) == t.
  // Pass from_start = false for ids that continue earlier text (a generated continuation), so
  // that "▁big" after "had a" stays " big".
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special = true,
                             bool from_start = true) const;

  int32_t n_vocab() const { return vocab_.size(); }
  int32_t bos_id() const { return vocab_.bos_id; }  // -1 when the model has none
  int32_t eos_id() const { return vocab_.eos_id; }  // -1 when the model has none
  int32_t unk_id() const { return vocab_.unk_id; }  // -1 when the model has none
  bool add_bos() const { return vocab_.add_bos && vocab_.bos_id >= 0; }
  bool add_eos() const { return vocab_.add_eos && vocab_.eos_id >= 0; }
  // SentencePiece leading-space rule in effect (tokenizer.ggml.add_space_prefix, default true).
  bool adds_space_prefix() const { return vocab_.kind == VocabKind::kSpm && vocab_.add_space_prefix; }

  // End of generation: eos, eot, eom, and CONTROL/USER_DEFINED tokens spelled like an end marker
  // (<|im_end|>, <|eot_id|>, <|eom_id|>, <|end|>, <|endoftext|>, <|end_of_text|>, <end_of_turn>),
  // and the vocab's turn_end_ids (chatglm: <|user|>, <|observation|>).
  bool is_eog(int32_t id) const;

  const std::string& token_text(int32_t id) const;  // raw vocab string; "" when out of range
  TokenType token_type(int32_t id) const;           // kUndefined when out of range
  std::optional<int32_t> find_token(std::string_view text) const { return vocab_.find(text); }

  const Vocab& vocab() const { return vocab_; }

 protected:
  explicit Tokenizer(Vocab vocab);

  // Encodes one run of plain text (no special tokens in it). `after_special` is true at the start
  // of the input and right after a matched special token.
  virtual void encode_text(std::string_view text, bool after_special,
                           std::vector<int32_t>* out) const = 0;

  Vocab vocab_;
  std::vector<std::string> pieces_;  // [n_vocab] decoded bytes of NORMAL/BYTE/USER_DEFINED tokens;
                                     // filled by the subclass constructor

 private:
  struct Fragment {
    std::string_view text;  // plain text when id < 0
    int32_t id = -1;        // a matched special token
  };
  void split_special(std::string_view text, bool parse_special, std::vector<Fragment>* out) const;

  // CONTROL/USER_DEFINED token ids by first byte of their text, longest text first.
  std::array<std::vector<int32_t>, 256> specials_by_byte_;
  bool has_user_defined_ = false;
  std::vector<int32_t> eog_ids_;  // sorted
  std::string empty_;
};

}  // namespace shuo::text

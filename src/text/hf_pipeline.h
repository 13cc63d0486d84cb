// The text stages of a Hugging Face tokenizer.json, run the way the `tokenizers` library runs
// them: normalizers (NFC …, Prepend, Replace) on each run of text between added tokens, then
// pre-tokenizers (Split by the model's own regex, ByteLevel, Metaspace …) that cut it into words
// for the BPE model, and on the way back decoders (Replace, ByteFallback, Fuse, Strip, ByteLevel,
// Metaspace) that turn token strings into text. Built once from an HfTokenizerSpec; const and
// thread-safe afterwards.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "text/byte_level.h"
#include "text/hf_tokenizer_spec.h"
#include "text/pcre_regex.h"

namespace shuo::text {

class HfNormalizerChain {
 public:
  static Result<HfNormalizerChain> create(const std::vector<HfNormalizer>& steps);
  // Normalizes one run of text in place. Invalid UTF-8 bytes pass through untouched (HF never
  // sees them: its input is a Rust string).
  void apply(std::string* text) const;
  bool empty() const { return steps_.empty(); }

 private:
  struct Step {
    HfNormalizer spec;
    std::vector<PcreRegex> regex;  // one entry for a Replace with a regex pattern
  };
  std::vector<Step> steps_;
};

// A word for the BPE model, after every pre-tokenizer ran.
struct HfWord {
  std::string text;
  bool at_input_start = false;  // starts at offset 0 of the caller's input (Metaspace "first")
};

class HfPreTokenizerChain {
 public:
  static Result<HfPreTokenizerChain> create(const std::vector<HfPreTokenizer>& steps);
  // Cuts one normalized run of text into words, appended to *words. `at_input_start`: the run
  // begins the input (no added token before it).
  void split(std::string text, bool at_input_start, std::vector<HfWord>* words) const;
  // A ByteLevel step maps bytes to GPT-2's alphabet, so the model's vocab is byte-level.
  bool byte_level() const { return byte_level_; }

 private:
  struct Step {
    HfPreTokenizer spec;
    std::vector<PcreRegex> regex;  // Split / Digits / WhitespaceSplit, ByteLevel with use_regex
    HfSplitBehavior behavior = HfSplitBehavior::kIsolated;
    bool invert = false;
  };
  void run_split(const Step& step, std::vector<HfWord>* words) const;
  std::vector<Step> steps_;
  bool byte_level_ = false;
  ByteLevelAlphabet alphabet_;
};

class HfDecoderChain {
 public:
  static Result<HfDecoderChain> create(const std::vector<HfDecoder>& steps);
  // Token strings (vocab spelling) → text, as `tokenizers` decode() does. `from_start` false:
  // the tokens continue earlier text, so the rules that strip the one leading space a
  // tokenizer added at the start of the input (Strip start, Metaspace) do not apply.
  std::string decode(std::vector<std::string> tokens, bool from_start) const;
  // The raw bytes one token stands for, for streaming: the same steps without joining, without
  // the start-of-text rules and without replacing partial UTF-8 (a byte token stays one byte).
  std::string piece(const std::string& token) const;

 private:
  std::vector<HfDecoder> steps_;
  ByteLevelAlphabet alphabet_;
};

}  // namespace shuo::text

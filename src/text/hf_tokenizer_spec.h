// A Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) as plain data: what
// hf_tokenizer_json.cc reads, what the HF tokenizer (hf_tokenizer.cc) runs and what the GGUF
// metadata (hf_tokenizer_gguf.cc) is written from. Only the parts shuo implements are here; the
// parser rejects everything else with an error naming its JSON path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace shuo::text {

struct HfAddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;      // skipped by decode(skip_special); matched only with parse_special
  bool lstrip = false;       // absorbs the whitespace on its left when matched
  bool rstrip = false;       // absorbs the whitespace on its right
  bool single_word = false;  // matches only between non-word characters
  bool normalized = false;   // HF matches it in normalized text; shuo matches it in the input
};

// A string pattern (`{"String": ...}`) or a regex (`{"Regex": ...}`).
struct HfPattern {
  std::string text;
  bool regex = false;
};

enum class HfPrependScheme { kAlways, kFirst, kNever };

struct HfNormalizer {
  enum class Kind { kNfc, kNfd, kNfkc, kNfkd, kLowercase, kPrepend, kReplace, kStrip };
  Kind kind = Kind::kNfc;
  std::string prepend;  // kPrepend
  HfPattern pattern;    // kReplace
  std::string content;  // kReplace
  bool strip_left = false, strip_right = false;  // kStrip
};

enum class HfSplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct HfPreTokenizer {
  enum class Kind { kSplit, kByteLevel, kMetaspace, kDigits, kWhitespaceSplit };
  Kind kind = Kind::kSplit;
  HfPattern pattern;                                     // kSplit
  HfSplitBehavior behavior = HfSplitBehavior::kIsolated;  // kSplit
  bool invert = false;                                   // kSplit
  bool add_prefix_space = false;                         // kByteLevel
  bool use_regex = true;                                 // kByteLevel: GPT-2's regex split
  std::string replacement = "\xE2\x96\x81";              // kMetaspace ("▁")
  HfPrependScheme prepend_scheme = HfPrependScheme::kAlways;  // kMetaspace
  bool split = true;                                     // kMetaspace: split before each "▁"
  bool individual_digits = false;                        // kDigits
};

struct HfDecoder {
  enum class Kind { kReplace, kByteFallback, kFuse, kStrip, kByteLevel, kMetaspace };
  Kind kind = Kind::kFuse;
  HfPattern pattern;                                      // kReplace (string patterns only)
  std::string content;                                    // kReplace; kStrip: one character
  int32_t start = 0, stop = 0;                            // kStrip
  std::string replacement = "\xE2\x96\x81";               // kMetaspace
  HfPrependScheme prepend_scheme = HfPrependScheme::kAlways;  // kMetaspace
};

struct HfTokenizerSpec {
  // ---- model (BPE) ----
  std::vector<std::pair<std::string, int32_t>> vocab;     // model.vocab, file order
  std::vector<std::pair<std::string, std::string>> merges;  // model.merges, rank order
  bool ignore_merges = false;
  bool byte_fallback = false;
  bool fuse_unk = false;
  std::optional<std::string> unk_token;  // model.unk_token

  std::vector<HfAddedToken> added_tokens;
  std::vector<HfNormalizer> normalizers;       // flattened Sequence
  std::vector<HfPreTokenizer> pre_tokenizers;  // flattened Sequence
  std::vector<HfDecoder> decoders;             // flattened Sequence

  // SentencePiece add_dummy_prefix as spm_encode applies it (tokenizer.model only; tokenizer.json
  // has no such field): one space before the whole input, not before each run of text between
  // added tokens; remove_extra_whitespaces first drops leading, trailing and repeated spaces.
  bool spm_dummy_prefix = false;
  bool spm_remove_extra_whitespaces = false;

  // ---- post-processor: token texts around the sequence for add_special ----
  std::vector<std::string> prefix_tokens;  // TemplateProcessing `single` before $A
  std::vector<std::string> suffix_tokens;  // after $A

  // ---- tokenizer_config.json ----
  std::optional<std::string> bos_token, eos_token, unk_token_config, pad_token;
  std::optional<bool> add_bos_token, add_eos_token;
  // chat_template: a string is {"default", text}; a list keeps its names, in file order.
  std::vector<std::pair<std::string, std::string>> chat_templates;
};

}  // namespace shuo::text

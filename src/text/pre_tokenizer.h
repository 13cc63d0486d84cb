// Regex pre-tokenizers for byte-level BPE, chosen by GGUF `tokenizer.ggml.pre`. Text is cut into
// words before BPE merges run; merges never cross a word boundary.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "text/pcre_regex.h"

namespace shuo::text {

// A chain of PCRE2 regexes (UTF + Unicode properties, JIT-compiled when available), compiled once.
// Each regex refines the previous cut: inside every current piece, each match becomes a piece and
// so does each run of text between matches, so pieces never cross earlier boundaries and no byte is
// ever dropped. Regexes see one piece at a time (lookarounds and `$` stop at the piece's edges),
// as llama.cpp's pre-tokenizer does.
//
// Supported `pre` values:
//   "default", "gpt-2", "gpt2"       GPT-2's pattern ('s|'t|… ?\p{L}+| ?\p{N}+|…|\s+(?!\S)|\s+).
//                                    Note: llama.cpp's "default" for BPE adds punctuation and digit
//                                    splits; shuo treats "default" as plain GPT-2.
//   "llama-bpe", "llama3", "llama-v3" Llama 3 / tiktoken cl100k pattern (\p{N}{1,3}).
//   "qwen2"                          Llama 3's pattern with single digits (\p{N}).
//   "deepseek-llm"                   DeepSeek LLM's six-step chain (newlines, Latin/Greek/… letters,
//                                    ASCII/fullwidth punctuation, trailing spaces, CJK, digits).
//   "falcon"                         punctuation runs, then GPT-2, then digits in threes.
// Anything else is kUnsupported, naming the value.
//
// Thread-safe: split() is const and allocates its own match state.
// GPT-2's pattern, also what a Hugging Face ByteLevel pre-tokenizer with use_regex splits by.
extern const char* const kGpt2Pattern;

class PreTokenizer {
 public:
  static Result<PreTokenizer> create(std::string_view pre);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Appends the words of `text` to *words as views into `text`; their concatenation is `text`.
  // Invalid UTF-8 never reaches the regexes: each invalid byte becomes a word of its own.
  void split(std::string_view text, std::vector<std::string_view>* words) const;

  const std::string& name() const { return name_; }

 private:
  PreTokenizer() = default;
  std::string name_;
  std::vector<PcreRegex> chain_;
};

}  // namespace shuo::text

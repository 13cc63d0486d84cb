// One compiled PCRE2 pattern (UTF + Unicode properties, JIT when available) and a loop that finds
// every non-overlapping match in a piece of text. Shared by the GGUF pre-tokenizers
// (pre_tokenizer.cc) and the Hugging Face tokenizer.json pipeline (Split pre-tokenizer, Replace
// normalizer), which both cut text by regexes.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace shuo::text {

class PcreRegex {
 public:
  // `literal`: the pattern is plain text (HF `{"String": ...}` patterns). Errors name `where`.
  static Result<PcreRegex> compile(std::string_view pattern, bool literal, const std::string& where);

  PcreRegex(PcreRegex&&) noexcept;
  PcreRegex& operator=(PcreRegex&&) noexcept;
  ~PcreRegex();

  // Reusable match state; one per thread (find_all is const, the state is the caller's).
  class MatchData {
   public:
    MatchData();
    ~MatchData();
    MatchData(const MatchData&) = delete;
    MatchData& operator=(const MatchData&) = delete;

   private:
    friend class PcreRegex;
    void* md_;
  };

  // Appends the [begin, end) byte ranges of the non-empty, non-overlapping matches in `piece`
  // (which must be valid UTF-8), left to right. Empty matches are stepped over one character at
  // a time. The regex sees only `piece`: lookarounds and `$` stop at its edges.
  void find_all(std::string_view piece, MatchData* md,
                std::vector<std::pair<size_t, size_t>>* out) const;

 private:
  PcreRegex() = default;
  struct Code;
  std::unique_ptr<Code> code_;
};

}  // namespace shuo::text

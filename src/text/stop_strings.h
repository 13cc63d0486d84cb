// Stop strings over streamed text: finds a stop string even when it straddles pieces, and holds
// back only text that could still turn out to be the start of one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace shuo::text {

inline constexpr size_t kMaxStopStrings = 4;  // OpenAI's limit

// Each stop string non-empty and valid UTF-8, at most kMaxStopStrings; errors name "stop".
Result<void> validate_stop_strings(const std::vector<std::string>& stops);

struct StopPush {
  std::string emit;      // text that can be sent now
  bool stopped = false;  // a stop string was found; emit holds the text before it
};

// One per sequence. Which stop wins: the one that is completed first while reading the text
// left to right (smallest end offset); at equal ends, the longest (earliest start). This
// depends only on the text, never on how it was split into pieces, and matches a model that
// stops as soon as a stop string appears. Everything from the winner's start on is dropped.
// Pieces should be whole UTF-8 characters (StreamDecoder output); with valid stop strings the
// held-back part then always starts on a character boundary.
class StopStringMatcher {
 public:
  // Stop strings must pass validate_stop_strings(); none at all is allowed (pass-through).
  static Result<StopStringMatcher> create(std::vector<std::string> stops);

  // After `stopped`, every later call returns {"", true}.
  StopPush push(std::string_view text);

  // End of stream: returns the held-back text ("" once stopped) and empties the matcher.
  std::string flush();

  bool stopped() const { return stopped_; }
  size_t held_bytes() const { return held_.size(); }

 private:
  // One stop string with its Knuth-Morris-Pratt failure table; `matched` is the length of the
  // longest suffix of the text so far that is a prefix of `text`.
  struct Pattern {
    std::string text;
    std::vector<uint32_t> fail;  // fail[j]: longest proper border of text[0, j + 1)
    uint32_t matched = 0;
  };
  explicit StopStringMatcher(std::vector<Pattern> patterns) : patterns_(std::move(patterns)) {}

  std::vector<Pattern> patterns_;
  std::string held_;  // text not emitted yet; its length is max(matched) between calls
  bool stopped_ = false;
};

}  // namespace shuo::text

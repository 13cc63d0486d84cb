// Stop strings checked on token ids rather than on streamed text: whether the text of a token
// sequence has just reached a stop string. Beam search asks this for every candidate of every
// step, so only the tail that the newest token can complete is decoded.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace shuo::text {

class TokenStopCheck {
 public:
  // A token's raw bytes, as StreamDecoder's PieceFn gives them ("" for special tokens).
  using PieceFn = std::function<std::string(int32_t token)>;

  // `stops` as validate_stop_strings() accepts them (non-empty, valid UTF-8; none is fine).
  // strip_leading_space: the text drops its first byte if it is a space (StreamDecoder's rule).
  TokenStopCheck(PieceFn piece, std::vector<std::string> stops, bool strip_leading_space);

  // True when a stop string ends inside the bytes of the last token of `tokens` (the generated
  // text so far, newest last). Matches that end earlier are not looked for: the caller asked
  // when those tokens were added. Matching is on bytes, which for valid UTF-8 stop strings
  // finds what the streamed text shows.
  bool operator()(std::span<const int32_t> tokens) const;

 private:
  PieceFn piece_;
  std::vector<std::string> stops_;
  size_t longest_ = 0;
  bool strip_leading_space_;
};

}  // namespace shuo::text

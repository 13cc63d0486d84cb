// TokenStopCheck (see token_stop.h).
#include "text/token_stop.h"

#include <algorithm>

namespace shuo::text {

TokenStopCheck::TokenStopCheck(PieceFn piece, std::vector<std::string> stops, bool strip_leading_space)
    : piece_(std::move(piece)), stops_(std::move(stops)), strip_leading_space_(strip_leading_space) {
  for (const auto& s : stops_) longest_ = std::max(longest_, s.size());
}

bool TokenStopCheck::operator()(std::span<const int32_t> tokens) const {
  if (stops_.empty() || tokens.empty()) return false;
  const std::string last = piece_(tokens.back());
  if (last.empty()) return false;
  // Enough earlier bytes that a stop string ending in `last` fits entirely.
  std::string tail = last;
  size_t i = tokens.size() - 1;
  while (i > 0 && tail.size() < last.size() + longest_) {
    --i;
    tail.insert(0, piece_(tokens[i]));
  }
  size_t new_from = tail.size() - last.size();  // first byte of the newest token
  if (i == 0 && strip_leading_space_ && !tail.empty() && tail[0] == ' ') {
    tail.erase(0, 1);
    new_from = new_from > 0 ? new_from - 1 : 0;
  }
  for (const auto& s : stops_) {
    // A match ending at or after new_from + 1 starts at or after new_from + 1 - size.
    const size_t from = new_from + 1 > s.size() ? new_from + 1 - s.size() : 0;
    if (tail.find(s, from) != std::string::npos) return true;
  }
  return false;
}

}  // namespace shuo::text

// Every occurrence of `from` in `s` replaced by `to`, left to right without overlap (the
// SentencePiece ▁ ↔ space mapping, tokenizer.json Replace steps). An empty `from` changes nothing.
#pragma once

#include <string>
#include <string_view>

namespace shuo::text {

inline std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0;;) {
    const size_t j = s.find(from, i);
    if (j == std::string_view::npos) {
      out.append(s.substr(i));
      return out;
    }
    out.append(s.substr(i, j - i));
    out.append(to);
    i = j + from.size();
  }
}

}  // namespace shuo::text

// UTF-8 classification, after the well-formed byte sequence table of Unicode §3.9 (table 3-7).
#include "text/utf8.h"

#include <cstdint>

namespace shuo::text {
namespace {

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Total length of a character led by `lead`, and the allowed range of its second byte (the
// second byte is where overlongs, surrogates and > U+10FFFF are excluded). 0 = not a lead byte.
struct LeadInfo {
  int length;
  uint8_t second_lo, second_hi;
};

LeadInfo lead_info(uint8_t lead) {
  if (lead < 0x80) return {1, 0, 0};
  if (lead < 0xC2) return {0, 0, 0};  // continuation byte, or C0/C1 (always overlong)
  if (lead < 0xE0) return {2, 0x80, 0xBF};
  if (lead == 0xE0) return {3, 0xA0, 0xBF};  // below A0 would be overlong
  if (lead == 0xED) return {3, 0x80, 0x9F};  // above 9F would be a surrogate
  if (lead < 0xF0) return {3, 0x80, 0xBF};
  if (lead == 0xF0) return {4, 0x90, 0xBF};  // below 90 would be overlong
  if (lead < 0xF4) return {4, 0x80, 0xBF};
  if (lead == 0xF4) return {4, 0x80, 0x8F};  // above 8F would exceed U+10FFFF
  return {0, 0, 0};                          // F5-FF never appear
}

}  // namespace

Utf8Char utf8_char_at(std::string_view s, size_t i) {
  const auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const LeadInfo info = lead_info(at(i));
  if (info.length == 0) return {Utf8Char::kInvalid, 1};
  for (int k = 1; k < info.length; ++k) {
    if (i + k >= s.size()) return {Utf8Char::kIncomplete, k};
    const uint8_t b = at(i + k);
    const bool ok = k == 1 ? (b >= info.second_lo && b <= info.second_hi) : is_continuation(b);
    if (!ok) return {Utf8Char::kInvalid, 1};
  }
  return {Utf8Char::kValid, info.length};
}

size_t utf8_valid_prefix_len(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const Utf8Char c = utf8_char_at(s, i);
    if (c.kind != Utf8Char::kValid) break;
    i += c.length;
  }
  return i;
}

bool is_valid_utf8(std::string_view s) { return utf8_valid_prefix_len(s) == s.size(); }

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool in_bad_run = false;
  size_t i = 0;
  while (i < s.size()) {
    const Utf8Char c = utf8_char_at(s, i);
    if (c.kind == Utf8Char::kValid) {
      out.append(s.substr(i, c.length));
      in_bad_run = false;
      i += c.length;
    } else {
      // A truncated character at the end is as invalid as any other bad byte: nothing follows.
      if (!in_bad_run) out.append(kReplacementChar);
      in_bad_run = true;
      i += c.kind == Utf8Char::kIncomplete ? c.length : 1;
    }
  }
  return out;
}

size_t utf8_incomplete_tail_len(std::string_view s) {
  // A character is at most 4 bytes, so only a lead byte among the last 3 can be unfinished.
  // Lead bytes are never continuation bytes, so the nearest one is where the attempt starts.
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    const size_t i = s.size() - back;
    if (is_continuation(static_cast<uint8_t>(s[i]))) continue;
    const Utf8Char c = utf8_char_at(s, i);
    return c.kind == Utf8Char::kIncomplete ? back : 0;
  }
  return 0;
}

}  // namespace shuo::text

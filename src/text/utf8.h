// UTF-8 validation helpers for streaming text: what is valid, what is still incomplete, and how
// invalid bytes are shown. Validity follows RFC 3629: no overlongs, no surrogates, <= U+10FFFF.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace shuo::text {

// "\xEF\xBF\xBD", U+FFFD REPLACEMENT CHARACTER.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// What starts at s[i] (i < s.size()):
//   kValid      a complete, valid character of `length` bytes (1-4);
//   kIncomplete s ends after `length` bytes that are a valid start of a longer character;
//   kInvalid    s[i] cannot start a valid character here (`length` is 1: skip one byte).
struct Utf8Char {
  enum Kind { kValid, kIncomplete, kInvalid };
  Kind kind;
  int length;
};
Utf8Char utf8_char_at(std::string_view s, size_t i);

// Length in bytes of the longest prefix of s that is valid UTF-8 (ends on a character boundary).
size_t utf8_valid_prefix_len(std::string_view s);

bool is_valid_utf8(std::string_view s);

// Copy of s with each maximal run of bytes that belong to no valid character (including a
// truncated character at the end) replaced by one U+FFFD.
std::string sanitize_utf8(std::string_view s);

// Length (0-3) of the trailing bytes of s that start a character but do not finish it yet, i.e.
// the bytes a streaming decoder should hold back. 0 if s ends on a boundary or in invalid bytes.
size_t utf8_incomplete_tail_len(std::string_view s);

}  // namespace shuo::text

// UTF-8 helpers for the tokenizers and GPT-2's byte-level alphabet: every byte 0..255 is given a
// printable code point so that byte-level BPE vocabularies can store arbitrary bytes as text.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace shuo::text {

// Length of the UTF-8 sequence starting at s[i]: 1..4 for a well-formed sequence, 1 for a byte
// that does not start one (stray continuation byte, truncated or overlong sequence, surrogate).
// Tokenizers use this to cut text into characters without ever losing a byte.
size_t utf8_char_len(std::string_view s, size_t i);

// Appends code point `cp` (< 0x110000) as UTF-8.
void append_utf8(std::string* out, uint32_t cp);

// GPT-2 byte ↔ unicode table. Bytes '!'..'~', '¡'..'¬', '®'..'ÿ' map to themselves; the other 68
// bytes map, in byte order, to U+0100.. (so ' ' is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A).
class ByteLevelAlphabet {
 public:
  ByteLevelAlphabet();
  // The UTF-8 encoding of byte b's code point (1 or 2 bytes).
  std::string_view encode_byte(uint8_t b) const { return {enc_[b].data(), enc_len_[b]}; }
  // Appends the byte-level encoding of raw bytes `s`.
  void encode(std::string_view s, std::string* out) const;
  // Decodes byte-level text back to raw bytes. A character outside the alphabet (vocab entries
  // that were never byte-encoded, e.g. added tokens) is copied through unchanged.
  std::string decode(std::string_view s) const;

 private:
  std::array<std::array<char, 2>, 256> enc_{};
  std::array<uint8_t, 256> enc_len_{};
  std::array<int16_t, 324> dec_{};  // code point (< 324) → byte, -1 when not in the alphabet
};

}  // namespace shuo::text

// UTF-8 cutting and the GPT-2 byte-level alphabet; see byte_level.h.
#include "text/byte_level.h"

namespace shuo::text {

size_t utf8_char_len(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  size_t n;
  uint32_t min_cp;
  if (b0 < 0x80) return 1;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2;
    min_cp = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3;
    min_cp = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4;
    min_cp = 0x10000;
  } else {
    return 1;
  }
  if (i + n > s.size()) return 1;
  uint32_t cp = b0 & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 1;
  return n;
}

void append_utf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

ByteLevelAlphabet::ByteLevelAlphabet() {
  dec_.fill(-1);
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : next++;
    std::string s;
    append_utf8(&s, cp);
    enc_len_[b] = static_cast<uint8_t>(s.size());
    for (size_t k = 0; k < s.size(); ++k) enc_[b][k] = s[k];
    dec_[cp] = static_cast<int16_t>(b);
  }
}

void ByteLevelAlphabet::encode(std::string_view s, std::string* out) const {
  for (char c : s) out->append(encode_byte(static_cast<uint8_t>(c)));
}

std::string ByteLevelAlphabet::decode(std::string_view s) const {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_char_len(s, i);
    uint32_t cp = 0x110000;
    if (n == 1) {
      cp = static_cast<uint8_t>(s[i]);
      if (cp >= 0x80) cp = 0x110000;  // a stray byte is not an alphabet character
    } else if (n == 2) {
      cp = ((static_cast<uint8_t>(s[i]) & 0x1F) << 6) | (static_cast<uint8_t>(s[i + 1]) & 0x3F);
    }
    if (cp < dec_.size() && dec_[cp] >= 0) {
      out.push_back(static_cast<char>(dec_[cp]));
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace shuo::text

// Python str algorithms on UTF-8 text (see jinja_pystr.h).
#include "text/jinja_pystr.h"

#include <algorithm>

namespace shuo::text::jinja {

size_t utf8_decode(std::string_view s, size_t i, uint32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  uint32_t v = 0;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, v = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, v = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, v = b0 & 0x07;
  } else {
    *cp = b0;
    return 1;
  }
  if (i + len > s.size()) {
    *cp = b0;
    return 1;
  }
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      *cp = b0;
      return 1;
    }
    v = (v << 6) | (b & 0x3F);
  }
  // Overlongs, surrogates and values past U+10FFFF are invalid: one byte each.
  if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
      (v >= 0xD800 && v <= 0xDFFF)) {
    *cp = b0;
    return 1;
  }
  *cp = v;
  return len;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool py_isspace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t py_len(std::string_view s) {
  size_t n = 0;
  uint32_t cp;
  for (size_t i = 0; i < s.size(); i += utf8_decode(s, i, &cp)) ++n;
  return n;
}

std::vector<size_t> cp_offsets(std::string_view s) {
  std::vector<size_t> offs;
  offs.reserve(s.size() + 1);
  uint32_t cp;
  for (size_t i = 0; i < s.size(); i += utf8_decode(s, i, &cp)) offs.push_back(i);
  offs.push_back(s.size());
  return offs;
}

namespace {

std::vector<uint32_t> decode_all(std::string_view s) {
  std::vector<uint32_t> cps;
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    i += utf8_decode(s, i, &cp);
    cps.push_back(cp);
  }
  return cps;
}

}  // namespace

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                     bool right) {
  std::vector<uint32_t> set;
  if (chars) set = decode_all(*chars);
  auto strip_it = [&](uint32_t cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end() : py_isspace(cp);
  };
  const auto offs = cp_offsets(s);
  size_t b = 0, e = offs.size() - 1;  // code point range [b, e)
  uint32_t cp;
  if (left)
    while (b < e && (utf8_decode(s, offs[b], &cp), strip_it(cp))) ++b;
  if (right)
    while (e > b && (utf8_decode(s, offs[e - 1], &cp), strip_it(cp))) --e;
  return std::string(s.substr(offs[b], offs[e] - offs[b]));
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep,
                                  int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    size_t start = 0;
    while (maxsplit < 0 || int64_t(parts.size()) < maxsplit) {
      const size_t p = s.find(*sep, start);
      if (p == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, p - start));
      start = p + sep->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  size_t i = 0;
  uint32_t cp;
  while (true) {
    while (i < s.size()) {  // skip a whitespace run
      const size_t n = utf8_decode(s, i, &cp);
      if (!py_isspace(cp)) break;
      i += n;
    }
    if (i >= s.size()) break;
    if (maxsplit >= 0 && int64_t(parts.size()) >= maxsplit) {
      parts.emplace_back(s.substr(i));  // the rest as it is
      break;
    }
    const size_t start = i;
    while (i < s.size()) {
      const size_t n = utf8_decode(s, i, &cp);
      if (py_isspace(cp)) break;
      i += n;
    }
    parts.emplace_back(s.substr(start, i - start));
  }
  return parts;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep,
                                   int64_t maxsplit) {
  if (maxsplit < 0) return py_split(s, sep, maxsplit);
  std::vector<std::string> parts;
  if (sep) {
    size_t end = s.size();
    while (int64_t(parts.size()) < maxsplit && end >= sep->size()) {
      const size_t p = s.rfind(*sep, end - sep->size());
      if (p == std::string_view::npos) break;
      parts.emplace_back(s.substr(p + sep->size(), end - p - sep->size()));
      end = p;
    }
    parts.emplace_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
  }
  const auto offs = cp_offsets(s);
  size_t e = offs.size() - 1;  // code point index
  uint32_t cp;
  auto space_at = [&](size_t k) { return utf8_decode(s, offs[k], &cp), py_isspace(cp); };
  while (true) {
    while (e > 0 && space_at(e - 1)) --e;
    if (e == 0) break;
    if (int64_t(parts.size()) >= maxsplit) {
      parts.emplace_back(s.substr(0, offs[e]));
      break;
    }
    size_t b = e;
    while (b > 0 && !space_at(b - 1)) --b;
    parts.emplace_back(s.substr(offs[b], offs[e] - offs[b]));
    e = b;
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> lines;
  size_t i = 0, start = 0;
  uint32_t cp;
  while (i < s.size()) {
    const size_t n = utf8_decode(s, i, &cp);
    const bool brk = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C ||
                     cp == 0x1D || cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!brk) {
      i += n;
      continue;
    }
    size_t end = i + n;
    if (cp == '\r' && end < s.size() && s[end] == '\n') ++end;
    lines.emplace_back(s.substr(start, (keepends ? end : i) - start));
    i = start = end;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

namespace {

// Simple one-to-one case pairs; 0 when the code point has no mapping.
uint32_t to_upper_cp(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return 0;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x131) return 'I';
    if (c == 0x17F) return 'S';
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 0) ? c - 1 : 0;
    if (c == 0x130 || c == 0x138 || c == 0x149 || c == 0x178) return 0;
    return (c % 2 == 1) ? c - 1 : 0;
  }
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c == 0x3C2) return 0x3A3;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return 0;
}

uint32_t to_lower_cp(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return 0;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130) return 'i';
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 1) ? c + 1 : 0;
    if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return 0;
    return (c % 2 == 0) ? c + 1 : 0;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return 0;
}

bool is_cased(uint32_t c) { return to_upper_cp(c) || to_lower_cp(c) || c == 0xDF; }

void append_upper(std::string& out, uint32_t c) {
  if (c == 0xDF) {  // ß -> SS, as Python does
    out += "SS";
    return;
  }
  const uint32_t u = to_upper_cp(c);
  utf8_append(out, u ? u : c);
}

void append_lower(std::string& out, uint32_t c) {
  const uint32_t l = to_lower_cp(c);
  utf8_append(out, l ? l : c);
}

// Keeps invalid bytes as they were instead of re-encoding them.
template <typename F>
std::string map_cps(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_decode(s, i, &cp);
    if (n == 1 && cp >= 0x80) {
      out += s[i];
    } else {
      f(out, cp);
    }
    i += n;
  }
  return out;
}

}  // namespace

bool py_is_alpha_cp(uint32_t cp) { return is_cased(cp); }

std::string py_upper(std::string_view s) {
  return map_cps(s, [](std::string& o, uint32_t c) { append_upper(o, c); });
}

std::string py_lower(std::string_view s) {
  return map_cps(s, [](std::string& o, uint32_t c) { append_lower(o, c); });
}

std::string py_capitalize(std::string_view s) {
  bool first = true;
  return map_cps(s, [&](std::string& o, uint32_t c) {
    if (first) {
      append_upper(o, c);
    } else {
      append_lower(o, c);
    }
    first = false;
  });
}

std::string py_title(std::string_view s) {
  bool prev_cased = false;
  return map_cps(s, [&](std::string& o, uint32_t c) {
    if (prev_cased) {
      append_lower(o, c);
    } else {
      append_upper(o, c);
    }
    prev_cased = is_cased(c);
  });
}

std::string py_swapcase(std::string_view s) {
  return map_cps(s, [](std::string& o, uint32_t c) {
    if (to_lower_cp(c)) {
      append_lower(o, c);
    } else {
      append_upper(o, c);
    }
  });
}

int64_t py_find(std::string_view s, std::string_view sub, bool reverse) {
  const size_t p = reverse ? s.rfind(sub) : s.find(sub);
  if (p == std::string_view::npos) return -1;
  return int64_t(py_len(s.substr(0, p)));
}

int64_t py_count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return int64_t(py_len(s)) + 1;
  int64_t n = 0;
  for (size_t p = s.find(sub); p != std::string_view::npos; p = s.find(sub, p + sub.size())) ++n;
  return n;
}

std::optional<std::string> py_replace(std::string_view s, std::string_view old,
                                      std::string_view repl, int64_t count, size_t max_bytes) {
  std::string out;
  int64_t done = 0;
  auto room = [&] { return out.size() <= max_bytes; };
  if (old.empty()) {  // inserts repl before every character and at the end
    const auto offs = cp_offsets(s);
    for (size_t k = 0; k + 1 < offs.size(); ++k) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      out.append(s.substr(offs[k], offs[k + 1] - offs[k]));
      if (!room()) return std::nullopt;
    }
    if (count < 0 || done < count) out += repl;
    if (!room()) return std::nullopt;
    return out;
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    const size_t p = s.find(old, start);
    if (p == std::string_view::npos) break;
    out.append(s.substr(start, p - start));
    out.append(repl);
    if (!room()) return std::nullopt;
    start = p + old.size();
    ++done;
  }
  out.append(s.substr(start));
  if (!room()) return std::nullopt;
  return out;
}

}  // namespace shuo::text::jinja

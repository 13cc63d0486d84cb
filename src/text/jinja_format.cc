// Python string formatting for templates: `fmt % args` (printf-style) and str.format() with the
// format-spec mini-language ([[fill]align][sign][#][0][width][,][.precision][type]).
#include <cmath>
#include <cstdio>

#include "text/jinja_builtins.h"
#include "text/jinja_pystr.h"

namespace shuo::text::jinja {

namespace {

// Widths and precisions are capped well below any output limit so snprintf stays small.
constexpr int64_t kMaxWidth = 1 << 16;

std::string cprintf(const std::string& spec, double d) {
  const int n = std::snprintf(nullptr, 0, spec.c_str(), d);
  std::string out(size_t(std::max(n, 0)), '\0');
  std::snprintf(out.data(), out.size() + 1, spec.c_str(), d);
  return out;
}

std::string cprintf_int(const std::string& spec, long long v) {
  const int n = std::snprintf(nullptr, 0, spec.c_str(), v);
  std::string out(size_t(std::max(n, 0)), '\0');
  std::snprintf(out.data(), out.size() + 1, spec.c_str(), v);
  return out;
}

std::string to_base(uint64_t v, int base, bool upper) {
  if (v == 0) return "0";
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string s;
  while (v) {
    s.insert(s.begin(), digits[v % uint64_t(base)]);
    v /= uint64_t(base);
  }
  return s;
}

// Pads `body` (code points) to width; align '<', '>', '^' or '=' (after the sign/prefix, whose
// length in bytes is prefix_len).
std::string align_text(const std::string& body, int64_t width, const std::string& fill, char align,
                       size_t prefix_len) {
  const int64_t len = int64_t(py_len(body));
  if (width <= len) return body;
  const int64_t total = width - len;
  auto fills = [&](int64_t n) {
    std::string s;
    for (int64_t i = 0; i < n; ++i) s += fill;
    return s;
  };
  switch (align) {
    case '<': return body + fills(total);
    case '^': return fills(total / 2) + body + fills(total - total / 2);
    case '=': return body.substr(0, prefix_len) + fills(total) + body.substr(prefix_len);
    default: return fills(total) + body;
  }
}

std::string group_thousands(const std::string& digits, char sep) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i && (n - i) % 3 == 0) out += sep;
    out += digits[i];
  }
  return out;
}

// ---- str.format ----

struct Spec {
  std::string fill = " ";
  char align = 0;
  char sign = '-';
  bool alt = false;
  int64_t width = -1;
  char grouping = 0;
  int64_t precision = -1;
  char type = 0;
};

Result<Spec> parse_spec(std::string_view s) {
  Spec sp;
  size_t i = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (!s.empty()) {
    uint32_t cp;
    const size_t n = utf8_decode(s, 0, &cp);
    if (n < s.size() && is_align(s[n])) {
      sp.fill = std::string(s.substr(0, n));
      sp.align = s[n];
      i = n + 1;
    } else if (is_align(s[0])) {
      sp.align = s[0];
      i = 1;
    }
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) sp.sign = s[i++];
  if (i < s.size() && s[i] == '#') sp.alt = true, ++i;
  if (i < s.size() && s[i] == '0') {
    if (!sp.align) sp.fill = "0", sp.align = '=';
    ++i;
  }
  auto number = [&](int64_t* out) {
    *out = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') *out = std::min(*out * 10 + (s[i++] - '0'), kMaxWidth + 1);
  };
  if (i < s.size() && s[i] >= '0' && s[i] <= '9') number(&sp.width);
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) sp.grouping = s[i++];
  if (i < s.size() && s[i] == '.') {
    ++i;
    number(&sp.precision);
  }
  if (i < s.size()) sp.type = s[i++];
  if (i != s.size() || sp.width > kMaxWidth || sp.precision > kMaxWidth)
    return template_error("Invalid format specifier '" + std::string(s) + "'");
  return sp;
}

Result<std::string> format_number(const Value& v, const Spec& sp) {
  char type = sp.type;
  std::string sign, prefix, body;
  if (v.is_int_like() && std::string_view("eEfFgG%").find(type ? type : 'd') == std::string_view::npos) {
    const int64_t x = v.as_int();
    const uint64_t mag = x < 0 ? uint64_t(0) - uint64_t(x) : uint64_t(x);
    if (x < 0) sign = "-";
    switch (type) {
      case 0:
      case 'd':
      case 'n': body = std::to_string(mag); break;
      case 'b': body = to_base(mag, 2, false), prefix = sp.alt ? "0b" : ""; break;
      case 'o': body = to_base(mag, 8, false), prefix = sp.alt ? "0o" : ""; break;
      case 'x': body = to_base(mag, 16, false), prefix = sp.alt ? "0x" : ""; break;
      case 'X': body = to_base(mag, 16, true), prefix = sp.alt ? "0X" : ""; break;
      case 'c': {
        std::string c;
        utf8_append(c, uint32_t(x));
        return c;
      }
      default: return template_error(std::string("Unknown format code '") + type + "' for object of type 'int'");
    }
    if (sp.grouping) body = group_thousands(body, sp.grouping);
  } else {
    double d = v.as_float();
    if (std::signbit(d) && !std::isnan(d)) sign = "-", d = -d;
    const int64_t prec = sp.precision;
    if (type == 0 && prec < 0) {
      body = format_float(d);
    } else {
      char t = type ? type : 'g';
      std::string suffix;
      if (t == '%') d *= 100, t = 'f', suffix = "%";
      const int64_t p = prec < 0 ? 6 : prec;
      if (std::string_view("eEfFgG").find(t) == std::string_view::npos)
        return template_error(std::string("Unknown format code '") + t + "' for object of type 'float'");
      body = cprintf(std::string("%") + (sp.alt ? "#" : "") + "." + std::to_string(p) + t, d) + suffix;
      // Python's default type keeps one decimal digit where 'g' would print an integer.
      if (type == 0 && std::isfinite(d) && body.find_first_of(".en") == std::string::npos) body += ".0";
    }
    if (sp.grouping) {
      const size_t end = body.find_first_not_of("0123456789");
      body = group_thousands(body.substr(0, end), sp.grouping) +
             (end == std::string::npos ? "" : body.substr(end));
    }
  }
  if (sign.empty() && sp.sign == '+') sign = "+";
  if (sign.empty() && sp.sign == ' ') sign = " ";
  const std::string head = sign + prefix;
  return align_text(head + body, sp.width, sp.fill, sp.align ? sp.align : '>', head.size());
}

Result<std::string> format_value(const Value& v, std::string_view spec_text, size_t max) {
  SHUO_ASSIGN(Spec sp, parse_spec(spec_text));
  if (v.is_number() && !(v.kind() == Kind::kBool && spec_text.empty())) {
    if (sp.type == 's') return template_error("Unknown format code 's' for a number");
    return format_number(v, sp);
  }
  if (sp.type && sp.type != 's')
    return template_error(std::string("Unknown format code '") + sp.type + "' for object of type '" +
                          type_name(v) + "'");
  SHUO_ASSIGN(std::string s, to_str(v, max));
  if (sp.precision >= 0) {
    const auto offs = cp_offsets(s);
    if (size_t(sp.precision) + 1 < offs.size()) s.resize(offs[size_t(sp.precision)]);
  }
  return align_text(s, sp.width, sp.fill, sp.align ? sp.align : '<', 0);
}

// ---- printf-style ----

Result<std::string> percent_one(char conv, const std::string& flags, int64_t width, int64_t prec,
                                const Value& v, size_t max, bool escape) {
  const bool left = flags.find('-') != std::string::npos;
  const std::string fill = " ";
  switch (conv) {
    case 's':
    case 'r':
    case 'a': {
      std::string s;
      if (conv == 's') {
        SHUO_ASSIGN(s, to_str(v, max));
      } else {
        SHUO_TRY(append_repr(v, s, max));
      }
      if (escape && !(conv == 's' && v.is_markup())) s = html_escape(s);
      if (prec >= 0) {
        const auto offs = cp_offsets(s);
        if (size_t(prec) + 1 < offs.size()) s.resize(offs[size_t(prec)]);
      }
      return align_text(s, width, fill, left ? '<' : '>', 0);
    }
    case 'c': {
      std::string s;
      if (v.is_int_like() && v.as_int() >= 0 && v.as_int() <= 0x10FFFF) {
        utf8_append(s, uint32_t(v.as_int()));
      } else if (v.is_string() && py_len(v.str()) == 1) {
        s = v.str();
      } else {
        return template_error("%c requires an int or a unicode character");
      }
      return align_text(s, width, fill, left ? '<' : '>', 0);
    }
    default: break;
  }
  if (!v.is_number())
    return template_error(std::string("%") + conv + " format: a real number is required, not " +
                          type_name(v));
  std::string spec = "%" + flags;
  if (width >= 0) spec += std::to_string(width);
  if (prec >= 0) spec += "." + std::to_string(prec);
  switch (conv) {
    case 'd':
    case 'i':
    case 'u': {
      const double d = v.as_float();
      if (!v.is_int_like() && !std::isfinite(d)) return template_error("cannot convert float to integer");
      const long long x = v.is_int_like() ? v.as_int() : (long long)std::trunc(d);
      return cprintf_int(spec + "lld", x);
    }
    case 'x':
    case 'X':
    case 'o': {
      if (!v.is_int_like())
        return template_error(std::string("%") + conv + " format: an integer is required, not " +
                              type_name(v));
      const int64_t x = v.as_int();
      std::string body = to_base(x < 0 ? uint64_t(0) - uint64_t(x) : uint64_t(x), conv == 'o' ? 8 : 16,
                                 conv == 'X');
      if (prec > int64_t(body.size())) body = std::string(size_t(prec - int64_t(body.size())), '0') + body;
      std::string head = x < 0 ? "-" : (flags.find('+') != std::string::npos
                                            ? "+"
                                            : (flags.find(' ') != std::string::npos ? " " : ""));
      if (flags.find('#') != std::string::npos) head += conv == 'o' ? "0o" : (conv == 'x' ? "0x" : "0X");
      const bool zero = flags.find('0') != std::string::npos && !left;
      return align_text(head + body, width, zero ? "0" : " ", left ? '<' : (zero ? '=' : '>'),
                        head.size());
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': return cprintf(spec + conv, v.as_float());
    default: return template_error(std::string("unsupported format character '") + conv + "'");
  }
}

}  // namespace

Result<std::string> percent_format(std::string_view fmt, const Value& args, size_t max,
                                   bool escape) {
  std::vector<Value> pos;
  const bool tuple = args.is_list() && args.list().is_tuple;
  if (tuple) {
    pos = args.list().items;
  } else {
    pos.push_back(args);
  }
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < fmt.size();) {
    if (fmt[i] != '%') {
      const size_t j = fmt.find('%', i);
      out.append(fmt.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
      if (j == std::string_view::npos) break;
      i = j;
      continue;
    }
    ++i;
    if (i >= fmt.size()) return template_error("incomplete format");
    if (fmt[i] == '%') {
      out += '%';
      ++i;
      continue;
    }
    std::optional<Value> mapped;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string_view::npos) return template_error("incomplete format key");
      if (!args.is_dict()) return template_error("format requires a mapping");
      const Value* v = args.dict().find(fmt.substr(i + 1, close - i - 1));
      if (!v) return template_error("KeyError: '" + std::string(fmt.substr(i + 1, close - i - 1)) + "'");
      mapped = *v;
      used_mapping = true;
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string_view("-+ #0").find(fmt[i]) != std::string_view::npos) flags += fmt[i++];
    auto take_arg = [&]() -> Result<Value> {
      if (next >= pos.size()) return template_error("not enough arguments for format string");
      return pos[next++];
    };
    auto number = [&](int64_t* out_n) -> Result<void> {
      if (i < fmt.size() && fmt[i] == '*') {
        ++i;
        SHUO_ASSIGN(Value w, take_arg());
        if (!w.is_int_like()) return template_error("* wants int");
        *out_n = w.as_int();
      } else {
        while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9')
          *out_n = std::max<int64_t>(*out_n, 0) * 10 + (fmt[i++] - '0'), *out_n = std::min(*out_n, kMaxWidth + 1);
      }
      if (*out_n > kMaxWidth) return limit_error("format width or precision too large");
      return {};
    };
    int64_t width = -1, prec = -1;
    SHUO_TRY(number(&width));
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      prec = 0;
      SHUO_TRY(number(&prec));
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) return template_error("incomplete format");
    const char conv = fmt[i++];
    Value v;
    if (mapped) {
      v = *mapped;
    } else {
      SHUO_ASSIGN(v, take_arg());
    }
    SHUO_ASSIGN(std::string piece, percent_one(conv, flags, width, prec, v, max, escape));
    out += piece;
    if (out.size() > max) return limit_error("formatted string past " + std::to_string(max) + " bytes");
  }
  if (next < pos.size() && !used_mapping && !(args.is_dict() && !tuple))
    return template_error("not all arguments converted during string formatting");
  return out;
}

Result<std::string> str_format(Runtime& rt, std::string_view fmt, const Args& args, bool escape) {
  const size_t max = rt.limits().max_output_bytes;
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size();) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      return template_error("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      i += 2;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string_view::npos) return template_error("Single '{' encountered in format string");
    std::string_view field = fmt.substr(i + 1, close - i - 1);
    i = close + 1;
    std::string_view spec, conv;
    if (size_t colon = field.find(':'); colon != std::string_view::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    if (size_t bang = field.find('!'); bang != std::string_view::npos) {
      conv = field.substr(bang + 1);
      field = field.substr(0, bang);
    }
    // The first part names the argument; `.attr` and `[key]` parts then look inside it.
    const size_t name_end = std::min(field.find('.'), field.find('['));
    const std::string_view name = field.substr(0, name_end);
    Value v;
    if (name.empty() || (name.find_first_not_of("0123456789") == std::string_view::npos)) {
      const size_t idx = name.empty() ? auto_index++ : size_t(std::stoull(std::string(name.substr(0, 9))));
      if (idx >= args.pos.size())
        return template_error("Replacement index " + std::to_string(idx) + " out of range for positional args tuple");
      v = args.pos[idx];
    } else {
      bool found = false;
      for (const auto& [k, kv] : args.kw)
        if (k == name) v = kv, found = true;
      if (!found) return template_error("KeyError: '" + std::string(name) + "'");
    }
    for (std::string_view rest = name_end == std::string_view::npos ? "" : field.substr(name_end); !rest.empty();) {
      if (rest[0] == '.') {
        const size_t e = std::min(rest.find('.', 1), rest.find('['));
        SHUO_ASSIGN(v, get_attr(v, rest.substr(1, e == std::string_view::npos ? std::string_view::npos : e - 1)));
        rest = e == std::string_view::npos ? "" : rest.substr(e);
      } else {
        const size_t e = rest.find(']');
        if (e == std::string_view::npos) return template_error("Missing ']' in format string");
        const std::string_view key = rest.substr(1, e - 1);
        const bool digits = !key.empty() && key.find_first_not_of("0123456789") == std::string_view::npos;
        SHUO_ASSIGN(v, get_item(rt, v, digits ? Value::integer(std::stoll(std::string(key.substr(0, 18))))
                                          : Value::string(std::string(key))));
        rest = rest.substr(e + 1);
      }
    }
    if (v.is_undefined()) return template_error(v.undefined_hint());
    if (conv == "r" || conv == "a") {
      std::string r;
      SHUO_TRY(append_repr(v, r, max));
      v = Value::string(std::move(r));
    } else if (conv == "s") {
      SHUO_ASSIGN(std::string s, to_str(v, max));
      v = Value::string(std::move(s));
    } else if (!conv.empty()) {
      return template_error("Unknown conversion specifier " + std::string(conv));
    }
    SHUO_ASSIGN(std::string piece, format_value(v, spec, max));
    if (escape && !v.is_markup()) piece = html_escape(piece);
    out += piece;
    if (out.size() > max) return limit_error("formatted string past " + std::to_string(max) + " bytes");
  }
  return out;
}

}  // namespace shuo::text::jinja

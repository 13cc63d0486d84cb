// Jinja2 lexer for chat templates (see jinja_lexer.h). Follows jinja2/lexer.py: the root state
// finds the next tag, the tag state reads expression tokens until the tag end (only while
// brackets are balanced), and whitespace control trims the neighbouring text.
#include "text/jinja_lexer.h"

#include <cerrno>
#include <cstdlib>

#include "text/jinja_pystr.h"

namespace shuo::text::jinja {

std::pair<int, int> line_col(std::string_view source, size_t pos) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < pos && i < source.size(); ++i)
    if (source[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  return {line, int(pos - line_start) + 1};
}

std::string location(std::string_view source, size_t pos) {
  auto [line, col] = line_col(source, pos);
  return "chat_template:" + std::to_string(line) + ":" + std::to_string(col);
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

class Lexer {
 public:
  Lexer(std::string source, const LexOptions& opt) : src_(std::move(source)), opt_(opt) {}

  Result<Lexed> run() {
    size_t pos = 0;
    bool line_starting = true;  // the text before the next tag starts a line
    while (pos < src_.size()) {
      const size_t p = find_tag(pos);
      if (p == std::string::npos) {
        add_text(src_.substr(pos), pos);
        break;
      }
      const char kind = src_[p + 1];
      size_t after = p + 2;
      char mod = 0;
      if (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) mod = src_[after++];
      add_text(strip_before(src_.substr(pos, p - pos), mod, kind != '{', line_starting), pos);

      if (kind == '#') {
        SHUO_ASSIGN(pos, comment(p, after));
      } else if (size_t raw_end = raw_begin_end(after); kind == '%' && raw_end) {
        SHUO_ASSIGN(pos, raw(p, raw_end));
      } else {
        SHUO_ASSIGN(pos, tag(kind, p, after));
      }
      // The tag end consumed a newline (trim_blocks or `-%}`): the next text starts a line.
      line_starting = src_[pos - 1] == '\n';
    }
    tokens_.push_back(Token{TokenType::kEof, "", 0, 0, src_.size()});
    return Lexed{std::move(src_), std::move(tokens_)};
  }

 private:
  Error fail(size_t pos, std::string msg) const {
    return Error{ErrorCode::kBadFile, location(src_, pos), std::move(msg)};
  }

  size_t find_tag(size_t from) const {
    for (size_t p = src_.find('{', from); p != std::string::npos; p = src_.find('{', p + 1))
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#'))
        return p;
    return std::string::npos;
  }

  void add_text(std::string text, size_t pos) {
    if (!text.empty()) tokens_.push_back(Token{TokenType::kText, std::move(text), 0, 0, pos});
  }

  // `{%-` strips all whitespace before the tag; lstrip_blocks strips spaces/tabs back to the
  // start of the line when nothing else is on it (and `{%+` turns that off).
  std::string strip_before(std::string text, char mod, bool is_block_or_comment,
                           bool line_starting) const {
    if (mod == '-') return py_strip(text, std::nullopt, false, true);
    if (mod == '+' || !opt_.lstrip_blocks || !is_block_or_comment) return text;
    const size_t nl = text.rfind('\n');
    const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    if (l_pos == 0 && !line_starting) return text;
    for (size_t i = l_pos; i < text.size(); ++i)
      if (text[i] != ' ' && text[i] != '\t') return text;
    text.resize(l_pos);
    return text;
  }

  size_t skip_space(size_t i) const {
    uint32_t cp;
    while (i < src_.size()) {
      const size_t n = utf8_decode(src_, i, &cp);
      if (!py_isspace(cp)) break;
      i += n;
    }
    return i;
  }

  bool starts(size_t i, std::string_view s) const {
    return src_.compare(i, s.size(), s) == 0;
  }

  // After a tag end at `i` (just past `%}`/`}}`/`#}`): `-` strips all whitespace, `+` nothing,
  // otherwise trim_blocks drops one newline (block and comment tags only).
  size_t after_close(size_t i, char close_mod, bool trim) const {
    if (close_mod == '-') return skip_space(i);
    if (close_mod != '+' && trim && opt_.trim_blocks && i < src_.size() && src_[i] == '\n')
      return i + 1;
    return i;
  }

  Result<size_t> comment(size_t p, size_t after) {
    // Jinja2 quietly drops a comment opener that ends the template.
    if (after >= src_.size()) return src_.size();
    const size_t k = src_.find("#}", after);
    if (k == std::string::npos) return fail(p, "Missing end of comment tag");
    char m = 0;
    if (k > after && (src_[k - 1] == '-' || src_[k - 1] == '+')) m = src_[k - 1];
    return after_close(k + 2, m, true);
  }

  // `{% raw %}` / `{%- raw -%}`: returns the offset past its `%}`, or 0 when the tag is not raw.
  size_t raw_begin_end(size_t after) const {
    size_t i = skip_space(after);
    if (!starts(i, "raw")) return 0;
    i = skip_space(i + 3);
    if (starts(i, "-%}")) return i + 3;
    if (starts(i, "%}")) return i + 2;
    return 0;
  }

  Result<size_t> raw(size_t p, size_t begin_end) {
    size_t content = begin_end;
    if (src_[begin_end - 3] == '-') content = skip_space(begin_end);
    const bool line_starting = src_[content - 1] == '\n';
    for (size_t k = src_.find("{%", content); k != std::string::npos; k = src_.find("{%", k + 1)) {
      size_t i = k + 2;
      char mod = 0;
      if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) mod = src_[i++];
      i = skip_space(i);
      if (!starts(i, "endraw")) continue;
      i = skip_space(i + 6);
      char close_mod = 0;
      if (starts(i, "-%}") || starts(i, "+%}")) close_mod = src_[i++];
      if (!starts(i, "%}")) continue;
      add_text(strip_before(src_.substr(content, k - content), mod, true, line_starting), content);
      return after_close(i + 2, close_mod, true);
    }
    return fail(p, "Missing end of raw directive");
  }

  // Expression tokens of one {{ }} or {% %} tag, then its end.
  Result<size_t> tag(char kind, size_t p, size_t i) {
    const bool block = kind == '%';
    tokens_.push_back(Token{block ? TokenType::kBlockBegin : TokenType::kVarBegin, "", 0, 0, p});
    std::string brackets;
    while (true) {
      if (i >= src_.size())
        return fail(p, std::string("unexpected end of template, expected '") +
                           (block ? "%}" : "}}") + "'");
      if (brackets.empty()) {
        const char* end = block ? "%}" : "}}";
        char close_mod = 0;
        size_t e = i;
        if (src_[i] == '-' || (block && src_[i] == '+')) close_mod = src_[e++];
        if (starts(e, end)) {
          tokens_.push_back(
              Token{block ? TokenType::kBlockEnd : TokenType::kVarEnd, "", 0, 0, i});
          return after_close(e + 2, close_mod, block);
        }
      }
      const char c = src_[i];
      uint32_t cp;
      const size_t n = utf8_decode(src_, i, &cp);
      if (py_isspace(cp)) {
        i += n;
      } else if (is_digit(c)) {
        SHUO_ASSIGN(i, number(i));
      } else if (is_name_start(c)) {
        size_t e = i;
        while (e < src_.size() && is_name_char(src_[e])) ++e;
        tokens_.push_back(Token{TokenType::kName, src_.substr(i, e - i), 0, 0, i});
        i = e;
      } else if (c == '\'' || c == '"') {
        SHUO_ASSIGN(i, string(i));
      } else {
        SHUO_ASSIGN(i, op(i, brackets));
      }
    }
  }

  Result<size_t> op(size_t i, std::string& brackets) {
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (auto t : kTwo)
      if (starts(i, t)) {
        tokens_.push_back(Token{TokenType::kOp, std::string(t), 0, 0, i});
        return i + 2;
      }
    const char c = src_[i];
    if (std::string_view("+-*/%~[](){}<>=.:|,;").find(c) == std::string_view::npos)
      return fail(i, std::string("unexpected char '") + c + "'");
    if (c == '(' || c == '[' || c == '{') {
      brackets += c;
    } else if (c == ')' || c == ']' || c == '}') {
      const char open = c == ')' ? '(' : (c == ']' ? '[' : '{');
      if (brackets.empty() || brackets.back() != open)
        return fail(i, std::string("unexpected '") + c + "'");
      brackets.pop_back();
    }
    tokens_.push_back(Token{TokenType::kOp, std::string(1, c), 0, 0, i});
    return i + 1;
  }

  // Digits with optional `_` separators; a float has a fraction and/or an exponent.
  size_t digits(size_t i) const {
    while (i < src_.size() && (is_digit(src_[i]) ||
                               (src_[i] == '_' && i + 1 < src_.size() && is_digit(src_[i + 1]))))
      ++i;
    return i;
  }

  Result<size_t> number(size_t i) {
    size_t e = digits(i);
    bool is_float = false;
    // As Jinja2's (?<!\.): `x.0.1` is x, ., 0, ., 1 — not a float after a dot.
    const bool after_dot = i > 0 && src_[i - 1] == '.';
    if (!after_dot && e + 1 < src_.size() && src_[e] == '.' && is_digit(src_[e + 1])) {
      e = digits(e + 1);
      is_float = true;
    }
    if (!after_dot && e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t x = e + 1;
      if (x < src_.size() && (src_[x] == '+' || src_[x] == '-')) ++x;
      if (x < src_.size() && is_digit(src_[x])) {
        e = digits(x);
        is_float = true;
      }
    }
    std::string text;
    for (size_t k = i; k < e; ++k)
      if (src_[k] != '_') text += src_[k];
    Token t{is_float ? TokenType::kFloat : TokenType::kInt, text, 0, 0, i};
    if (is_float) {
      t.fval = std::strtod(text.c_str(), nullptr);
    } else {
      if (text.size() > 1 && text[0] == '0' && text.find_first_not_of('0') != std::string::npos)
        return fail(i, "leading zeros in integer literals are not allowed");
      errno = 0;
      t.ival = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) return fail(i, "integer literal too large: " + text);
    }
    tokens_.push_back(std::move(t));
    return e;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // A quoted literal with Python escapes (\n \t \\ \' \xNN \uNNNN \UNNNNNNNN, octal);
  // unknown escapes keep their backslash, as Python does.
  Result<size_t> string(size_t start) {
    const char q = src_[start];
    std::string out;
    uint32_t pending_high = 0;  // a \uD8xx waiting for its low surrogate
    auto flush = [&] {
      if (pending_high) utf8_append(out, 0xFFFD);
      pending_high = 0;
    };
    auto put = [&](uint32_t cp) {
      if (pending_high) {
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
          utf8_append(out, 0x10000 + ((pending_high - 0xD800) << 10) + (cp - 0xDC00));
          pending_high = 0;
          return;
        }
        utf8_append(out, 0xFFFD);
        pending_high = 0;
      }
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        pending_high = cp;
      } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        utf8_append(out, 0xFFFD);
      } else {
        utf8_append(out, cp);
      }
    };
    size_t i = start + 1;
    while (true) {
      if (i >= src_.size()) return fail(start, "unterminated string literal");
      const char c = src_[i];
      if (c == q) break;
      if (c != '\\') {
        flush();
        uint32_t cp;
        const size_t n = utf8_decode(src_, i, &cp);
        out.append(src_, i, n);
        i += n;
        continue;
      }
      if (i + 1 >= src_.size()) return fail(start, "unterminated string literal");
      const char e = src_[i + 1];
      i += 2;
      switch (e) {
        case '\n': break;  // line continuation
        case '\\': put('\\'); break;
        case '\'': put('\''); break;
        case '"': put('"'); break;
        case 'a': put(7); break;
        case 'b': put(8); break;
        case 'f': put(12); break;
        case 'n': put('\n'); break;
        case 'r': put('\r'); break;
        case 't': put('\t'); break;
        case 'v': put(11); break;
        case 'x':
        case 'u':
        case 'U': {
          const int len = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          uint32_t v = 0;
          for (int k = 0; k < len; ++k, ++i) {
            const int h = i < src_.size() ? hex_value(src_[i]) : -1;
            if (h < 0) return fail(i, std::string("truncated \\") + e + " escape");
            v = v * 16 + uint32_t(h);
          }
          put(v);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = uint32_t(e - '0');
            for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k)
              v = v * 8 + uint32_t(src_[i++] - '0');
            put(v);
          } else {
            put('\\');
            i -= 1;  // the character after the backslash is kept as it is
          }
      }
    }
    flush();
    tokens_.push_back(Token{TokenType::kString, std::move(out), 0, 0, start});
    return i + 1;
  }

  std::string src_;
  LexOptions opt_;
  std::vector<Token> tokens_;
};

}  // namespace

Result<Lexed> lex(std::string_view source, const LexOptions& options) {
  std::string norm;
  norm.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      norm += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      norm += source[i];
    }
  }
  if (!options.keep_trailing_newline && !norm.empty() && norm.back() == '\n') norm.pop_back();
  return Lexer(std::move(norm), options).run();
}

}  // namespace shuo::text::jinja

// Shell-like word splitting without a shell (rules in argv_split.h).
#include "api/demo/process/argv_split.h"

namespace shuo::api::demo::process {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

Error split_error(std::string_view field, std::string message) {
  return Error{ErrorCode::kBadField, std::string(field), std::move(message)};
}

}  // namespace

Result<std::vector<std::string>> argv_split(std::string_view line, std::string_view field) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // a word has started (it may still be empty: "")
  const size_t n = line.size();
  for (size_t i = 0; i < n; ++i) {
    const char c = line[i];
    if (c == '\0') return split_error(field, "contains a NUL byte at position " + std::to_string(i));
    if (is_space(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    if (c == '\\') {
      if (i + 1 == n) return split_error(field, "ends with a backslash at position " + std::to_string(i) +
                                                    " (nothing left to escape)");
      const char next = line[++i];
      if (next == '\0') return split_error(field, "contains a NUL byte at position " + std::to_string(i));
      if (next == '\n') continue;  // continuation: joins the lines, the word goes on (or not)
      word += next;
      in_word = true;
      continue;
    }
    if (c == '\'') {
      const size_t open = i;
      const size_t close = line.find('\'', i + 1);
      if (close == std::string_view::npos)
        return split_error(field, "unterminated single quote opened at position " + std::to_string(open));
      const std::string_view body = line.substr(i + 1, close - i - 1);
      if (const size_t z = body.find('\0'); z != std::string_view::npos)
        return split_error(field, "contains a NUL byte at position " + std::to_string(i + 1 + z));
      word += body;
      in_word = true;
      i = close;
      continue;
    }
    if (c == '"') {
      const size_t open = i;
      bool closed = false;
      for (++i; i < n; ++i) {
        const char d = line[i];
        if (d == '\0') return split_error(field, "contains a NUL byte at position " + std::to_string(i));
        if (d == '"') {
          closed = true;
          break;
        }
        if (d == '\\' && i + 1 < n) {
          const char e = line[i + 1];
          if (e == '"' || e == '\\' || e == '$' || e == '`') {
            word += e;
            ++i;
            continue;
          }
          if (e == '\n') {
            ++i;
            continue;
          }
        }
        word += d;  // includes a backslash before any other character
      }
      if (!closed)
        return split_error(field, "unterminated double quote opened at position " + std::to_string(open));
      in_word = true;
      continue;
    }
    word += c;
    in_word = true;
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace shuo::api::demo::process

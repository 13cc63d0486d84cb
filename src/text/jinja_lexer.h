// Jinja2 lexer for chat templates: splits a template into text and tag tokens and applies
// whitespace control ({%- -%}, {{- -}}, trim_blocks, lstrip_blocks) exactly as Jinja2 3.1 does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace shuo::text::jinja {

enum class TokenType {
  kText,        // template text, already whitespace-trimmed
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,      // text: the decoded literal
  kInt,
  kFloat,
  kOp,          // text: + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { } ;
  kEof,
};

struct Token {
  TokenType type;
  std::string text;
  int64_t ival = 0;
  double fval = 0;
  size_t pos = 0;  // byte offset in the normalized source
};

struct LexOptions {
  bool trim_blocks = true;             // drop the first newline after a block or comment tag
  bool lstrip_blocks = true;           // drop spaces/tabs before a block or comment tag on its line
  bool keep_trailing_newline = false;  // Jinja2's default drops one trailing newline
};

struct Lexed {
  std::string source;  // newlines normalized to \n; token positions index this
  std::vector<Token> tokens;
};

// Errors are ErrorCode::kBadFile with where = "chat_template:LINE:COL".
Result<Lexed> lex(std::string_view source, const LexOptions& options = {});

// 1-based line and column (in bytes) of a byte offset.
std::pair<int, int> line_col(std::string_view source, size_t pos);
// "chat_template:LINE:COL"
std::string location(std::string_view source, size_t pos);

}  // namespace shuo::text::jinja

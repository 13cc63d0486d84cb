// Jinja2 parser for chat templates: tokens -> a syntax tree of statements and expressions with
// Jinja2's operator precedence. Nesting is bounded so that neither parsing nor evaluating can
// overflow the stack; errors name line and column.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "text/jinja_lexer.h"
#include "text/jinja_value.h"

namespace shuo::text::jinja {

// Expressions and statements nest at most this deep (parentheses, operator chains, blocks).
inline constexpr int kMaxSyntaxDepth = 100;

enum class ExprKind {
  kLiteral,  // value
  kName,     // name
  kAttr,     // kids[0].name
  kItem,     // kids[0][kids[1]]
  kSlice,    // kids[0][kids[1]:kids[2]:kids[3]], absent parts null
  kCall,     // kids[0](kids[1..], kwargs)
  kFilter,   // kids[0] | name(kids[1..], kwargs); kids[0] null in filter blocks
  kTest,     // kids[0] is [not] name(kids[1..], kwargs)
  kNeg,      // -kids[0]
  kPos,      // +kids[0]
  kNot,      // not kids[0]
  kBinary,   // kids[0] op kids[1]
  kAnd,      // kids[0] and kids[1]
  kOr,       // kids[0] or kids[1]
  kCompare,  // kids[0] cmp[0] kids[1] cmp[1] kids[2] ...
  kCond,     // kids[0] if kids[1] else kids[2] (kids[2] null: no else)
  kList,     // [kids...]
  kTuple,    // (kids...)
  kDict,     // {kids[0]: kids[1], ...}
};

enum class BinOp { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kConcat };
enum class CmpOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  size_t pos = 0;  // byte offset in the source, for errors
  int depth = 1;   // height of this subtree
  Value value;
  std::string name;
  BinOp op = BinOp::kAdd;
  bool negated = false;  // `is not`
  std::vector<CmpOp> cmp;
  std::vector<ExprPtr> kids;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

enum class StmtKind {
  kText,         // text
  kPrint,        // {{ expr }}
  kIf,           // branches; else_body
  kFor,          // for targets in expr [if cond] [recursive]: body [else: else_body]
  kSet,          // set targets = expr
  kSetAttr,      // set targets[0].text = expr
  kSetBlock,     // set targets[0] [| filter expr] %} body {% endset
  kMacro,        // macro text(params): body
  kCallBlock,    // call[(params)] expr: body
  kFilterBlock,  // filter expr: body
  kWith,         // with params: body
  kBreak,
  kContinue,
  kScope,        // {% generation %}: body, rendered as is
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Param {
  std::string name;
  ExprPtr value;  // default value (macro) or assigned value (with); may be null
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  size_t pos = 0;
  std::string text;
  std::vector<std::string> targets;
  bool unpack = false;  // targets written as a tuple: `k, v`
  ExprPtr expr;
  ExprPtr cond;
  std::vector<std::pair<ExprPtr, Body>> branches;
  std::vector<Param> params;
  bool recursive = false;
  Body body;
  Body else_body;
};

struct Template {
  std::string source;  // normalized, for error locations
  Body body;
};

// Parses a template with Jinja2's lexer options (trim_blocks, lstrip_blocks as in options).
// Unknown filters and tests are errors here, as in Jinja2. Errors: kBadFile,
// where = "chat_template:LINE:COL".
Result<std::shared_ptr<const Template>> parse_template(std::string_view source,
                                                       const LexOptions& options = {});

}  // namespace shuo::text::jinja

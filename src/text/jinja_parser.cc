// Jinja2 parser for chat templates (see jinja_parser.h). The expression grammar mirrors
// jinja2/parser.py: condexpr > or > and > not > compare > + - > ~ > * / // % > ** > unary >
// primary with postfix (. [] ()) and filters/tests.
#include "text/jinja_parser.h"

#include <initializer_list>

#include "text/jinja_builtins.h"

namespace shuo::text::jinja {

namespace {

class Parser {
 public:
  explicit Parser(const Lexed& lx) : lx_(lx) {}

  Result<Body> parse_all() {
    std::string which;
    return parse_body({}, &which);
  }

 private:
  // Counts parser recursion: hostile nesting fails cleanly instead of exhausting the stack.
  class Guard {
   public:
    explicit Guard(int* depth) : depth_(depth) { ++*depth_; }
    ~Guard() { --*depth_; }
    bool too_deep() const { return *depth_ > kMaxSyntaxDepth; }

   private:
    int* depth_;
  };

  const Token& cur() const { return lx_.tokens[i_]; }
  const Token& peek(size_t k) const {
    return lx_.tokens[std::min(i_ + k, lx_.tokens.size() - 1)];
  }
  void next() {
    if (i_ + 1 < lx_.tokens.size()) ++i_;
  }
  static bool is_op(const Token& t, std::string_view op) {
    return t.type == TokenType::kOp && t.text == op;
  }
  static bool is_name(const Token& t, std::string_view name) {
    return t.type == TokenType::kName && t.text == name;
  }

  Error fail(size_t pos, std::string msg) const {
    return Error{ErrorCode::kBadFile, location(lx_.source, pos), std::move(msg)};
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::kText: return "template text";
      case TokenType::kVarBegin: return "'{{'";
      case TokenType::kVarEnd: return "end of print statement";
      case TokenType::kBlockBegin: return "'{%'";
      case TokenType::kBlockEnd: return "end of statement block";
      case TokenType::kString: return "string";
      case TokenType::kInt: return "integer";
      case TokenType::kFloat: return "float";
      case TokenType::kEof: return "end of template";
      default: return "'" + t.text + "'";
    }
  }

  Error unexpected(const std::string& expected) const {
    return fail(cur().pos, "expected " + expected + ", got " + describe(cur()));
  }

  Result<void> expect_op(std::string_view op) {
    if (!is_op(cur(), op)) return unexpected("'" + std::string(op) + "'");
    next();
    return {};
  }

  Result<void> expect_block_end() {
    if (cur().type != TokenType::kBlockEnd) return unexpected("end of statement block");
    next();
    return {};
  }

  Result<std::string> expect_name() {
    if (cur().type != TokenType::kName) return unexpected("a name");
    std::string n = cur().text;
    next();
    return n;
  }

  // Gives n its height and rejects trees deeper than kMaxSyntaxDepth.
  Result<ExprPtr> finish(ExprPtr n) {
    int d = 0;
    for (const auto& k : n->kids)
      if (k) d = std::max(d, k->depth);
    for (const auto& kv : n->kwargs) d = std::max(d, kv.second->depth);
    n->depth = d + 1;
    if (n->depth > kMaxSyntaxDepth) return fail(n->pos, "expression nested too deeply");
    return n;
  }

  static ExprPtr node(ExprKind kind, size_t pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }

  // ---- statements ----

  // Statements up to `{% <one of ends>`; consumes that tag's name and reports it in *which.
  Result<Body> parse_body(std::initializer_list<std::string_view> ends, std::string* which) {
    Guard g(&depth_);
    if (g.too_deep()) return fail(cur().pos, "blocks nested too deeply");
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == TokenType::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kText;
        s->pos = t.pos;
        s->text = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.type == TokenType::kVarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kPrint;
        s->pos = t.pos;
        next();
        SHUO_ASSIGN(s->expr, parse_tuple(true, {}, false));
        if (cur().type != TokenType::kVarEnd) return unexpected("end of print statement");
        next();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::kBlockBegin) {
        const Token& name = peek(1);
        if (name.type != TokenType::kName) {
          next();
          return unexpected("a statement name");
        }
        for (auto e : ends)
          if (name.text == e) {
            *which = name.text;
            next();
            next();
            return body;
          }
        next();
        SHUO_ASSIGN(StmtPtr s, parse_statement());
        body.push_back(std::move(s));
      } else if (t.type == TokenType::kEof) {
        if (ends.size() == 0) return body;
        std::string want;
        for (auto e : ends) want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
        return fail(t.pos, "unexpected end of template, expected " + want);
      } else {
        return fail(t.pos, "unexpected " + describe(t));
      }
    }
  }

  Result<StmtPtr> parse_statement() {
    const Token& t = cur();  // the statement name
    auto s = std::make_unique<Stmt>();
    s->pos = t.pos;
    const std::string name = t.text;
    next();
    std::string which;
    if (name == "if") {
      s->kind = StmtKind::kIf;
      while (true) {
        SHUO_ASSIGN(ExprPtr c, parse_tuple(false, {}, false));
        SHUO_TRY(expect_block_end());
        SHUO_ASSIGN(Body b, parse_body({"elif", "else", "endif"}, &which));
        s->branches.emplace_back(std::move(c), std::move(b));
        if (which != "elif") break;
      }
      if (which == "else") {
        SHUO_TRY(expect_block_end());
        SHUO_ASSIGN(s->else_body, parse_body({"endif"}, &which));
      }
    } else if (name == "for") {
      s->kind = StmtKind::kFor;
      SHUO_TRY(parse_targets(s.get()));
      if (!is_name(cur(), "in")) return unexpected("'in'");
      next();
      SHUO_ASSIGN(s->expr, parse_tuple(false, {"recursive"}, false));
      if (is_name(cur(), "if")) {
        next();
        SHUO_ASSIGN(s->cond, parse_expression(true));
      }
      if (is_name(cur(), "recursive")) {
        s->recursive = true;
        next();
      }
      SHUO_TRY(expect_block_end());
      ++loop_depth_;
      auto body = parse_body({"endfor", "else"}, &which);
      --loop_depth_;
      if (!body.ok()) return body.error();
      s->body = std::move(body).value();
      if (which == "else") {
        SHUO_TRY(expect_block_end());
        SHUO_ASSIGN(s->else_body, parse_body({"endfor"}, &which));
      }
    } else if (name == "set") {
      if (cur().type == TokenType::kName && is_op(peek(1), ".")) {
        s->kind = StmtKind::kSetAttr;
        s->targets.push_back(cur().text);
        next();
        next();
        SHUO_ASSIGN(s->text, expect_name());
        SHUO_TRY(expect_op("="));
        SHUO_ASSIGN(s->expr, parse_tuple(true, {}, false));
      } else {
        SHUO_TRY(parse_targets(s.get()));
        if (is_op(cur(), "=")) {
          s->kind = StmtKind::kSet;
          next();
          SHUO_ASSIGN(s->expr, parse_tuple(true, {}, false));
        } else {
          s->kind = StmtKind::kSetBlock;
          if (s->unpack) return fail(s->pos, "a block set assigns one name");
          if (is_op(cur(), "|")) {
            next();
            SHUO_ASSIGN(s->expr, parse_filter(nullptr));
          }
          SHUO_TRY(expect_block_end());
          SHUO_ASSIGN(s->body, parse_body({"endset"}, &which));
        }
      }
    } else if (name == "macro") {
      s->kind = StmtKind::kMacro;
      SHUO_ASSIGN(s->text, expect_name());
      SHUO_TRY(parse_params(s.get()));
      SHUO_TRY(expect_block_end());
      SHUO_ASSIGN(s->body, parse_unlooped_body("endmacro"));
    } else if (name == "call") {
      s->kind = StmtKind::kCallBlock;
      if (is_op(cur(), "(")) SHUO_TRY(parse_params(s.get()));
      SHUO_ASSIGN(s->expr, parse_expression(true));
      if (s->expr->kind != ExprKind::kCall) return fail(s->expr->pos, "expected a call");
      SHUO_TRY(expect_block_end());
      SHUO_ASSIGN(s->body, parse_unlooped_body("endcall"));
    } else if (name == "filter") {
      s->kind = StmtKind::kFilterBlock;
      SHUO_ASSIGN(s->expr, parse_filter(nullptr));
      SHUO_TRY(expect_block_end());
      SHUO_ASSIGN(s->body, parse_body({"endfilter"}, &which));
    } else if (name == "with") {
      s->kind = StmtKind::kWith;
      while (cur().type != TokenType::kBlockEnd) {
        if (!s->params.empty()) SHUO_TRY(expect_op(","));
        Param p;
        SHUO_ASSIGN(p.name, expect_name());
        SHUO_TRY(expect_op("="));
        SHUO_ASSIGN(p.value, parse_expression(true));
        s->params.push_back(std::move(p));
      }
      SHUO_TRY(expect_block_end());
      SHUO_ASSIGN(s->body, parse_body({"endwith"}, &which));
    } else if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) return fail(s->pos, "'" + name + "' outside of a loop");
      s->kind = name == "break" ? StmtKind::kBreak : StmtKind::kContinue;
    } else if (name == "generation") {
      s->kind = StmtKind::kScope;
      SHUO_TRY(expect_block_end());
      SHUO_ASSIGN(s->body, parse_body({"endgeneration"}, &which));
    } else {
      return fail(s->pos, "Encountered unknown tag '" + name + "'.");
    }
    SHUO_TRY(expect_block_end());
    return s;
  }

  // Macro and call-block bodies: break/continue there cannot reach an enclosing loop.
  Result<Body> parse_unlooped_body(std::string_view end) {
    const int saved = loop_depth_;
    loop_depth_ = 0;
    std::string which;
    auto b = parse_body({end}, &which);
    loop_depth_ = saved;
    return b;
  }

  // `x`, `k, v` or `(k, v)`.
  Result<void> parse_targets(Stmt* s) {
    const bool paren = is_op(cur(), "(");
    if (paren) next();
    while (true) {
      SHUO_ASSIGN(std::string n, expect_name());
      s->targets.push_back(std::move(n));
      if (!is_op(cur(), ",")) break;
      s->unpack = true;
      next();
      if (cur().type != TokenType::kName) break;  // trailing comma
    }
    if (paren) {
      s->unpack = true;
      SHUO_TRY(expect_op(")"));
    }
    return {};
  }

  // `(a, b=default, ...)` of a macro or call block.
  Result<void> parse_params(Stmt* s) {
    SHUO_TRY(expect_op("("));
    while (!is_op(cur(), ")")) {
      if (!s->params.empty()) SHUO_TRY(expect_op(","));
      if (is_op(cur(), ")")) break;
      Param p;
      SHUO_ASSIGN(p.name, expect_name());
      if (is_op(cur(), "=")) {
        next();
        SHUO_ASSIGN(p.value, parse_expression(true));
      } else if (!s->params.empty() && s->params.back().value) {
        return fail(cur().pos, "non-default argument follows default argument");
      }
      s->params.push_back(std::move(p));
    }
    next();
    return {};
  }

  // ---- expressions ----

  bool is_tuple_end(std::initializer_list<std::string_view> extra) const {
    const Token& t = cur();
    if (t.type == TokenType::kVarEnd || t.type == TokenType::kBlockEnd || is_op(t, ")") ||
        t.type == TokenType::kEof)
      return true;
    for (auto e : extra)
      if (is_name(t, e)) return true;
    return false;
  }

  // Comma-separated expressions: one alone is itself, several make a tuple.
  Result<ExprPtr> parse_tuple(bool with_condexpr, std::initializer_list<std::string_view> extra,
                              bool explicit_parens) {
    const size_t pos = cur().pos;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) SHUO_TRY(expect_op(","));
      if (is_tuple_end(extra)) break;
      SHUO_ASSIGN(ExprPtr e, parse_expression(with_condexpr));
      items.push_back(std::move(e));
      if (!is_op(cur(), ",")) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) return unexpected("an expression");
    }
    auto t = node(ExprKind::kTuple, pos);
    t->kids = std::move(items);
    return finish(std::move(t));
  }

  Result<ExprPtr> parse_expression(bool with_condexpr) {
    Guard g(&depth_);
    if (g.too_deep()) return fail(cur().pos, "expression nested too deeply");
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  Result<ExprPtr> parse_condexpr() {
    SHUO_ASSIGN(ExprPtr e, parse_or());
    while (is_name(cur(), "if")) {
      auto c = node(ExprKind::kCond, cur().pos);
      next();
      SHUO_ASSIGN(ExprPtr test, parse_or());
      ExprPtr other;
      if (is_name(cur(), "else")) {
        next();
        SHUO_ASSIGN(other, parse_expression(true));
      }
      c->kids.push_back(std::move(e));
      c->kids.push_back(std::move(test));
      c->kids.push_back(std::move(other));
      SHUO_ASSIGN(e, finish(std::move(c)));
    }
    return e;
  }

  // `a or b or c` / `a and b`: one n-ary node, so long chains stay shallow.
  Result<ExprPtr> parse_logic(bool is_or) {
    const size_t pos = cur().pos;
    SHUO_ASSIGN(ExprPtr first, is_or ? parse_logic(false) : parse_not());
    if (!is_name(cur(), is_or ? "or" : "and")) return first;
    auto n = node(is_or ? ExprKind::kOr : ExprKind::kAnd, pos);
    n->kids.push_back(std::move(first));
    while (is_name(cur(), is_or ? "or" : "and")) {
      next();
      SHUO_ASSIGN(ExprPtr e, is_or ? parse_logic(false) : parse_not());
      n->kids.push_back(std::move(e));
    }
    return finish(std::move(n));
  }
  Result<ExprPtr> parse_or() { return parse_logic(true); }

  Result<ExprPtr> parse_not() {
    if (!is_name(cur(), "not")) return parse_compare();
    Guard g(&depth_);
    if (g.too_deep()) return fail(cur().pos, "expression nested too deeply");
    auto n = node(ExprKind::kNot, cur().pos);
    next();
    SHUO_ASSIGN(ExprPtr e, parse_not());
    n->kids.push_back(std::move(e));
    return finish(std::move(n));
  }

  Result<ExprPtr> parse_compare() {
    const size_t pos = cur().pos;
    SHUO_ASSIGN(ExprPtr first, parse_math1());
    std::vector<CmpOp> ops;
    std::vector<ExprPtr> rest;
    while (true) {
      const Token& t = cur();
      CmpOp op;
      if (is_op(t, "==")) op = CmpOp::kEq;
      else if (is_op(t, "!=")) op = CmpOp::kNe;
      else if (is_op(t, "<")) op = CmpOp::kLt;
      else if (is_op(t, "<=")) op = CmpOp::kLe;
      else if (is_op(t, ">")) op = CmpOp::kGt;
      else if (is_op(t, ">=")) op = CmpOp::kGe;
      else if (is_name(t, "in")) op = CmpOp::kIn;
      else if (is_name(t, "not") && is_name(peek(1), "in")) op = CmpOp::kNotIn, next();
      else break;
      next();
      SHUO_ASSIGN(ExprPtr e, parse_math1());
      ops.push_back(op);
      rest.push_back(std::move(e));
    }
    if (ops.empty()) return first;
    auto n = node(ExprKind::kCompare, pos);
    n->kids.push_back(std::move(first));
    for (auto& e : rest) n->kids.push_back(std::move(e));
    n->cmp = std::move(ops);
    return finish(std::move(n));
  }

  // One left-associative precedence level: `a + b - c` is ((a + b) - c).
  template <typename Next>
  Result<ExprPtr> parse_chain(std::initializer_list<std::pair<std::string_view, BinOp>> table,
                              Next next_level) {
    const size_t pos = cur().pos;
    SHUO_ASSIGN(ExprPtr left, next_level());
    while (true) {
      const BinOp* op = nullptr;
      for (const auto& [text, o] : table)
        if (is_op(cur(), text)) op = &o;
      if (!op) return left;
      const BinOp o = *op;
      next();
      SHUO_ASSIGN(ExprPtr right, next_level());
      auto n = node(ExprKind::kBinary, pos);
      n->op = o;
      n->kids.push_back(std::move(left));
      n->kids.push_back(std::move(right));
      SHUO_ASSIGN(left, finish(std::move(n)));
    }
  }

  Result<ExprPtr> parse_math1() {
    return parse_chain({{"+", BinOp::kAdd}, {"-", BinOp::kSub}}, [&] { return parse_concat(); });
  }
  Result<ExprPtr> parse_concat() {
    return parse_chain({{"~", BinOp::kConcat}}, [&] { return parse_math2(); });
  }
  Result<ExprPtr> parse_math2() {
    return parse_chain({{"*", BinOp::kMul},
                        {"/", BinOp::kDiv},
                        {"//", BinOp::kFloorDiv},
                        {"%", BinOp::kMod}},
                       [&] { return parse_pow(); });
  }
  Result<ExprPtr> parse_pow() {
    return parse_chain({{"**", BinOp::kPow}}, [&] { return parse_unary(true); });
  }

  Result<ExprPtr> parse_unary(bool with_filter) {
    Guard g(&depth_);
    if (g.too_deep()) return fail(cur().pos, "expression nested too deeply");
    ExprPtr n;
    if (is_op(cur(), "-") || is_op(cur(), "+")) {
      auto u = node(is_op(cur(), "-") ? ExprKind::kNeg : ExprKind::kPos, cur().pos);
      next();
      SHUO_ASSIGN(ExprPtr operand, parse_unary(false));
      u->kids.push_back(std::move(operand));
      SHUO_ASSIGN(n, finish(std::move(u)));
    } else {
      SHUO_ASSIGN(n, parse_primary());
    }
    SHUO_ASSIGN(n, parse_postfix(std::move(n)));
    if (with_filter) {
      SHUO_ASSIGN(n, parse_filter_expr(std::move(n)));
    }
    return n;
  }

  Result<ExprPtr> literal(Value v, size_t pos) {
    auto n = node(ExprKind::kLiteral, pos);
    n->value = std::move(v);
    return finish(std::move(n));
  }

  Result<ExprPtr> parse_primary() {
    const Token& t = cur();
    const size_t pos = t.pos;
    switch (t.type) {
      case TokenType::kName: {
        const std::string name = t.text;
        next();
        if (name == "true" || name == "True") return literal(Value::boolean(true), pos);
        if (name == "false" || name == "False") return literal(Value::boolean(false), pos);
        if (name == "none" || name == "None") return literal(Value::none(), pos);
        auto n = node(ExprKind::kName, pos);
        n->name = name;
        return finish(std::move(n));
      }
      case TokenType::kString: {
        std::string s;
        while (cur().type == TokenType::kString) {  // adjacent literals concatenate
          s += cur().text;
          next();
        }
        return literal(Value::string(std::move(s)), pos);
      }
      case TokenType::kInt: {
        const int64_t v = t.ival;
        next();
        return literal(Value::integer(v), pos);
      }
      case TokenType::kFloat: {
        const double v = t.fval;
        next();
        return literal(Value::number(v), pos);
      }
      default: break;
    }
    if (is_op(t, "(")) {
      next();
      SHUO_ASSIGN(ExprPtr e, parse_tuple(true, {}, true));
      SHUO_TRY(expect_op(")"));
      return e;
    }
    if (is_op(t, "[") || is_op(t, "{")) {
      const bool is_list = is_op(t, "[");
      auto n = node(is_list ? ExprKind::kList : ExprKind::kDict, pos);
      next();
      const std::string_view close = is_list ? "]" : "}";
      while (!is_op(cur(), close)) {
        if (!n->kids.empty()) {
          SHUO_TRY(expect_op(","));
          if (is_op(cur(), close)) break;
        }
        SHUO_ASSIGN(ExprPtr item, parse_expression(true));
        n->kids.push_back(std::move(item));
        if (!is_list) {
          SHUO_TRY(expect_op(":"));
          SHUO_ASSIGN(ExprPtr value, parse_expression(true));
          n->kids.push_back(std::move(value));
        }
      }
      next();
      return finish(std::move(n));
    }
    return fail(pos, "unexpected " + describe(t));
  }

  Result<ExprPtr> parse_postfix(ExprPtr n) {
    while (true) {
      if (is_op(cur(), ".") || is_op(cur(), "[")) {
        SHUO_ASSIGN(n, parse_subscript(std::move(n)));
      } else if (is_op(cur(), "(")) {
        SHUO_ASSIGN(n, parse_call(std::move(n)));
      } else {
        return n;
      }
    }
  }

  Result<ExprPtr> parse_filter_expr(ExprPtr n) {
    while (true) {
      if (is_op(cur(), "|")) {
        next();
        SHUO_ASSIGN(n, parse_filter(std::move(n)));
      } else if (is_name(cur(), "is")) {
        next();
        SHUO_ASSIGN(n, parse_test(std::move(n)));
      } else if (is_op(cur(), "(")) {
        SHUO_ASSIGN(n, parse_call(std::move(n)));
      } else {
        return n;
      }
    }
  }

  Result<ExprPtr> parse_subscript(ExprPtr obj) {
    const size_t pos = cur().pos;
    if (is_op(cur(), ".")) {
      next();
      if (cur().type == TokenType::kName) {
        auto n = node(ExprKind::kAttr, pos);
        n->name = cur().text;
        next();
        n->kids.push_back(std::move(obj));
        return finish(std::move(n));
      }
      if (cur().type != TokenType::kInt) return unexpected("a name or number");
      auto n = node(ExprKind::kItem, pos);
      n->kids.push_back(std::move(obj));
      SHUO_ASSIGN(ExprPtr idx, literal(Value::integer(cur().ival), cur().pos));
      next();
      n->kids.push_back(std::move(idx));
      return finish(std::move(n));
    }
    next();  // [
    std::vector<ExprPtr> parts;  // one index, or a slice's three parts
    bool is_slice = false;
    auto part = [&]() -> Result<ExprPtr> {
      if (is_op(cur(), ":") || is_op(cur(), "]")) return ExprPtr();
      return parse_expression(true);
    };
    SHUO_ASSIGN(ExprPtr start, part());
    if (is_op(cur(), ":")) {
      is_slice = true;
      next();
      SHUO_ASSIGN(ExprPtr stop, part());
      ExprPtr step;
      if (is_op(cur(), ":")) {
        next();
        SHUO_ASSIGN(step, part());
      }
      parts.push_back(std::move(start));
      parts.push_back(std::move(stop));
      parts.push_back(std::move(step));
    } else {
      if (!start) return unexpected("an index");
      if (is_op(cur(), ",")) {  // x[a, b] indexes with a tuple
        auto t = node(ExprKind::kTuple, start->pos);
        t->kids.push_back(std::move(start));
        while (is_op(cur(), ",")) {
          next();
          if (is_op(cur(), "]")) break;
          SHUO_ASSIGN(ExprPtr e, parse_expression(true));
          t->kids.push_back(std::move(e));
        }
        SHUO_ASSIGN(start, finish(std::move(t)));
      }
      parts.push_back(std::move(start));
    }
    SHUO_TRY(expect_op("]"));
    auto n = node(is_slice ? ExprKind::kSlice : ExprKind::kItem, pos);
    n->kids.push_back(std::move(obj));
    for (auto& p : parts) n->kids.push_back(std::move(p));
    return finish(std::move(n));
  }

  // `(a, b, k=v)` appended to n's kids / kwargs.
  Result<void> parse_args(Expr* n) {
    SHUO_TRY(expect_op("("));
    bool first = true;
    while (!is_op(cur(), ")")) {
      if (!first) {
        SHUO_TRY(expect_op(","));
        if (is_op(cur(), ")")) break;
      }
      first = false;
      if (is_op(cur(), "*") || is_op(cur(), "**"))
        return fail(cur().pos, "*args and **kwargs in calls are not supported");
      if (cur().type == TokenType::kName && is_op(peek(1), "=")) {
        std::string key = cur().text;
        next();
        next();
        SHUO_ASSIGN(ExprPtr v, parse_expression(true));
        n->kwargs.emplace_back(std::move(key), std::move(v));
      } else {
        if (!n->kwargs.empty()) return fail(cur().pos, "positional argument follows keyword argument");
        SHUO_ASSIGN(ExprPtr v, parse_expression(true));
        n->kids.push_back(std::move(v));
      }
    }
    next();
    return {};
  }

  Result<ExprPtr> parse_call(ExprPtr callee) {
    auto n = node(ExprKind::kCall, cur().pos);
    n->kids.push_back(std::move(callee));
    SHUO_TRY(parse_args(n.get()));
    return finish(std::move(n));
  }

  Result<std::string> dotted_name() {
    SHUO_ASSIGN(std::string name, expect_name());
    while (is_op(cur(), ".")) {
      next();
      SHUO_ASSIGN(std::string part, expect_name());
      name += "." + part;
    }
    return name;
  }

  // After `|`: name[(args)], then further `| name` in filter blocks (input null).
  Result<ExprPtr> parse_filter(ExprPtr input) {
    const bool block = input == nullptr;
    ExprPtr n = std::move(input);
    while (true) {
      const size_t pos = cur().pos;
      SHUO_ASSIGN(std::string name, dotted_name());
      if (!is_known_filter(name)) return fail(pos, "No filter named '" + name + "'.");
      auto f = node(ExprKind::kFilter, pos);
      f->name = std::move(name);
      f->kids.push_back(std::move(n));
      if (is_op(cur(), "(")) SHUO_TRY(parse_args(f.get()));
      SHUO_ASSIGN(n, finish(std::move(f)));
      if (!block || !is_op(cur(), "|")) return n;
      next();
    }
  }

  Result<ExprPtr> parse_test(ExprPtr input) {
    auto n = node(ExprKind::kTest, cur().pos);
    if (is_name(cur(), "not")) {
      n->negated = true;
      next();
    }
    const size_t pos = cur().pos;
    SHUO_ASSIGN(n->name, dotted_name());
    if (!is_known_test(n->name)) return fail(pos, "No test named '" + n->name + "'.");
    n->kids.push_back(std::move(input));
    const Token& t = cur();
    if (is_op(t, "(")) {
      SHUO_TRY(parse_args(n.get()));
    } else if ((t.type == TokenType::kName || t.type == TokenType::kString ||
                t.type == TokenType::kInt || t.type == TokenType::kFloat || is_op(t, "[") ||
                is_op(t, "{")) &&
               !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and")) {
      if (is_name(t, "is")) return fail(t.pos, "You cannot chain multiple tests with is");
      SHUO_ASSIGN(ExprPtr arg, parse_primary());
      SHUO_ASSIGN(arg, parse_postfix(std::move(arg)));
      n->kids.push_back(std::move(arg));
    }
    return finish(std::move(n));
  }

  const Lexed& lx_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Result<std::shared_ptr<const Template>> parse_template(std::string_view source,
                                                       const LexOptions& options) {
  SHUO_ASSIGN(Lexed lx, lex(source, options));
  Parser p(lx);
  SHUO_ASSIGN(Body body, p.parse_all());
  auto t = std::make_shared<Template>();
  t->source = std::move(lx.source);
  t->body = std::move(body);
  return std::shared_ptr<const Template>(std::move(t));
}

}  // namespace shuo::text::jinja

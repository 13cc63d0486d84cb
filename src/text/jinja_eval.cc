// Evaluator for parsed chat templates (see jinja_eval.h): a tree walk over statements and
// expressions that spends a work budget, so every render ends — with text or with an Error.
#include "text/jinja_eval.h"

#include "text/jinja_builtins.h"

namespace shuo::text::jinja {

struct Scope {
  std::vector<std::pair<std::string, Value>> vars;
  std::shared_ptr<Scope> parent;

  const Value* find(std::string_view name) const {
    for (const auto& [k, v] : vars)
      if (k == name) return &v;
    return nullptr;
  }
  void set(const std::string& name, Value v) {
    for (auto& [k, old] : vars)
      if (k == name) {
        old = std::move(v);
        return;
      }
    vars.emplace_back(name, std::move(v));
  }
};

// A {% macro %} or a call block's body (as caller()), with the scope it was defined in.
struct Macro {
  const Stmt* def = nullptr;
  std::shared_ptr<Scope> closure;
};

namespace {

using ScopePtr = std::shared_ptr<Scope>;

enum class Flow { kNormal, kBreak, kContinue };

// Statement and expression recursion together; far above what real templates use, far below
// what the stack holds.
constexpr int kMaxNesting = 400;

ScopePtr child_scope(const ScopePtr& parent) {
  auto s = std::make_shared<Scope>();
  s->parent = parent;
  return s;
}

class Interp final : public Runtime {
 public:
  Interp(const Template& t, const Vars& vars, const Limits& lim) : t_(t), vars_(vars), lim_(lim) {}

  Result<std::string> run() {
    auto top = std::make_shared<Scope>();
    std::string out;
    SHUO_TRY(exec_body(t_.body, top, out));
    return out;
  }

  const Limits& limits() const override { return lim_; }

  uint64_t steps_left() const override {
    return steps_ >= lim_.max_steps ? 0 : lim_.max_steps - steps_;
  }

  Result<void> charge(uint64_t steps) override {
    steps_ += steps;
    if (steps_ > lim_.max_steps)
      return limit_error("template used more than " + std::to_string(lim_.max_steps) +
                         " steps of work");
    return {};
  }

  NamespaceObj* new_namespace() override {
    namespaces_.push_back(std::make_unique<NamespaceObj>());
    return namespaces_.back().get();
  }

  Result<Value> call(const Value& callee, const Args& args) override {
    switch (callee.kind()) {
      case Kind::kCallable: {
        const CallableObj& c = callee.callable();
        switch (c.type) {
          case CallableType::kGlobal: return call_global(*this, c.name, args);
          case CallableType::kMethod:
          case CallableType::kLoopMethod: return call_method(*this, c.self, c.name, args);
          case CallableType::kMacro: return call_macro(*c.macro, args, std::nullopt);
          case CallableType::kLoopRecurse: break;
        }
        break;
      }
      case Kind::kLoop: {
        LoopObj& l = callee.loop();
        if (!l.stmt || !l.stmt->recursive)
          return template_error("the loop must be declared 'recursive' to call loop()");
        if (args.pos.size() != 1 || !args.kw.empty())
          return template_error("loop() takes exactly one iterable");
        auto scope = l.scope.lock();
        if (!scope) return template_error("loop() called after its loop ended");
        SHUO_ASSIGN(CallDepth d, enter_call());
        std::string out;
        SHUO_TRY(run_for(*l.stmt, args.pos[0], scope, out, l.depth0 + 1));
        return Value::string(std::move(out));
      }
      case Kind::kUndefined: {
        const std::string& hint = callee.undefined_hint();
        return template_error(hint.empty() ? "undefined value is not callable" : hint);
      }
      default: break;
    }
    return template_error("'" + type_name(callee) + "' object is not callable");
  }

 private:
  // RAII counters for recursion.
  class Nest {
   public:
    explicit Nest(int* n) : n_(n) { ++*n_; }
    ~Nest() { --*n_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    int* n_;
  };
  class CallDepth {
   public:
    explicit CallDepth(int* n) : n_(n) { ++*n_; }
    CallDepth(CallDepth&& o) noexcept : n_(o.n_) { o.n_ = nullptr; }
    CallDepth& operator=(CallDepth&&) = delete;
    ~CallDepth() {
      if (n_) --*n_;
    }

   private:
    int* n_;
  };

  Result<CallDepth> enter_call() {
    if (call_depth_ >= lim_.max_call_depth)
      return limit_error("macro calls nested deeper than " + std::to_string(lim_.max_call_depth));
    return CallDepth(&call_depth_);
  }

  Error locate(Error e, size_t pos) const {
    if (e.where.empty()) e.where = location(t_.source, pos);
    return e;
  }

  Result<void> emit(std::string& out, std::string_view text) {
    out.append(text);
    if (out.size() > lim_.max_output_bytes)
      return limit_error("output grew past " + std::to_string(lim_.max_output_bytes) + " bytes");
    return charge(text.size() / kBytesPerStep);
  }

  // ---- statements ----

  Result<Flow> exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const auto& s : body) {
      SHUO_ASSIGN(Flow f, exec(*s, scope, out));
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  Result<Flow> exec(const Stmt& s, const ScopePtr& scope, std::string& out) {
    Nest n(&nesting_);
    auto r = exec_inner(s, scope, out);
    if (!r.ok()) return locate(r.error(), s.pos);
    return r;
  }

  Result<Flow> exec_inner(const Stmt& s, const ScopePtr& scope, std::string& out) {
    if (nesting_ > kMaxNesting) return limit_error("template nests too deeply");
    SHUO_TRY(charge(1));
    switch (s.kind) {
      case StmtKind::kText: SHUO_TRY(emit(out, s.text)); break;
      case StmtKind::kPrint: {
        SHUO_ASSIGN(Value v, eval(*s.expr, scope));
        const size_t before = out.size();
        SHUO_TRY(append_str(v, out, lim_.max_output_bytes));
        SHUO_TRY(charge((out.size() - before) / kBytesPerStep));
        break;
      }
      case StmtKind::kIf:
        for (const auto& [cond, body] : s.branches) {
          SHUO_ASSIGN(Value c, eval(*cond, scope));
          if (truthy(c)) return exec_body(body, scope, out);
        }
        return exec_body(s.else_body, scope, out);
      case StmtKind::kFor: {
        SHUO_ASSIGN(Value it, eval(*s.expr, scope));
        return run_for(s, it, scope, out, 0);
      }
      case StmtKind::kSet: {
        SHUO_ASSIGN(Value v, eval(*s.expr, scope));
        SHUO_TRY(assign(s, v, *scope));
        break;
      }
      case StmtKind::kSetAttr: {
        const Value target = lookup(s.targets[0], scope);
        if (target.kind() != Kind::kNamespace)
          return template_error("cannot assign attribute on non-namespace object");
        SHUO_ASSIGN(Value v, eval(*s.expr, scope));
        target.ns()->set(s.text, std::move(v));
        break;
      }
      case StmtKind::kSetBlock: {
        std::string buf;
        SHUO_TRY(exec_body(s.body, scope, buf));
        Value v = Value::string(std::move(buf));
        if (s.expr) {
          SHUO_ASSIGN(v, apply_chain(*s.expr, v, scope));
        }
        scope->set(s.targets[0], std::move(v));
        break;
      }
      case StmtKind::kMacro: scope->set(s.text, make_macro(s, scope, s.text)); break;
      case StmtKind::kCallBlock: {
        const Expr& call_expr = *s.expr;
        SHUO_ASSIGN(Value callee, eval(*call_expr.kids[0], scope));
        SHUO_ASSIGN(Args args, eval_args(call_expr, scope));
        if (callee.kind() != Kind::kCallable || callee.callable().type != CallableType::kMacro)
          return template_error("a call block must call a macro");
        SHUO_ASSIGN(Value v,
                    call_macro(*callee.callable().macro, args, make_macro(s, scope, "caller")));
        SHUO_TRY(emit(out, v.str()));
        break;
      }
      case StmtKind::kFilterBlock: {
        std::string buf;
        SHUO_TRY(exec_body(s.body, scope, buf));
        SHUO_ASSIGN(Value v, apply_chain(*s.expr, Value::string(std::move(buf)), scope));
        const size_t before = out.size();
        SHUO_TRY(append_str(v, out, lim_.max_output_bytes));
        SHUO_TRY(charge((out.size() - before) / kBytesPerStep));
        break;
      }
      case StmtKind::kWith: {
        auto inner = child_scope(scope);
        for (const auto& p : s.params) {
          SHUO_ASSIGN(Value v, eval(*p.value, scope));
          inner->set(p.name, std::move(v));
        }
        return exec_body(s.body, inner, out);
      }
      case StmtKind::kBreak: return Flow::kBreak;
      case StmtKind::kContinue: return Flow::kContinue;
      case StmtKind::kScope: return exec_body(s.body, scope, out);
    }
    return Flow::kNormal;
  }

  Result<void> bind_targets(const Stmt& s, const Value& item, Scope& scope) {
    if (!s.unpack) {
      scope.set(s.targets[0], item);
      return {};
    }
    SHUO_ASSIGN(std::vector<Value> parts, iterate(*this, item));
    const size_t want = s.targets.size();
    if (parts.size() < want)
      return template_error("not enough values to unpack (expected " + std::to_string(want) +
                            ", got " + std::to_string(parts.size()) + ")");
    if (parts.size() > want)
      return template_error("too many values to unpack (expected " + std::to_string(want) + ")");
    for (size_t i = 0; i < want; ++i) scope.set(s.targets[i], parts[i]);
    return {};
  }

  Result<void> assign(const Stmt& s, const Value& v, Scope& scope) {
    return bind_targets(s, v, scope);
  }

  Result<void> count_iteration() {
    if (++iterations_ > lim_.max_loop_iterations)
      return limit_error("loops ran more than " + std::to_string(lim_.max_loop_iterations) +
                         " iterations");
    return charge(1);
  }

  Result<Flow> run_for(const Stmt& s, const Value& iterable, const ScopePtr& scope,
                       std::string& out, int depth0) {
    SHUO_ASSIGN(std::vector<Value> items, iterate(*this, iterable));
    if (s.cond) {  // `for x in xs if cond`: filtered first, so loop.length counts kept items
      std::vector<Value> kept;
      for (auto& item : items) {
        SHUO_TRY(count_iteration());
        auto fs = child_scope(scope);
        SHUO_TRY(bind_targets(s, item, *fs));
        SHUO_ASSIGN(Value c, eval(*s.cond, fs));
        if (truthy(c)) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec_body(s.else_body, child_scope(scope), out);
    auto list = std::make_shared<ListObj>();
    list->items = std::move(items);
    auto loop = std::make_shared<LoopObj>();
    loop->items = list;
    loop->depth0 = depth0;
    loop->stmt = &s;
    loop->scope = scope;
    const Value loop_value = Value::loop(loop);
    for (size_t i = 0; i < list->items.size(); ++i) {
      SHUO_TRY(count_iteration());
      loop->index0 = i;
      auto is = child_scope(scope);
      SHUO_TRY(bind_targets(s, list->items[i], *is));
      is->set("loop", loop_value);
      SHUO_ASSIGN(Flow f, exec_body(s.body, is, out));
      if (f == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  Value make_macro(const Stmt& def, const ScopePtr& scope, const std::string& name) {
    macros_.push_back(std::make_unique<Macro>(Macro{&def, scope}));
    auto c = std::make_shared<CallableObj>();
    c->type = CallableType::kMacro;
    c->name = name;
    c->macro = macros_.back().get();
    return Value::callable(std::move(c));
  }

  Result<Value> call_macro(const Macro& m, const Args& args, std::optional<Value> caller) {
    SHUO_ASSIGN(CallDepth d, enter_call());
    SHUO_TRY(charge(1));
    auto sc = child_scope(m.closure);
    const auto& params = m.def->params;
    std::vector<bool> used_kw(args.kw.size(), false);
    for (size_t i = 0; i < params.size(); ++i) {
      const Param& p = params[i];
      std::optional<Value> v;
      if (i < args.pos.size()) v = args.pos[i];
      for (size_t k = 0; k < args.kw.size(); ++k)
        if (args.kw[k].first == p.name) {
          if (v) return template_error("macro got multiple values for argument '" + p.name + "'");
          v = args.kw[k].second;
          used_kw[k] = true;
        }
      if (!v && p.value) {
        SHUO_ASSIGN(v, eval(*p.value, sc));
      }
      sc->set(p.name, v ? *v : Value::undefined("parameter '" + p.name + "' was not provided"));
    }
    std::vector<Value> extra;
    for (size_t i = params.size(); i < args.pos.size(); ++i) extra.push_back(args.pos[i]);
    SHUO_ASSIGN(Value varargs, make_list(std::move(extra), true));
    sc->set("varargs", varargs);
    auto kw = std::make_shared<DictObj>();
    for (size_t k = 0; k < args.kw.size(); ++k)
      if (!used_kw[k]) kw->set(args.kw[k].first, args.kw[k].second);
    SHUO_ASSIGN(Value kwargs, make_dict(std::move(kw)));
    sc->set("kwargs", kwargs);
    if (caller) sc->set("caller", *caller);
    std::string out;
    SHUO_TRY(exec_body(m.def->body, sc, out));
    return Value::string(std::move(out));
  }

  // ---- expressions ----

  Value lookup(const std::string& name, const ScopePtr& scope) const {
    for (const Scope* s = scope.get(); s; s = s->parent.get())
      if (const Value* v = s->find(name)) return *v;
    for (const auto& [k, v] : vars_)
      if (k == name) return v;
    if (is_global_function(name)) {
      auto c = std::make_shared<CallableObj>();
      c->type = CallableType::kGlobal;
      c->name = name;
      return Value::callable(std::move(c));
    }
    return Value::undefined("'" + name + "' is undefined");
  }

  Result<Value> eval(const Expr& e, const ScopePtr& scope) {
    Nest n(&nesting_);
    auto r = eval_inner(e, scope);
    if (!r.ok()) return locate(r.error(), e.pos);
    return r;
  }

  Result<Args> eval_args(const Expr& e, const ScopePtr& scope) {
    Args args;
    for (size_t i = 1; i < e.kids.size(); ++i) {
      SHUO_ASSIGN(Value v, eval(*e.kids[i], scope));
      args.pos.push_back(std::move(v));
    }
    for (const auto& [k, x] : e.kwargs) {
      SHUO_ASSIGN(Value v, eval(*x, scope));
      args.kw.emplace_back(k, std::move(v));
    }
    return args;
  }

  // A filter chain from a filter block / block set: the innermost filter takes `input`.
  Result<Value> apply_chain(const Expr& f, Value input, const ScopePtr& scope) {
    if (f.kids[0]) {
      SHUO_ASSIGN(input, apply_chain(*f.kids[0], std::move(input), scope));
    }
    SHUO_ASSIGN(Args args, eval_args(f, scope));
    return apply_filter(*this, f.name, input, args);
  }

  Result<std::optional<Value>> eval_opt(const ExprPtr& e, const ScopePtr& scope) {
    if (!e) return std::optional<Value>();
    SHUO_ASSIGN(Value v, eval(*e, scope));
    return std::optional<Value>(std::move(v));
  }

  Result<Value> eval_unary(const Expr& e, const ScopePtr& scope) {
    SHUO_ASSIGN(Value v, eval(*e.kids[0], scope));
    if (e.kind == ExprKind::kNot) return Value::boolean(!truthy(v));
    if (v.is_undefined()) {
      const std::string& hint = v.undefined_hint();
      return template_error(hint.empty() ? "value is undefined" : hint);
    }
    if (!v.is_number())
      return template_error(std::string("bad operand type for unary ") +
                            (e.kind == ExprKind::kNeg ? "-" : "+") + ": '" + type_name(v) + "'");
    if (e.kind == ExprKind::kPos) return v.is_int_like() ? Value::integer(v.as_int()) : v;
    if (!v.is_int_like()) return Value::number(-v.as_float());
    if (v.as_int() == INT64_MIN) return template_error("integer overflow");
    return Value::integer(-v.as_int());
  }

  Result<Value> eval_logic(const Expr& e, const ScopePtr& scope) {
    const bool is_and = e.kind == ExprKind::kAnd;
    SHUO_ASSIGN(Value v, eval(*e.kids[0], scope));
    for (size_t i = 1; i < e.kids.size(); ++i) {
      if (is_and != truthy(v)) return v;  // `and` stops at falsy, `or` at truthy
      SHUO_ASSIGN(v, eval(*e.kids[i], scope));
    }
    return v;
  }

  Result<Value> eval_compare(const Expr& e, const ScopePtr& scope) {
    SHUO_ASSIGN(Value left, eval(*e.kids[0], scope));
    for (size_t i = 0; i < e.cmp.size(); ++i) {
      SHUO_ASSIGN(Value right, eval(*e.kids[i + 1], scope));
      SHUO_ASSIGN(bool r, compare_op(*this, e.cmp[i], left, right));
      if (!r) return Value::boolean(false);
      left = std::move(right);
    }
    return Value::boolean(true);
  }

  Result<Value> eval_collection(const Expr& e, const ScopePtr& scope) {
    if (e.kind == ExprKind::kDict) {
      auto d = std::make_shared<DictObj>();
      for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
        SHUO_ASSIGN(Value k, eval(*e.kids[i], scope));
        SHUO_ASSIGN(Value v, eval(*e.kids[i + 1], scope));
        if (!k.is_string()) return template_error("dict keys must be strings, got " + type_name(k));
        d->set(k.str(), std::move(v));
      }
      return make_dict(std::move(d));
    }
    std::vector<Value> items;
    items.reserve(e.kids.size());
    for (const auto& k : e.kids) {
      SHUO_ASSIGN(Value v, eval(*k, scope));
      items.push_back(std::move(v));
    }
    return make_list(std::move(items), e.kind == ExprKind::kTuple);
  }

  Result<Value> eval_inner(const Expr& e, const ScopePtr& scope) {
    if (nesting_ > kMaxNesting) return limit_error("template nests too deeply");
    SHUO_TRY(charge(1));
    switch (e.kind) {
      case ExprKind::kLiteral: return e.value;
      case ExprKind::kName: return lookup(e.name, scope);
      case ExprKind::kAttr: {
        SHUO_ASSIGN(Value obj, eval(*e.kids[0], scope));
        return get_attr(obj, e.name);
      }
      case ExprKind::kItem: {
        SHUO_ASSIGN(Value obj, eval(*e.kids[0], scope));
        SHUO_ASSIGN(Value key, eval(*e.kids[1], scope));
        return get_item(*this, obj, key);
      }
      case ExprKind::kSlice: {
        SHUO_ASSIGN(Value obj, eval(*e.kids[0], scope));
        SHUO_ASSIGN(auto start, eval_opt(e.kids[1], scope));
        SHUO_ASSIGN(auto stop, eval_opt(e.kids[2], scope));
        SHUO_ASSIGN(auto step, eval_opt(e.kids[3], scope));
        return get_slice(*this, obj, start, stop, step);
      }
      case ExprKind::kCall: {
        SHUO_ASSIGN(Value callee, eval(*e.kids[0], scope));
        SHUO_ASSIGN(Args args, eval_args(e, scope));
        return call(callee, args);
      }
      case ExprKind::kFilter: {
        SHUO_ASSIGN(Value input, eval(*e.kids[0], scope));
        SHUO_ASSIGN(Args args, eval_args(e, scope));
        return apply_filter(*this, e.name, input, args);
      }
      case ExprKind::kTest: {
        SHUO_ASSIGN(Value input, eval(*e.kids[0], scope));
        SHUO_ASSIGN(Args args, eval_args(e, scope));
        SHUO_ASSIGN(bool r, apply_test(*this, e.name, input, args));
        return Value::boolean(r != e.negated);
      }
      case ExprKind::kNeg:
      case ExprKind::kPos:
      case ExprKind::kNot: return eval_unary(e, scope);
      case ExprKind::kBinary: {
        SHUO_ASSIGN(Value a, eval(*e.kids[0], scope));
        SHUO_ASSIGN(Value b, eval(*e.kids[1], scope));
        return binary_op(*this, e.op, a, b);
      }
      case ExprKind::kAnd:
      case ExprKind::kOr: return eval_logic(e, scope);
      case ExprKind::kCompare: return eval_compare(e, scope);
      case ExprKind::kCond: {
        SHUO_ASSIGN(Value c, eval(*e.kids[1], scope));
        if (truthy(c)) return eval(*e.kids[0], scope);
        if (e.kids[2]) return eval(*e.kids[2], scope);
        return Value::undefined(
            "the inline if-expression evaluated to false and no else section was defined.");
      }
      case ExprKind::kList:
      case ExprKind::kTuple:
      case ExprKind::kDict: return eval_collection(e, scope);
    }
    return template_error("unknown expression");
  }

  const Template& t_;
  const Vars& vars_;
  const Limits& lim_;
  std::vector<std::unique_ptr<NamespaceObj>> namespaces_;
  std::vector<std::unique_ptr<Macro>> macros_;
  uint64_t steps_ = 0;
  uint64_t iterations_ = 0;
  int call_depth_ = 0;
  int nesting_ = 0;
};

}  // namespace

Result<std::string> render(const Template& t, const Vars& vars, const Limits& limits) {
  Interp interp(t, vars, limits);
  return interp.run();
}

}  // namespace shuo::text::jinja

// Jinja2 tests (`x is defined`, `x is divisibleby 3`, ...) with Jinja2 3.1's semantics, e.g. an
// undefined value is iterable and a sequence, and a bool is a number but not an integer.
#include <cmath>

#include "text/jinja_builtins.h"
#include "text/jinja_parser.h"
#include "text/jinja_pystr.h"

namespace shuo::text::jinja {

namespace {

constexpr std::string_view kTests[] = {
    "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number",
    "string", "mapping", "iterable", "sequence", "callable", "sameas", "escaped", "lower", "upper",
    "even", "odd", "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le",
    "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "filter", "test"};

Result<Value> one_arg(const Args& args, std::string_view name) {
  SHUO_ASSIGN(auto a, bind_args(args, name, {"other"}));
  if (!a[0]) return template_error(std::string(name) + "() missing 1 required positional argument");
  return *a[0];
}

Result<int64_t> int_operand(const Value& v, std::string_view name) {
  if (v.is_int_like()) return v.as_int();
  return template_error("test '" + std::string(name) + "' needs an integer, got " + type_name(v));
}

}  // namespace

bool is_known_test(std::string_view name) {
  for (auto t : kTests)
    if (t == name) return true;
  return false;
}

namespace {

// Tests that take only the value; Jinja2 rejects an argument to them at render time.
bool takes_no_argument(std::string_view name) {
  return name != "sameas" && name != "divisibleby" && name != "in" && name != "eq" &&
         name != "equalto" && name != "==" && name != "ne" && name != "!=" && name != "lt" &&
         name != "lessthan" && name != "<" && name != "le" && name != "<=" && name != "gt" &&
         name != "greaterthan" && name != ">" && name != "ge" && name != ">=";
}

}  // namespace

Result<bool> apply_test(Runtime& rt, std::string_view name, const Value& v, const Args& args) {
  SHUO_TRY(rt.charge(1));
  if (takes_no_argument(name) && (!args.pos.empty() || !args.kw.empty()))
    return template_error("test_" + std::string(name) + "() takes 1 positional argument but " +
                          std::to_string(1 + args.pos.size() + args.kw.size()) + " were given");
  const Kind k = v.kind();
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return k == Kind::kBool;
  if (name == "true") return k == Kind::kBool && v.as_bool();
  if (name == "false") return k == Kind::kBool && !v.as_bool();
  if (name == "integer") return k == Kind::kInt;
  if (name == "float") return k == Kind::kFloat;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable" || name == "sequence")
    return k == Kind::kUndefined || k == Kind::kString || k == Kind::kList || k == Kind::kDict ||
           (name == "iterable" && k == Kind::kLoop);
  if (name == "callable") return k == Kind::kCallable || k == Kind::kUndefined || k == Kind::kLoop;
  if (name == "escaped") return v.is_markup();
  if (name == "lower" || name == "upper") {
    SHUO_ASSIGN(std::string s, to_str(v, rt.limits().max_output_bytes));
    const std::string mapped = name == "lower" ? py_lower(s) : py_upper(s);
    return mapped == s && py_lower(s) != py_upper(s);
  }
  if (name == "even" || name == "odd") {
    if (k == Kind::kFloat) {
      const double m = std::fmod(std::fabs(v.as_float()), 2.0);
      return name == "even" ? m == 0.0 : m == 1.0;
    }
    SHUO_ASSIGN(int64_t i, int_operand(v, name));
    return (i % 2 != 0) == (name == "odd");
  }
  if (name == "filter" || name == "test") {
    if (!v.is_string()) return false;
    return name == "filter" ? is_known_filter(v.str()) : is_known_test(v.str());
  }
  SHUO_ASSIGN(Value other, one_arg(args, name));
  if (name == "divisibleby") {
    if (!v.is_number() || !other.is_number())
      return template_error("divisibleby needs numbers");
    if (other.as_float() == 0.0) return template_error("integer division or modulo by zero");
    if (v.is_int_like() && other.is_int_like()) {
      if (other.as_int() == -1) return true;
      return v.as_int() % other.as_int() == 0;
    }
    return std::fmod(v.as_float(), other.as_float()) == 0.0;
  }
  if (name == "sameas") {
    // Python identity: the singletons compare by value, containers by object.
    if (v.kind() != other.kind()) return false;
    if (v.is_list() || v.is_dict()) return &v.list() == &other.list();
    return values_equal(rt, v, other);
  }
  if (name == "in") return contains(rt, other, v);
  CmpOp op = CmpOp::kEq;
  if (name == "ne" || name == "!=") op = CmpOp::kNe;
  else if (name == "lt" || name == "lessthan" || name == "<") op = CmpOp::kLt;
  else if (name == "le" || name == "<=") op = CmpOp::kLe;
  else if (name == "gt" || name == "greaterthan" || name == ">") op = CmpOp::kGt;
  else if (name == "ge" || name == ">=") op = CmpOp::kGe;
  return compare_op(rt, op, v, other);
}

}  // namespace shuo::text::jinja

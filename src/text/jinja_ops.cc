// Operators, attribute/item/slice access and iteration with Python semantics, including Jinja2's
// rule that a missing attribute or item is undefined (an error only once that is used).
#include <cmath>
#include <limits>

#include "text/jinja_builtins.h"
#include "text/jinja_parser.h"
#include "text/jinja_pystr.h"

namespace shuo::text::jinja {

Result<std::vector<std::optional<Value>>> bind_args(const Args& args, std::string_view fn,
                                                    std::initializer_list<std::string_view> names) {
  std::vector<std::optional<Value>> out(names.size());
  if (args.pos.size() > names.size())
    return template_error(std::string(fn) + "() takes at most " + std::to_string(names.size()) +
                          " arguments (" + std::to_string(args.pos.size()) + " given)");
  for (size_t i = 0; i < args.pos.size(); ++i) out[i] = args.pos[i];
  for (const auto& [key, v] : args.kw) {
    size_t i = 0;
    for (auto n : names) {
      if (n == key) break;
      ++i;
    }
    if (i == names.size())
      return template_error(std::string(fn) + "() got an unexpected keyword argument '" + key +
                            "'");
    if (out[i])
      return template_error(std::string(fn) + "() got multiple values for argument '" + key + "'");
    out[i] = v;
  }
  return out;
}

namespace {

// Jinja2's messages for undefined results of attribute / item access.
std::string object_repr(const Value& obj) {
  if (obj.is_none()) return "None";
  return type_name(obj) + " object";
}

// Built with appends: GCC 12 warns falsely (-Wrestrict) on "'" + std::string chains.
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (auto p : parts) s += p;
  return s;
}

Value undefined_attr(const Value& obj, std::string_view name) {
  return Value::undefined(cat({"'", object_repr(obj), "' has no attribute '", name, "'"}));
}

Value undefined_elem(const Value& obj, const Value& key) {
  std::string k;
  (void)append_repr(key, k, 200);
  return Value::undefined(object_repr(obj) + " has no element " + k);
}

Error undefined_error(const Value& v) {
  const std::string& hint = v.undefined_hint();
  return template_error(hint.empty() ? "value is undefined" : hint);
}

Value unsafe(const Value& obj, std::string_view name) {
  return Value::undefined("access to attribute '" + std::string(name) + "' of '" + type_name(obj) +
                          "' object is unsafe.");
}

Value method(const Value& self, std::string_view name) {
  auto c = std::make_shared<CallableObj>();
  c->type = self.kind() == Kind::kLoop ? CallableType::kLoopMethod : CallableType::kMethod;
  c->name = std::string(name);
  c->self = self;
  return Value::callable(std::move(c));
}

template <typename Names>
bool one_of_list(std::string_view name, const Names& names) {
  for (auto n : names)
    if (n == name) return true;
  return false;
}
bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  return one_of_list(name, names);
}

constexpr std::string_view kStrMethods[] = {
    "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "rsplit", "splitlines",
    "replace", "upper", "lower", "title", "capitalize", "swapcase", "find", "rfind", "index",
    "rindex", "count", "format", "join", "isdigit", "isalpha", "isalnum", "isspace", "isupper",
    "islower", "center", "ljust", "rjust", "zfill", "removeprefix", "removesuffix", "partition",
    "rpartition", "isnumeric", "isdecimal", "istitle"};

Result<Value> loop_attr(const Value& obj, std::string_view name) {
  const LoopObj& l = obj.loop();
  const auto n = int64_t(l.items->items.size());
  const auto i = int64_t(l.index0);
  if (name == "index0") return Value::integer(i);
  if (name == "index") return Value::integer(i + 1);
  if (name == "revindex") return Value::integer(n - i);
  if (name == "revindex0") return Value::integer(n - i - 1);
  if (name == "first") return Value::boolean(i == 0);
  if (name == "last") return Value::boolean(i == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(l.depth0 + 1);
  if (name == "depth0") return Value::integer(l.depth0);
  if (name == "previtem") {
    if (i == 0) return Value::undefined("there is no previous item");
    return l.items->items[size_t(i - 1)];
  }
  if (name == "nextitem") {
    if (i + 1 >= n) return Value::undefined("there is no next item");
    return l.items->items[size_t(i + 1)];
  }
  if (name == "cycle" || name == "changed") return method(obj, name);
  return undefined_attr(obj, name);
}

Error overflow_error() {
  return template_error("integer overflow (shuo's template integers are 64-bit)");
}

// a op b for op in + - *, failing instead of wrapping.
Result<int64_t> checked(char op, int64_t a, int64_t b) {
  int64_t r = 0;
  const bool overflow = op == '+'   ? __builtin_add_overflow(a, b, &r)
                        : op == '-' ? __builtin_sub_overflow(a, b, &r)
                                    : __builtin_mul_overflow(a, b, &r);
  if (overflow) return overflow_error();
  return r;
}

Error unsupported(std::string_view op, const Value& a, const Value& b) {
  return template_error("unsupported operand type(s) for " + std::string(op) + ": '" +
                        type_name(a) + "' and '" + type_name(b) + "'");
}

Result<Value> repeat(Runtime& rt, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  const Limits& lim = rt.limits();
  if (seq.is_string()) {
    const size_t len = seq.str().size();
    if (len && uint64_t(n) > lim.max_output_bytes / len)
      return limit_error("string repetition past " + std::to_string(lim.max_output_bytes) +
                         " bytes");
    SHUO_TRY(rt.charge(len * uint64_t(n) / kBytesPerStep));
    std::string s;
    s.reserve(len * size_t(n));
    for (int64_t i = 0; i < n; ++i) s += seq.str();
    return seq.is_markup() ? Value::markup(std::move(s)) : Value::string(std::move(s));
  }
  const auto& l = seq.list();
  if (!l.items.empty() && uint64_t(n) > lim.max_items / l.items.size())
    return limit_error("list repetition past " + std::to_string(lim.max_items) + " items");
  SHUO_TRY(rt.charge(l.items.size() * uint64_t(n) / 16));
  std::vector<Value> items;
  items.reserve(l.items.size() * size_t(n));
  for (int64_t i = 0; i < n; ++i) items.insert(items.end(), l.items.begin(), l.items.end());
  return make_list(std::move(items), l.is_tuple);
}

}  // namespace

Result<bool> values_equal(Runtime& rt, const Value& a, const Value& b) {
  Work w;
  w.limit = rt.steps_left();
  const bool r = equals(a, b, &w);
  SHUO_TRY(rt.charge(w.used));
  return r;
}

Result<int> values_compare(Runtime& rt, const Value& a, const Value& b) {
  Work w;
  w.limit = rt.steps_left();
  auto r = compare(a, b, &w);
  SHUO_TRY(rt.charge(w.used));
  return r;
}

Result<void> charge_search(Runtime& rt, size_t n, size_t m) {
  // std::string::find compares up to m bytes at each of n positions.
  return rt.charge(n / kBytesPerStep + uint64_t(n) * std::min<uint64_t>(m, 1u << 24) / 4096);
}

Result<Value> binary_op(Runtime& rt, BinOp op, const Value& a, const Value& b) {
  const Limits& lim = rt.limits();
  if (op == BinOp::kConcat) {
    std::string s;
    SHUO_TRY(append_str(a, s, lim.max_output_bytes));
    SHUO_TRY(append_str(b, s, lim.max_output_bytes));
    SHUO_TRY(rt.charge(s.size() / kBytesPerStep));
    return Value::string(std::move(s));
  }
  if (a.is_undefined()) return undefined_error(a);
  if (b.is_undefined()) return undefined_error(b);
  const bool ints = a.is_int_like() && b.is_int_like();
  const bool nums = a.is_number() && b.is_number();
  switch (op) {
    case BinOp::kAdd:
      if (ints) {
        SHUO_ASSIGN(int64_t v, checked('+', a.as_int(), b.as_int()));
        return Value::integer(v);
      }
      if (nums) return Value::number(a.as_float() + b.as_float());
      if (a.is_string() && b.is_string()) {
        if (a.is_markup() || b.is_markup()) {  // Markup + str escapes the str
          std::string s = a.is_markup() ? a.str() : html_escape(a.str());
          s += b.is_markup() ? b.str() : html_escape(b.str());
          if (s.size() > lim.max_output_bytes)
            return limit_error("string grew past " + std::to_string(lim.max_output_bytes) + " bytes");
          SHUO_TRY(rt.charge(s.size() / kBytesPerStep));
          return Value::markup(std::move(s));
        }
        if (a.str().size() + b.str().size() > lim.max_output_bytes)
          return limit_error("string grew past " + std::to_string(lim.max_output_bytes) + " bytes");
        SHUO_TRY(rt.charge((a.str().size() + b.str().size()) / 64));
        return Value::string(a.str() + b.str());
      }
      if (a.is_list() && b.is_list() && a.list().is_tuple == b.list().is_tuple) {
        const auto& x = a.list().items;
        const auto& y = b.list().items;
        if (x.size() + y.size() > lim.max_items)
          return limit_error("list grew past " + std::to_string(lim.max_items) + " items");
        SHUO_TRY(rt.charge((x.size() + y.size()) / 16));
        std::vector<Value> items(x);
        items.insert(items.end(), y.begin(), y.end());
        return make_list(std::move(items), a.list().is_tuple);
      }
      if (a.is_string())
        return template_error("can only concatenate str (not \"" + type_name(b) + "\") to str");
      if (a.is_list() && !a.list().is_tuple)
        return template_error("can only concatenate list (not \"" + type_name(b) + "\") to list");
      return unsupported("+", a, b);
    case BinOp::kSub:
      if (ints) {
        SHUO_ASSIGN(int64_t v, checked('-', a.as_int(), b.as_int()));
        return Value::integer(v);
      }
      if (nums) return Value::number(a.as_float() - b.as_float());
      return unsupported("-", a, b);
    case BinOp::kMul:
      if (ints) {
        SHUO_ASSIGN(int64_t v, checked('*', a.as_int(), b.as_int()));
        return Value::integer(v);
      }
      if (nums) return Value::number(a.as_float() * b.as_float());
      if ((a.is_string() || a.is_list()) && b.is_int_like()) return repeat(rt, a, b.as_int());
      if ((b.is_string() || b.is_list()) && a.is_int_like()) return repeat(rt, b, a.as_int());
      return unsupported("*", a, b);
    case BinOp::kDiv:
      if (!nums) return unsupported("/", a, b);
      if (b.as_float() == 0.0) return template_error("division by zero");
      return Value::number(a.as_float() / b.as_float());
    case BinOp::kFloorDiv:
      if (!nums) return unsupported("//", a, b);
      if (b.as_float() == 0.0) return template_error("integer division or modulo by zero");
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (x == std::numeric_limits<int64_t>::min() && y == -1) return overflow_error();
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value::integer(q);
      }
      return Value::number(std::floor(a.as_float() / b.as_float()));
    case BinOp::kMod:
      if (a.is_string()) {
        SHUO_ASSIGN(std::string s, percent_format(a.str(), b, lim.max_output_bytes, a.is_markup()));
        SHUO_TRY(rt.charge(s.size() / kBytesPerStep));
        return a.is_markup() ? Value::markup(std::move(s)) : Value::string(std::move(s));
      }
      if (!nums) return unsupported("%", a, b);
      if (b.as_float() == 0.0) return template_error("integer division or modulo by zero");
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == -1) return Value::integer(0);
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value::integer(m);
      } else {
        const double x = a.as_float(), y = b.as_float();
        double m = std::fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value::number(m);
      }
    case BinOp::kPow:
      if (!nums) return unsupported("** or pow()", a, b);
      if (ints && b.as_int() >= 0) {
        int64_t base = a.as_int(), e = b.as_int(), acc = 1;
        while (e > 0) {
          if (e & 1) {
            SHUO_ASSIGN(acc, checked('*', acc, base));
          }
          e >>= 1;
          if (e) {
            SHUO_ASSIGN(base, checked('*', base, base));
          }
        }
        return Value::integer(acc);
      }
      if (a.as_float() == 0.0 && b.as_float() < 0)
        return template_error("0.0 cannot be raised to a negative power");
      return Value::number(std::pow(a.as_float(), b.as_float()));
    case BinOp::kConcat: break;
  }
  return template_error("unknown operator");
}

Result<bool> compare_op(Runtime& rt, CmpOp op, const Value& a, const Value& b) {
  switch (op) {
    case CmpOp::kEq: return values_equal(rt, a, b);
    case CmpOp::kNe: {
      SHUO_ASSIGN(bool eq, values_equal(rt, a, b));
      return !eq;
    }
    case CmpOp::kIn: return contains(rt, b, a);
    case CmpOp::kNotIn: {
      SHUO_ASSIGN(bool in, contains(rt, b, a));
      return !in;
    }
    default: break;
  }
  if (a.is_undefined()) return undefined_error(a);
  if (b.is_undefined()) return undefined_error(b);
  SHUO_ASSIGN(int c, values_compare(rt, a, b));
  switch (op) {
    case CmpOp::kLt: return c < 0;
    case CmpOp::kLe: return c <= 0;
    case CmpOp::kGt: return c > 0;
    default: return c >= 0;
  }
}

Result<bool> contains(Runtime& rt, const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::kUndefined: return false;
    case Kind::kString:
      if (!item.is_string())
        return template_error("'in <string>' requires string as left operand, not " +
                              type_name(item));
      SHUO_TRY(charge_search(rt, container.str().size(), item.str().size()));
      return container.str().find(item.str()) != std::string::npos;
    case Kind::kList: {
      Work w;
      w.limit = rt.steps_left();
      bool found = false;
      for (const auto& v : container.list().items)
        if (equals(v, item, &w) || w.exhausted()) {
          found = !w.exhausted();
          break;
        }
      SHUO_TRY(rt.charge(w.used));
      return found;
    }
    case Kind::kDict:
      return item.is_string() && container.dict().find(item.str()) != nullptr;
    default:
      return template_error("argument of type '" + type_name(container) + "' is not iterable");
  }
}

Result<Value> get_attr(const Value& obj, std::string_view name) {
  switch (obj.kind()) {
    case Kind::kUndefined: return undefined_error(obj);
    case Kind::kDict:
      if (one_of(name, {"items", "keys", "values", "get", "copy"})) return method(obj, name);
      if (one_of(name, {"pop", "popitem", "setdefault", "update", "clear", "fromkeys"}))
        return unsafe(obj, name);
      if (const Value* v = obj.dict().find(name)) return *v;
      return undefined_attr(obj, name);
    case Kind::kString:
      if (one_of_list(name, kStrMethods)) return method(obj, name);
      return undefined_attr(obj, name);
    case Kind::kList:
      if (one_of(name, {"index", "count"})) return method(obj, name);
      if (one_of(name, {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"}))
        return unsafe(obj, name);
      return undefined_attr(obj, name);
    case Kind::kNamespace:
      if (const Value* v = obj.ns()->find(name)) return *v;
      return undefined_attr(obj, name);
    case Kind::kLoop: return loop_attr(obj, name);
    default: return undefined_attr(obj, name);
  }
}

Result<Value> get_item(Runtime& rt, const Value& obj, const Value& key) {
  if (obj.is_undefined()) return undefined_error(obj);
  SHUO_TRY(rt.charge(1 + obj.cost()));
  if (obj.is_dict() && key.is_string()) {
    if (const Value* v = obj.dict().find(key.str())) return *v;
  } else if ((obj.is_list() || obj.is_string()) && key.is_int_like()) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      const auto& items = obj.list().items;
      if (i < 0) i += int64_t(items.size());
      if (i >= 0 && i < int64_t(items.size())) return items[size_t(i)];
    } else {  // walk to the i-th code point; no offset table for one character
      const std::string& s = obj.str();
      if (i < 0) i += int64_t(py_len(s));
      uint32_t cp;
      for (size_t at = 0; i >= 0 && at < s.size(); --i) {
        const size_t n = utf8_decode(s, at, &cp);
        if (i == 0) {
          std::string c = s.substr(at, n);
          return obj.is_markup() ? Value::markup(std::move(c)) : Value::string(std::move(c));
        }
        at += n;
      }
    }
    return undefined_elem(obj, key);
  }
  if (key.is_string()) return get_attr(obj, key.str());
  return undefined_elem(obj, key);
}

Result<Value> get_slice(Runtime& rt, const Value& obj, const std::optional<Value>& start,
                        const std::optional<Value>& stop, const std::optional<Value>& step) {
  if (obj.is_undefined()) return undefined_error(obj);
  SHUO_TRY(rt.charge(1 + obj.cost() * 4));
  auto part = [](const std::optional<Value>& v, bool* given, int64_t* out) {
    *given = v && !v->is_none();
    if (*given) {
      if (!v->is_int_like()) return false;
      *out = v->as_int();
    }
    return true;
  };
  bool has_start, has_stop, has_step;
  int64_t b = 0, e = 0, st = 1;
  // Jinja2 slices with Python's own [a:b:c], bypassing its undefined-on-failure getitem.
  if (!(obj.is_list() || obj.is_string()))
    return template_error(cat({"'", type_name(obj), "' object is not subscriptable"}));
  if (!part(start, &has_start, &b) || !part(stop, &has_stop, &e) || !part(step, &has_step, &st))
    return template_error("slice indices must be integers or None or have an __index__ method");
  if (st == 0) return template_error("slice step cannot be zero");
  std::vector<size_t> offs;
  int64_t n;
  if (obj.is_string()) {
    offs = cp_offsets(obj.str());
    n = int64_t(offs.size()) - 1;
  } else {
    n = int64_t(obj.list().items.size());
  }
  // Python's slice.indices(n).
  const int64_t lower = st > 0 ? 0 : -1, upper = st > 0 ? n : n - 1;
  auto clamp = [&](bool given, int64_t v, int64_t dflt) {
    if (!given) return dflt;
    if (v < 0) v = std::max(v + n, lower);
    return std::min(v, upper);
  };
  b = clamp(has_start, b, st > 0 ? lower : upper);
  e = clamp(has_stop, e, st > 0 ? upper : lower);
  if (obj.is_string()) {
    const std::string& s = obj.str();
    std::string out;
    if (st == 1 && b < e) {
      out = s.substr(offs[size_t(b)], offs[size_t(e)] - offs[size_t(b)]);
    } else {
      for (int64_t i = b; st > 0 ? i < e : i > e; i += st)
        out.append(s, offs[size_t(i)], offs[size_t(i) + 1] - offs[size_t(i)]);
    }
    return obj.is_markup() ? Value::markup(std::move(out)) : Value::string(std::move(out));
  }
  const auto& items = obj.list().items;
  std::vector<Value> out;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) out.push_back(items[size_t(i)]);
  return make_list(std::move(out), obj.list().is_tuple);
}

Result<std::vector<Value>> iterate(Runtime& rt, const Value& v) {
  std::vector<Value> out;
  switch (v.kind()) {
    case Kind::kUndefined: return out;
    case Kind::kList:
      SHUO_TRY(rt.charge(v.list().items.size() / 16));
      return v.list().items;
    case Kind::kDict:
      SHUO_TRY(rt.charge(v.dict().items.size() / 16));
      for (const auto& kv : v.dict().items) out.push_back(Value::string(kv.first));
      return out;
    case Kind::kString: {
      const std::string& s = v.str();
      SHUO_TRY(rt.charge(s.size()));  // one Value per character
      if (s.size() > rt.limits().max_items && py_len(s) > rt.limits().max_items)
        return limit_error("iterating a string of more than " +
                           std::to_string(rt.limits().max_items) + " characters");
      uint32_t cp;
      for (size_t i = 0; i < s.size();) {
        const size_t n = utf8_decode(s, i, &cp);
        out.push_back(Value::string(s.substr(i, n)));
        i += n;
      }
      return out;
    }
    case Kind::kLoop: return v.loop().items->items;
    default: return template_error(cat({"'", type_name(v), "' object is not iterable"}));
  }
}

Result<int64_t> py_length(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined: return 0;
    case Kind::kString: return int64_t(py_len(v.str()));
    case Kind::kList: return int64_t(v.list().items.size());
    case Kind::kDict: return int64_t(v.dict().items.size());
    case Kind::kLoop: return int64_t(v.loop().items->items.size());
    default: return template_error("object of type '" + type_name(v) + "' has no len()");
  }
}

}  // namespace shuo::text::jinja

// Global functions (range, namespace, dict, raise_exception, strftime_now) and the Python
// str / dict / list methods templates call, plus loop.cycle() and loop.changed().
#include <ctime>

#include "text/jinja_builtins.h"
#include "text/jinja_pystr.h"

namespace shuo::text::jinja {

namespace {

Result<std::string> str_arg(const std::optional<Value>& v, std::string_view fn,
                            std::string_view what) {
  if (!v || !v->is_string())
    return template_error(std::string(fn) + "() " + std::string(what) + " must be str, not " +
                          (v ? type_name(*v) : std::string("missing")));
  return v->str();
}

Result<std::optional<std::string>> opt_str_arg(const std::optional<Value>& v, std::string_view fn) {
  if (!v || v->is_none()) return std::optional<std::string>();
  SHUO_ASSIGN(std::string s, str_arg(v, fn, "argument"));
  return std::optional<std::string>(std::move(s));
}

Result<int64_t> int_arg(const std::optional<Value>& v, std::string_view fn, int64_t dflt) {
  if (!v) return dflt;
  if (!v->is_int_like())
    return template_error(std::string(fn) + "() argument must be int, not " + type_name(*v));
  return v->as_int();
}

Result<Value> string_list(std::vector<std::string> parts, bool tuple = false) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& p : parts) items.push_back(Value::string(std::move(p)));
  return make_list(std::move(items), tuple);
}

// dict(*args, **kwargs) for namespace() and dict(): a mapping or pairs, then keywords.
Result<std::shared_ptr<DictObj>> dict_from_args(const Args& args, std::string_view fn) {
  auto d = std::make_shared<DictObj>();
  if (args.pos.size() > 1) return template_error(std::string(fn) + "() takes at most 1 positional argument");
  if (args.pos.size() == 1) {
    const Value& src = args.pos[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.dict().items) d->set(k, v);
    } else if (src.is_list()) {
      for (const auto& pair : src.list().items) {
        if (!pair.is_list() || pair.list().items.size() != 2 || !pair.list().items[0].is_string())
          return template_error(std::string(fn) + "() needs (str, value) pairs");
        d->set(pair.list().items[0].str(), pair.list().items[1]);
      }
    } else {
      return template_error("'" + type_name(src) + "' object is not iterable");
    }
  }
  for (const auto& [k, v] : args.kw) d->set(k, v);
  return d;
}

// Pads s to width code points with fill: where 'l' pads on the right, 'r' on the left, 'c' both.
std::string pad(std::string s, int64_t width, const std::string& fill, char where) {
  const int64_t len = int64_t(py_len(s));
  if (width <= len) return s;
  const int64_t total = width - len;
  int64_t left = where == 'r' ? total : (where == 'c' ? total / 2 : 0);
  // Python's str.center puts the extra space on the right... except when len and width are odd.
  if (where == 'c' && (total % 2) && (width % 2)) left += 1;
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < total - left; ++i) out += fill;
  return out;
}

bool all_cps(std::string_view s, bool (*pred)(uint32_t)) {
  if (s.empty()) return false;
  uint32_t cp;
  for (size_t i = 0; i < s.size(); i += utf8_decode(s, i, &cp))
    if (!(utf8_decode(s, i, &cp), pred(cp))) return false;
  return true;
}

Result<Value> str_method(Runtime& rt, const std::string& s, std::string_view name,
                         const Args& args) {
  const size_t max = rt.limits().max_output_bytes;
  SHUO_TRY(rt.charge(s.size() / kBytesPerStep));
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"chars"}));
    SHUO_ASSIGN(auto chars, opt_str_arg(a[0], name));
    return Value::string(py_strip(s, chars, name != "rstrip", name != "lstrip"));
  }
  if (name == "startswith" || name == "endswith") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"prefix"}));
    std::vector<Value> options;
    if (a[0] && a[0]->is_list() && a[0]->list().is_tuple) {
      options = a[0]->list().items;
    } else if (a[0]) {
      options.push_back(*a[0]);
    }
    for (const auto& o : options) {
      SHUO_ASSIGN(std::string p, str_arg(o, name, "argument"));
      const bool hit = name == "startswith"
                           ? s.compare(0, p.size(), p) == 0
                           : (s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0);
      if (hit) return Value::boolean(true);
    }
    if (options.empty()) return template_error(std::string(name) + "() takes exactly 1 argument");
    return Value::boolean(false);
  }
  if (name == "split" || name == "rsplit") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"sep", "maxsplit"}));
    SHUO_ASSIGN(auto sep, opt_str_arg(a[0], name));
    SHUO_ASSIGN(int64_t maxsplit, int_arg(a[1], name, -1));
    if (sep && sep->empty()) return template_error("empty separator");
    if (sep) SHUO_TRY(charge_search(rt, s.size(), sep->size()));
    return string_list(name == "split" ? py_split(s, sep, maxsplit) : py_rsplit(s, sep, maxsplit));
  }
  if (name == "splitlines") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"keepends"}));
    return string_list(py_splitlines(s, a[0] && truthy(*a[0])));
  }
  if (name == "replace") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"old", "new", "count"}));
    SHUO_ASSIGN(std::string old, str_arg(a[0], name, "argument 1"));
    SHUO_ASSIGN(std::string repl, str_arg(a[1], name, "argument 2"));
    SHUO_ASSIGN(int64_t count, int_arg(a[2], name, -1));
    SHUO_TRY(charge_search(rt, s.size(), old.size()));
    auto r = py_replace(s, old, repl, count, max);
    if (!r) return limit_error("replace() result past " + std::to_string(max) + " bytes");
    SHUO_TRY(rt.charge(r->size() / kBytesPerStep));
    return Value::string(std::move(*r));
  }
  if (name == "upper") return Value::string(py_upper(s));
  if (name == "lower") return Value::string(py_lower(s));
  if (name == "title") return Value::string(py_title(s));
  if (name == "capitalize") return Value::string(py_capitalize(s));
  if (name == "swapcase") return Value::string(py_swapcase(s));
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"sub"}));
    SHUO_ASSIGN(std::string sub, str_arg(a[0], name, "argument"));
    SHUO_TRY(charge_search(rt, s.size(), sub.size()));
    if (name == "count") return Value::integer(py_count(s, sub));
    const int64_t at = py_find(s, sub, name[0] == 'r');
    if (at < 0 && (name == "index" || name == "rindex")) return template_error("substring not found");
    return Value::integer(at);
  }
  if (name == "format") {
    SHUO_ASSIGN(std::string r, str_format(rt, s, args));
    return Value::string(std::move(r));
  }
  if (name == "join") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"iterable"}));
    if (!a[0]) return template_error("join() takes exactly one argument");
    SHUO_ASSIGN(std::vector<Value> items, iterate(rt, *a[0]));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string())
        return template_error("sequence item " + std::to_string(i) + ": expected str instance, " +
                              type_name(items[i]) + " found");
      if (i) out += s;
      out += items[i].str();
      if (out.size() > max) return limit_error("join() result past " + std::to_string(max) + " bytes");
    }
    SHUO_TRY(rt.charge(out.size() / kBytesPerStep));
    return Value::string(std::move(out));
  }
  if (name == "isdigit" || name == "isnumeric" || name == "isdecimal")
    return Value::boolean(all_cps(s, [](uint32_t c) { return c >= '0' && c <= '9'; }));
  if (name == "isalpha") return Value::boolean(all_cps(s, py_is_alpha_cp));
  if (name == "isalnum")
    return Value::boolean(
        all_cps(s, [](uint32_t c) { return (c >= '0' && c <= '9') || py_is_alpha_cp(c); }));
  if (name == "isspace") return Value::boolean(all_cps(s, py_isspace));
  if (name == "isupper" || name == "islower" || name == "istitle") {
    // Has a cased character and equals its own upper/lower/title form.
    const std::string mapped = name == "isupper" ? py_upper(s) : (name == "islower" ? py_lower(s) : py_title(s));
    return Value::boolean(mapped == s && py_upper(s) != py_lower(s));
  }
  if (name == "center" || name == "ljust" || name == "rjust" || name == "zfill") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"width", "fillchar"}));
    SHUO_ASSIGN(int64_t width, int_arg(a[0], name, 0));
    if (width > int64_t(max)) return limit_error(std::string(name) + "() width past the output limit");
    std::string fill = " ";
    if (a[1]) {
      SHUO_ASSIGN(fill, str_arg(a[1], name, "fillchar"));
    }
    if (py_len(fill) != 1) return template_error("The fill character must be exactly one character long");
    if (name == "zfill") {
      const bool sign = !s.empty() && (s[0] == '-' || s[0] == '+');
      std::string body = pad(s.substr(sign ? 1 : 0), width - (sign ? 1 : 0), "0", 'r');
      return Value::string(sign ? s.substr(0, 1) + body : body);
    }
    return Value::string(pad(s, width, fill, name == "center" ? 'c' : (name == "ljust" ? 'l' : 'r')));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"affix"}));
    SHUO_ASSIGN(std::string p, str_arg(a[0], name, "argument"));
    if (name == "removeprefix" && s.compare(0, p.size(), p) == 0) return Value::string(s.substr(p.size()));
    if (name == "removesuffix" && !p.empty() && s.size() >= p.size() &&
        s.compare(s.size() - p.size(), p.size(), p) == 0)
      return Value::string(s.substr(0, s.size() - p.size()));
    return Value::string(s);
  }
  if (name == "partition" || name == "rpartition") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"sep"}));
    SHUO_ASSIGN(std::string sep, str_arg(a[0], name, "argument"));
    if (sep.empty()) return template_error("empty separator");
    SHUO_TRY(charge_search(rt, s.size(), sep.size()));
    const size_t p = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (p == std::string::npos)
      return name == "partition" ? string_list({s, "", ""}, true) : string_list({"", "", s}, true);
    return string_list({s.substr(0, p), sep, s.substr(p + sep.size())}, true);
  }
  return template_error("'str' object has no attribute '" + std::string(name) + "'");
}

// Markup's methods return Markup and escape what they take in (replace, join, format).
Result<Value> markup_method(Runtime& rt, const std::string& s, std::string_view name,
                            const Args& args) {
  auto escaped = [](const Value& v) {
    return v.is_string() && !v.is_markup() ? Value::markup(html_escape(v.str())) : v;
  };
  auto one_of = [&](std::initializer_list<std::string_view> names) {
    for (auto n : names)
      if (n == name) return true;
    return false;
  };
  // As markupsafe 3: replace escapes the replacement, the *just/center methods the fill.
  const bool escapes_second = one_of({"replace", "ljust", "rjust", "center"});
  const bool returns_markup =
      escapes_second ||
      one_of({"capitalize", "title", "lower", "upper", "swapcase", "split", "rsplit", "splitlines",
              "join", "format", "strip", "lstrip", "rstrip", "zfill", "partition", "rpartition",
              "removeprefix", "removesuffix"});
  Args in = args;
  if (escapes_second && in.pos.size() > 1) {
    in.pos[1] = escaped(in.pos[1]);
  } else if (name == "join" && !in.pos.empty()) {
    SHUO_ASSIGN(std::vector<Value> items, iterate(rt, in.pos[0]));
    for (auto& v : items) v = escaped(v);
    SHUO_ASSIGN(in.pos[0], make_list(std::move(items)));
  }
  Value r;
  if (name == "format") {
    SHUO_ASSIGN(std::string f, str_format(rt, s, in, true));
    r = Value::string(std::move(f));
  } else {
    SHUO_ASSIGN(r, str_method(rt, s, name, in));
  }
  if (!returns_markup) return r;
  if (r.is_string()) return Value::markup(r.str());
  if (r.is_list()) {
    std::vector<Value> items = r.list().items;
    for (auto& v : items)
      if (v.is_string()) v = Value::markup(v.str());
    return make_list(std::move(items), r.list().is_tuple);
  }
  return r;
}

Result<Value> dict_method(Runtime& rt, const Value& self, std::string_view name, const Args& args) {
  const auto& d = self.dict();
  SHUO_TRY(rt.charge(d.items.size() / 16));
  if (name == "get") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"key", "default"}));
    if (!a[0]) return template_error("get expected at least 1 argument, got 0");
    if (a[0]->is_string())
      if (const Value* v = d.find(a[0]->str())) return *v;
    return a[1] ? *a[1] : Value::none();
  }
  if (!args.pos.empty() || !args.kw.empty())
    return template_error("dict." + std::string(name) + "() takes no arguments");
  if (name == "copy") return self;
  std::vector<Value> out;
  out.reserve(d.items.size());
  for (const auto& [k, v] : d.items) {
    if (name == "keys") {
      out.push_back(Value::string(k));
    } else if (name == "values") {
      out.push_back(v);
    } else {
      SHUO_ASSIGN(Value pair, make_list({Value::string(k), v}, true));
      out.push_back(std::move(pair));
    }
  }
  return make_list(std::move(out));
}

Result<Value> loop_method(Runtime& rt, const Value& self, std::string_view name, const Args& args) {
  LoopObj& l = self.loop();
  if (!args.kw.empty()) return template_error("loop." + std::string(name) + "() takes no keyword arguments");
  if (name == "cycle") {
    if (args.pos.empty()) return template_error("no items for cycling given");
    return args.pos[l.index0 % args.pos.size()];
  }
  SHUO_ASSIGN(Value now, make_list(args.pos, true));
  bool changed = !l.has_last_changed;
  if (!changed) {
    SHUO_ASSIGN(bool same, values_equal(rt, now, l.last_changed));
    changed = !same;
  }
  l.has_last_changed = true;
  l.last_changed = std::move(now);
  return Value::boolean(changed);
}

}  // namespace

bool is_global_function(std::string_view name) {
  return name == "range" || name == "namespace" || name == "dict" || name == "raise_exception" ||
         name == "strftime_now";
}

Result<Value> call_global(Runtime& rt, std::string_view name, const Args& args) {
  if (name == "raise_exception") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"message"}));
    std::string msg;
    if (a[0]) {
      SHUO_ASSIGN(msg, to_str(*a[0], rt.limits().max_output_bytes));
    }
    return Error{ErrorCode::kBadField, std::string(kRaiseExceptionWhere), std::move(msg)};
  }
  if (name == "range") {
    if (!args.kw.empty()) return template_error("range() takes no keyword arguments");
    if (args.pos.empty() || args.pos.size() > 3)
      return template_error("range expected 1 to 3 arguments, got " + std::to_string(args.pos.size()));
    for (const auto& v : args.pos)
      if (!v.is_int_like())
        return template_error("'" + type_name(v) + "' object cannot be interpreted as an integer");
    int64_t start = 0, stop, step = 1;
    if (args.pos.size() == 1) {
      stop = args.pos[0].as_int();
    } else {
      start = args.pos[0].as_int();
      stop = args.pos[1].as_int();
      if (args.pos.size() == 3) step = args.pos[2].as_int();
    }
    if (step == 0) return template_error("range() arg 3 must not be zero");
    // Count in long double: stop - start can overflow int64.
    const long double span = (long double)stop - (long double)start;
    long double n = span / (long double)step;
    n = n <= 0 ? 0 : (n == (long double)(uint64_t)n ? n : (long double)(uint64_t)n + 1);
    if (n > (long double)rt.limits().max_items)
      return limit_error("range() of more than " + std::to_string(rt.limits().max_items) + " items");
    const auto count = size_t(n);
    SHUO_TRY(rt.charge(count / 16));
    std::vector<Value> items;
    items.reserve(count);
    for (size_t i = 0; i < count; ++i) items.push_back(Value::integer(start + int64_t(i) * step));
    return make_list(std::move(items));
  }
  for (const auto& v : args.pos) SHUO_TRY(rt.charge(v.cost()));
  if (name == "namespace") {
    SHUO_ASSIGN(auto d, dict_from_args(args, name));
    NamespaceObj* ns = rt.new_namespace();
    for (auto& [k, v] : d->items) ns->set(k, v);
    return Value::name_space(ns);
  }
  if (name == "dict") {
    SHUO_ASSIGN(auto d, dict_from_args(args, name));
    return make_dict(std::move(d));
  }
  if (name == "strftime_now") {
    SHUO_ASSIGN(auto a, bind_args(args, name, {"format"}));
    SHUO_ASSIGN(std::string fmt, str_arg(a[0], name, "argument"));
    if (fmt.size() > 256) return template_error("strftime_now() format too long");
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[4096];
    const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
    return Value::string(std::string(buf, n));
  }
  return template_error("'" + std::string(name) + "' is undefined");
}

Result<Value> call_method(Runtime& rt, const Value& self, std::string_view name, const Args& args) {
  switch (self.kind()) {
    case Kind::kString:
      if (self.is_markup()) return markup_method(rt, self.str(), name, args);
      return str_method(rt, self.str(), name, args);
    case Kind::kDict: return dict_method(rt, self, name, args);
    case Kind::kLoop: return loop_method(rt, self, name, args);
    case Kind::kList: {
      SHUO_ASSIGN(auto a, bind_args(args, name, {"value"}));
      if (!a[0]) return template_error(std::string(name) + "() takes exactly one argument");
      const auto& items = self.list().items;
      SHUO_TRY(rt.charge(items.size() / 16));
      int64_t count = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        SHUO_ASSIGN(bool eq, values_equal(rt, items[i], *a[0]));
        if (!eq) continue;
        if (name == "index") return Value::integer(int64_t(i));
        ++count;
      }
      if (name == "index") return template_error("value is not in list");
      return Value::integer(count);
    }
    default:
      return template_error("'" + type_name(self) + "' object has no attribute '" +
                            std::string(name) + "'");
  }
}

}  // namespace shuo::text::jinja

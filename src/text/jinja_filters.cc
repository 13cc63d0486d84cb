// Jinja2 filters used by chat templates, with Jinja2 3.1's semantics (and `tojson` as
// transformers defines it: json.dumps with ensure_ascii=False, key order kept).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "text/jinja_builtins.h"
#include "text/jinja_parser.h"
#include "text/jinja_pystr.h"

namespace shuo::text::jinja {

namespace {

using FilterFn = Result<Value> (*)(Runtime&, const Value&, const Args&);

size_t max_bytes(Runtime& rt) { return rt.limits().max_output_bytes; }

Result<std::string> text_of(Runtime& rt, const Value& v) { return to_str(v, max_bytes(rt)); }

Result<Value> string_result(Runtime& rt, std::string s) {
  SHUO_TRY(rt.charge(s.size() / kBytesPerStep));
  return Value::string(std::move(s));
}

// For filters that call Markup's own methods in Jinja2 (upper, trim, ...): Markup stays Markup.
Result<Value> like_input(Runtime& rt, const Value& input, std::string s) {
  SHUO_TRY(rt.charge(s.size() / kBytesPerStep));
  return input.is_markup() ? Value::markup(std::move(s)) : Value::string(std::move(s));
}

// Jinja2's attribute paths: "a.b.0" looks up a, then b, then item 0.
Result<Value> lookup_path(Runtime& rt, const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits = !part.empty() && part.size() < 18 &&
                        part.find_first_not_of("0123456789") == std::string::npos;
    SHUO_ASSIGN(v, get_item(rt, v, digits ? Value::integer(std::stoll(part)) : Value::string(part)));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

Result<std::string> path_arg(const std::optional<Value>& v) {
  if (!v || v->is_none()) return std::string();
  if (v->is_int_like()) return std::to_string(v->as_int());
  if (!v->is_string()) return template_error("attribute must be a string");
  return v->str();
}

bool as_flag(const std::optional<Value>& v) { return v && truthy(*v); }

// Sort/unique key: the attribute (if any), lower-cased when case-insensitive.
Result<Value> sort_key(Runtime& rt, const Value& item, const std::string& attribute,
                       bool case_sensitive) {
  Value k = item;
  if (!attribute.empty()) {
    SHUO_ASSIGN(k, lookup_path(rt, item, attribute));
  }
  if (!case_sensitive && k.is_string()) return Value::string(py_lower(k.str()));
  return k;
}

// Stable sort on .first; a failed comparison or exhausted budget is the error.
Result<void> sort_by_key(Runtime& rt, std::vector<std::pair<Value, Value>>& keyed, bool reverse) {
  Work w;
  w.limit = rt.steps_left();
  std::optional<Error> err;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    if (err || w.exhausted()) return false;
    auto c = compare(x.first, y.first, &w);
    if (!c.ok()) {
      err = c.error();
      return false;
    }
    return reverse ? *c > 0 : *c < 0;
  });
  if (err) return *err;
  return rt.charge(w.used);
}

// ---- filters ----

Result<Value> f_abs(Runtime&, const Value& v, const Args&) {
  if (v.is_int_like()) {
    if (v.as_int() == INT64_MIN) return template_error("integer overflow");
    return Value::integer(std::llabs(v.as_int()));
  }
  if (v.is_number()) return Value::number(std::fabs(v.as_float()));
  return template_error("bad operand type for abs(): '" + type_name(v) + "'");
}

Result<Value> f_attr(Runtime&, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "attr", {"name"}));
  if (!a[0] || !a[0]->is_string()) return template_error("attr() needs a name");
  return get_attr(v, a[0]->str());
}

Result<Value> f_batch(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "batch", {"linecount", "fill_with"}));
  if (!a[0] || !a[0]->is_int_like() || a[0]->as_int() <= 0)
    return template_error("batch() needs a positive line count");
  const auto n = size_t(a[0]->as_int());
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  std::vector<Value> out, cur;
  for (auto& it : items) {
    cur.push_back(std::move(it));
    if (cur.size() == n) {
      SHUO_ASSIGN(Value l, make_list(std::move(cur)));
      out.push_back(std::move(l));
      cur.clear();
    }
  }
  if (!cur.empty()) {
    if (a[1] && !a[1]->is_none())
      while (cur.size() < n) cur.push_back(*a[1]);
    SHUO_ASSIGN(Value l, make_list(std::move(cur)));
    out.push_back(std::move(l));
  }
  return make_list(std::move(out));
}

Result<Value> f_capitalize(Runtime& rt, const Value& v, const Args&) {
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  return like_input(rt, v, py_capitalize(s));
}

Result<Value> f_center(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "center", {"width"}));
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  Args inner;
  inner.pos.push_back(a[0] ? *a[0] : Value::integer(80));
  return call_method(rt, v.is_markup() ? v : Value::string(std::move(s)), "center", inner);
}

Result<Value> f_length(Runtime&, const Value& v, const Args&) {
  SHUO_ASSIGN(int64_t n, py_length(v));
  return Value::integer(n);
}

Result<Value> f_default(Runtime&, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "default", {"default_value", "boolean"}));
  if (v.is_undefined() || (as_flag(a[1]) && !truthy(v))) return a[0] ? *a[0] : Value::string("");
  return v;
}

Result<Value> f_dictsort(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "dictsort", {"case_sensitive", "by", "reverse"}));
  if (!v.is_dict()) return template_error("dictsort() needs a mapping");
  const bool by_value = a[1] && a[1]->is_string() && a[1]->str() == "value";
  std::vector<std::pair<Value, Value>> keyed;  // (key, (k, v) tuple)
  for (const auto& [k, val] : v.dict().items) {
    SHUO_ASSIGN(Value key, sort_key(rt, by_value ? val : Value::string(k), "", as_flag(a[0])));
    SHUO_ASSIGN(Value pair, make_list({Value::string(k), val}, true));
    keyed.emplace_back(std::move(key), std::move(pair));
  }
  SHUO_TRY(rt.charge(keyed.size() * 4));
  SHUO_TRY(sort_by_key(rt, keyed, false));
  if (as_flag(a[2])) std::reverse(keyed.begin(), keyed.end());
  std::vector<Value> out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return make_list(std::move(out));
}

Result<Value> f_escape(Runtime& rt, const Value& v, const Args&) {
  if (v.is_markup()) return v;
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  std::string out = html_escape(s);
  if (out.size() > max_bytes(rt)) return limit_error("escaped text too long");
  SHUO_TRY(rt.charge(out.size() / kBytesPerStep));
  return Value::markup(std::move(out));
}

Result<Value> f_first(Runtime& rt, const Value& v, const Args&) {
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Result<Value> f_last(Runtime& rt, const Value& v, const Args&) {
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

// Python float(str): optional whitespace, sign, digits with '_', inf/nan.
std::optional<double> parse_float(std::string s) {
  s = py_strip(s, std::nullopt, true, true);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() && isdigit((unsigned char)s[i - 1]) &&
        isdigit((unsigned char)s[i + 1]))
      continue;
    clean += s[i];
  }
  if (clean.empty() || clean.find_first_of("xXpP") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return d;
}

// Python int(str, base) for bases 2, 8, 10, 16 (prefixes allowed with the matching base or 0).
std::optional<int64_t> parse_int(std::string s, int64_t base) {
  s = py_strip(s, std::nullopt, true, true);
  bool neg = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  auto prefix = [&](char c) {
    return i + 1 < s.size() && s[i] == '0' && (s[i + 1] == c || s[i + 1] == char(c - 32));
  };
  if ((base == 16 || base == 0) && prefix('x')) base = 16, i += 2;
  else if ((base == 8 || base == 0) && prefix('o')) base = 8, i += 2;
  else if ((base == 2 || base == 0) && prefix('b')) base = 2, i += 2;
  else if (base == 0) base = 10;
  if (base != 2 && base != 8 && base != 10 && base != 16) return std::nullopt;
  if (i >= s.size()) return std::nullopt;
  uint64_t v = 0;
  bool any = false;
  for (; i < s.size(); ++i) {
    if (s[i] == '_' && any && i + 1 < s.size() && s[i + 1] != '_') continue;
    const char c = char(std::tolower((unsigned char)s[i]));
    int d = (c >= '0' && c <= '9') ? c - '0' : ((c >= 'a' && c <= 'f') ? c - 'a' + 10 : 99);
    if (d >= base) return std::nullopt;
    if (v > (uint64_t(INT64_MAX) - uint64_t(d)) / uint64_t(base)) return std::nullopt;
    v = v * uint64_t(base) + uint64_t(d);
    any = true;
  }
  return neg ? -int64_t(v) : int64_t(v);
}

Result<Value> f_float(Runtime&, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "float", {"default"}));
  const Value dflt = a[0] ? *a[0] : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_float());
  if (v.is_string())
    if (auto d = parse_float(v.str())) return Value::number(*d);
  return dflt;
}

Result<Value> f_int(Runtime&, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "int", {"default", "base"}));
  const Value dflt = a[0] ? *a[0] : Value::integer(0);
  const int64_t base = a[1] && a[1]->is_int_like() ? a[1]->as_int() : 10;
  if (v.is_int_like()) return Value::integer(v.as_int());
  if (v.kind() == Kind::kFloat) {
    const double d = v.as_float();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return dflt;
    return Value::integer(int64_t(std::trunc(d)));
  }
  if (v.is_string()) {
    if (auto i = parse_int(v.str(), base)) return Value::integer(*i);
    if (auto d = parse_float(v.str()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18)
      return Value::integer(int64_t(std::trunc(*d)));
  }
  return dflt;
}

Result<Value> f_format(Runtime& rt, const Value& v, const Args& args) {
  if (!args.pos.empty() && !args.kw.empty())
    return template_error("can't handle positional and keyword arguments at the same time");
  SHUO_ASSIGN(std::string fmt, text_of(rt, v));
  Value arg;
  if (!args.kw.empty()) {
    auto d = std::make_shared<DictObj>();
    for (const auto& [k, x] : args.kw) d->set(k, x);
    SHUO_ASSIGN(arg, make_dict(std::move(d)));
  } else {
    SHUO_ASSIGN(arg, make_list(args.pos, true));
  }
  SHUO_ASSIGN(std::string s, percent_format(fmt, arg, max_bytes(rt), v.is_markup()));
  return like_input(rt, v, std::move(s));
}

Result<Value> f_indent(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "indent", {"width", "first", "blank"}));
  std::string ind(4, ' ');
  if (a[0] && a[0]->is_string()) {
    ind = a[0]->str();
  } else if (a[0] && a[0]->is_int_like()) {
    if (a[0]->as_int() > 4096) return limit_error("indent width too large");
    ind = std::string(size_t(std::max<int64_t>(a[0]->as_int(), 0)), ' ');
  }
  if (!v.is_string()) return template_error("indent() needs a string, got " + type_name(v));
  std::string s = v.str();
  s += "\n";  // as Jinja2 does, so that splitlines keeps a trailing empty line
  auto lines = py_splitlines(s, false);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += "\n";
    if (i && (as_flag(a[2]) || !lines[i].empty())) out += ind;
    out += lines[i];
    if (out.size() > max_bytes(rt)) return limit_error("indented text too long");
  }
  if (as_flag(a[1])) out = ind + out;
  return string_result(rt, std::move(out));
}

Result<Value> f_items(Runtime& rt, const Value& v, const Args& args) {
  if (v.is_undefined()) return make_list({});
  if (!v.is_dict()) return template_error("Can only get item pairs from a mapping.");
  return call_method(rt, v, "items", args);
}

Result<Value> f_join(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "join", {"d", "attribute"}));
  std::string sep;
  if (a[0]) {
    SHUO_ASSIGN(sep, text_of(rt, *a[0]));
  }
  SHUO_ASSIGN(std::string attribute, path_arg(a[1]));
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    Value item = items[i];
    if (!attribute.empty()) {
      SHUO_ASSIGN(item, lookup_path(rt, item, attribute));
    }
    SHUO_TRY(append_str(item, out, max_bytes(rt)));
  }
  return string_result(rt, std::move(out));
}

Result<Value> f_list(Runtime& rt, const Value& v, const Args&) {
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  return make_list(std::move(items));
}

Result<Value> f_lower(Runtime& rt, const Value& v, const Args&) {
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  return like_input(rt, v, py_lower(s));
}

Result<Value> f_upper(Runtime& rt, const Value& v, const Args&) {
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  return like_input(rt, v, py_upper(s));
}

Result<Value> f_map(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  std::vector<Value> out;
  out.reserve(items.size());
  if (args.pos.empty()) {  // map(attribute='x', default=...)
    std::optional<Value> attribute, dflt;
    for (const auto& [k, x] : args.kw) {
      if (k == "attribute") attribute = x;
      else if (k == "default") dflt = x;
      else return template_error("map() got an unexpected keyword argument '" + k + "'");
    }
    if (!attribute) return template_error("map() needs a filter name or attribute=");
    SHUO_ASSIGN(std::string path, path_arg(attribute));
    for (const auto& it : items) {
      SHUO_ASSIGN(Value x, lookup_path(rt, it, path));
      out.push_back(x.is_undefined() && dflt ? *dflt : x);
    }
    return make_list(std::move(out));
  }
  if (!args.pos[0].is_string()) return template_error("map() filter name must be a string");
  const std::string name = args.pos[0].str();
  if (!is_known_filter(name)) return template_error("No filter named '" + name + "'.");
  Args rest{std::vector<Value>(args.pos.begin() + 1, args.pos.end()), args.kw};
  for (const auto& it : items) {
    SHUO_ASSIGN(Value x, apply_filter(rt, name, it, rest));
    out.push_back(std::move(x));
  }
  return make_list(std::move(out));
}

Result<Value> min_max(Runtime& rt, const Value& v, const Args& args, bool want_max) {
  SHUO_ASSIGN(auto a, bind_args(args, want_max ? "max" : "min", {"case_sensitive", "attribute"}));
  SHUO_ASSIGN(std::string attribute, path_arg(a[1]));
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  SHUO_ASSIGN(Value best_key, sort_key(rt, items[0], attribute, as_flag(a[0])));
  for (size_t i = 1; i < items.size(); ++i) {
    SHUO_ASSIGN(Value k, sort_key(rt, items[i], attribute, as_flag(a[0])));
    SHUO_ASSIGN(int c, values_compare(rt, k, best_key));
    if (want_max ? c > 0 : c < 0) best = i, best_key = std::move(k);
  }
  return items[best];
}
Result<Value> f_max(Runtime& rt, const Value& v, const Args& args) { return min_max(rt, v, args, true); }
Result<Value> f_min(Runtime& rt, const Value& v, const Args& args) { return min_max(rt, v, args, false); }

Result<Value> f_replace(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "replace", {"old", "new", "count"}));
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  if (!a[0] || !a[1]) return template_error("replace() needs old and new");
  SHUO_ASSIGN(std::string old, text_of(rt, *a[0]));
  SHUO_ASSIGN(std::string repl, text_of(rt, *a[1]));
  const int64_t count = a[2] && a[2]->is_int_like() ? a[2]->as_int() : -1;
  SHUO_TRY(charge_search(rt, s.size(), old.size()));
  auto r = py_replace(s, old, repl, count, max_bytes(rt));
  if (!r) return limit_error("replace() result too long");
  return string_result(rt, std::move(*r));
}

Result<Value> f_reverse(Runtime& rt, const Value& v, const Args&) {
  if (v.is_string()) {
    const std::string& s = v.str();
    const auto offs = cp_offsets(s);
    std::string out;
    out.reserve(s.size());
    for (size_t k = offs.size() - 1; k > 0; --k) out.append(s, offs[k - 1], offs[k] - offs[k - 1]);
    return string_result(rt, std::move(out));
  }
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  std::reverse(items.begin(), items.end());
  return make_list(std::move(items));
}

Result<Value> f_round(Runtime&, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "round", {"precision", "method"}));
  const int64_t prec = a[0] && a[0]->is_int_like() ? a[0]->as_int() : 0;
  const std::string method = a[1] && a[1]->is_string() ? a[1]->str() : "common";
  if (method != "common" && method != "ceil" && method != "floor")
    return template_error("method must be common, ceil or floor");
  if (!v.is_number()) return template_error("type " + type_name(v) + " doesn't define __round__ method");
  if (prec < -300 || prec > 300) return template_error("round() precision out of range");
  if (method == "common") {
    if (v.is_int_like() && prec >= 0) return Value::integer(v.as_int());
    const double d = v.as_float();
    if (!std::isfinite(d)) return Value::number(d);
    if (prec >= 0) {  // glibc prints the exact binary value, ties to even: Python's round()
      char buf[512];
      std::snprintf(buf, sizeof buf, "%.*f", int(prec), d);
      return Value::number(std::strtod(buf, nullptr));
    }
    const double p = std::pow(10.0, double(-prec));
    return Value::number(std::nearbyint(d / p) * p);
  }
  const double p = std::pow(10.0, double(prec));
  const double x = v.as_float() * p;
  return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / p);
}

Result<Value> f_safe(Runtime& rt, const Value& v, const Args&) {
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  return Value::markup(std::move(s));
}

Result<Value> f_string(Runtime& rt, const Value& v, const Args&) {
  if (v.is_string()) return v;  // Markup stays Markup
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  return Value::string(std::move(s));
}

// select/reject/selectattr/rejectattr share this: keep items whose (attribute's) test result
// equals `keep`.
Result<Value> select_common(Runtime& rt, const Value& v, const Args& args, bool by_attr, bool keep) {
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  size_t at = 0;
  std::string attribute;
  if (by_attr) {
    if (args.pos.empty()) return template_error("Missing parameter for attribute name");
    SHUO_ASSIGN(attribute, path_arg(args.pos[0]));
    at = 1;
  }
  std::string test;
  if (at < args.pos.size()) {
    if (!args.pos[at].is_string()) return template_error("test name must be a string");
    test = args.pos[at].str();
    if (!is_known_test(test)) return template_error("No test named '" + test + "'.");
    ++at;
  }
  Args test_args{std::vector<Value>(args.pos.begin() + std::min(at, args.pos.size()), args.pos.end()),
                 args.kw};
  std::vector<Value> out;
  for (const auto& it : items) {
    Value x = it;
    if (by_attr) {
      SHUO_ASSIGN(x, lookup_path(rt, it, attribute));
    }
    bool r;
    if (test.empty()) {
      r = truthy(x);
    } else {
      SHUO_ASSIGN(r, apply_test(rt, test, x, test_args));
    }
    if (r == keep) out.push_back(it);
  }
  return make_list(std::move(out));
}
Result<Value> f_select(Runtime& rt, const Value& v, const Args& a) { return select_common(rt, v, a, false, true); }
Result<Value> f_reject(Runtime& rt, const Value& v, const Args& a) { return select_common(rt, v, a, false, false); }
Result<Value> f_selectattr(Runtime& rt, const Value& v, const Args& a) { return select_common(rt, v, a, true, true); }
Result<Value> f_rejectattr(Runtime& rt, const Value& v, const Args& a) { return select_common(rt, v, a, true, false); }

Result<Value> f_sort(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "sort", {"reverse", "case_sensitive", "attribute"}));
  SHUO_ASSIGN(std::string attribute, path_arg(a[2]));
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& it : items) {
    SHUO_ASSIGN(Value k, sort_key(rt, it, attribute, as_flag(a[1])));
    keyed.emplace_back(std::move(k), std::move(it));
  }
  SHUO_TRY(rt.charge(keyed.size() * 4));
  const bool reverse = as_flag(a[0]);
  SHUO_TRY(sort_by_key(rt, keyed, reverse));
  std::vector<Value> out;
  for (auto& kv : keyed) out.push_back(std::move(kv.second));
  return make_list(std::move(out));
}

Result<Value> f_sum(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "sum", {"attribute", "start"}));
  SHUO_ASSIGN(std::string attribute, path_arg(a[0]));
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  Value total = a[1] ? *a[1] : Value::integer(0);
  for (const auto& it : items) {
    Value x = it;
    if (!attribute.empty()) {
      SHUO_ASSIGN(x, lookup_path(rt, it, attribute));
    }
    SHUO_ASSIGN(total, binary_op(rt, BinOp::kAdd, total, x));
  }
  return total;
}

Result<Value> f_title(Runtime& rt, const Value& v, const Args&) {
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  // Jinja2 capitalizes each piece between runs of whitespace, '-', '(', '{', '[' and '<'.
  std::string out;
  bool word_start = true;
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_decode(s, i, &cp);
    const std::string_view ch(s.data() + i, n);
    const bool sep = py_isspace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    if (sep) {
      out += ch;
    } else {
      out += word_start ? py_upper(ch) : py_lower(ch);
    }
    word_start = sep;
    i += n;
  }
  return string_result(rt, std::move(out));
}

Result<Value> f_tojson(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"}));
  JsonStyle st;
  st.ensure_ascii = as_flag(a[0]);
  st.sort_keys = as_flag(a[3]);
  if (a[1] && !a[1]->is_none()) {
    st.pretty = true;
    st.item_sep = ",";
    if (a[1]->is_string()) {
      st.indent = a[1]->str();
    } else if (a[1]->is_int_like()) {
      if (a[1]->as_int() > 1024) return limit_error("tojson indent too large");
      st.indent = std::string(size_t(std::max<int64_t>(a[1]->as_int(), 0)), ' ');
    } else {
      return template_error("tojson indent must be an int or a string");
    }
  }
  if (a[2] && !a[2]->is_none()) {
    const Value& sep = *a[2];
    if (!sep.is_list() || sep.list().items.size() != 2 || !sep.list().items[0].is_string() ||
        !sep.list().items[1].is_string())
      return template_error("tojson separators must be (item_separator, key_separator)");
    st.item_sep = sep.list().items[0].str();
    st.key_sep = sep.list().items[1].str();
  }
  std::string out;
  SHUO_TRY(append_json(v, st, out, max_bytes(rt)));
  return string_result(rt, std::move(out));
}

Result<Value> f_trim(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "trim", {"chars"}));
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  std::optional<std::string> chars;
  if (a[0] && !a[0]->is_none()) {
    SHUO_ASSIGN(chars, text_of(rt, *a[0]));
  }
  return like_input(rt, v, py_strip(s, chars, true, true));
}

Result<Value> f_truncate(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "truncate", {"length", "killwords", "end", "leeway"}));
  if (!v.is_string()) return template_error("truncate() needs a string, got " + type_name(v));
  std::string s = v.str();
  const int64_t length = a[0] && a[0]->is_int_like() ? a[0]->as_int() : 255;
  std::string end = "...";
  if (a[2]) {
    SHUO_ASSIGN(end, text_of(rt, *a[2]));
  }
  const int64_t leeway = a[3] && a[3]->is_int_like() ? a[3]->as_int() : 5;
  const int64_t end_len = int64_t(py_len(end));
  if (length < end_len || leeway < 0) return template_error("truncate() length or leeway out of range");
  const auto offs = cp_offsets(s);
  if (int64_t(offs.size()) - 1 <= length + leeway) return Value::string(std::move(s));
  std::string head = s.substr(0, offs[size_t(length - end_len)]);
  if (!as_flag(a[1])) {
    const size_t sp = head.rfind(' ');
    if (sp != std::string::npos) head.resize(sp);
  }
  return Value::string(head + end);
}

Result<Value> f_unique(Runtime& rt, const Value& v, const Args& args) {
  SHUO_ASSIGN(auto a, bind_args(args, "unique", {"case_sensitive", "attribute"}));
  SHUO_ASSIGN(std::string attribute, path_arg(a[1]));
  SHUO_ASSIGN(std::vector<Value> items, iterate(rt, v));
  Work w;
  w.limit = rt.steps_left();
  std::vector<Value> out, seen;
  for (const auto& it : items) {
    SHUO_ASSIGN(Value k, sort_key(rt, it, attribute, as_flag(a[0])));
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k, &w); }))
      continue;
    if (w.exhausted()) break;
    seen.push_back(std::move(k));
    out.push_back(it);
  }
  SHUO_TRY(rt.charge(w.used));
  return make_list(std::move(out));
}

bool is_word_cp(uint32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (py_isspace(c) || (c >= 0xA0 && c <= 0xBF) || c == 0xD7 || c == 0xF7) return false;
  if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) || (c >= 0xFF01 && c <= 0xFF0F) ||
      (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) ||
      (c >= 0x1F000 && c <= 0x1FAFF))
    return false;
  return true;
}

Result<Value> f_wordcount(Runtime& rt, const Value& v, const Args&) {
  SHUO_ASSIGN(std::string s, text_of(rt, v));
  int64_t n = 0;
  bool in_word = false;
  uint32_t cp;
  for (size_t i = 0; i < s.size(); i += utf8_decode(s, i, &cp)) {
    utf8_decode(s, i, &cp);
    const bool w = is_word_cp(cp);
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};

constexpr FilterEntry kFilters[] = {
    {"abs", f_abs},           {"attr", f_attr},         {"batch", f_batch},
    {"capitalize", f_capitalize}, {"center", f_center}, {"count", f_length},
    {"d", f_default},         {"default", f_default},   {"dictsort", f_dictsort},
    {"e", f_escape},          {"escape", f_escape},     {"first", f_first},
    {"float", f_float},       {"format", f_format},     {"indent", f_indent},
    {"int", f_int},           {"items", f_items},       {"join", f_join},
    {"last", f_last},         {"length", f_length},     {"list", f_list},
    {"lower", f_lower},       {"map", f_map},           {"max", f_max},
    {"min", f_min},           {"reject", f_reject},     {"rejectattr", f_rejectattr},
    {"replace", f_replace},   {"reverse", f_reverse},   {"round", f_round},
    {"safe", f_safe},         {"select", f_select},     {"selectattr", f_selectattr},
    {"sort", f_sort},         {"string", f_string},     {"sum", f_sum},
    {"title", f_title},       {"tojson", f_tojson},     {"trim", f_trim},
    {"truncate", f_truncate}, {"unique", f_unique},     {"upper", f_upper},
    {"wordcount", f_wordcount},
};

}  // namespace

bool is_known_filter(std::string_view name) {
  for (const auto& f : kFilters)
    if (f.name == name) return true;
  return false;
}

Result<Value> apply_filter(Runtime& rt, std::string_view name, const Value& input, const Args& args) {
  SHUO_TRY(rt.charge(1 + input.cost()));
  for (const auto& f : kFilters)
    if (f.name == name) return f.fn(rt, input, args);
  return template_error("No filter named '" + std::string(name) + "'.");
}

}  // namespace shuo::text::jinja

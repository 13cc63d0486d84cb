// Values of the chat-template interpreter: construction, Python str()/repr(), json.dumps, ==, <.
#include "text/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "text/jinja_pystr.h"

namespace shuo::text::jinja {

// ---- Value ----

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.p_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.i_ = i;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.f_ = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.p_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::markup(std::string s) {
  Value v = string(std::move(s));
  v.markup_ = true;
  return v;
}

Value Value::list(std::shared_ptr<const ListObj> l) {
  Value v;
  v.kind_ = Kind::kList;
  v.p_ = std::move(l);
  return v;
}

Value Value::dict(std::shared_ptr<const DictObj> d) {
  Value v;
  v.kind_ = Kind::kDict;
  v.p_ = std::move(d);
  return v;
}

Value Value::name_space(NamespaceObj* ns) {
  Value v;
  v.kind_ = Kind::kNamespace;
  v.ns_ = ns;
  return v;
}

Value Value::callable(std::shared_ptr<const CallableObj> c) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.p_ = std::move(c);
  return v;
}

Value Value::loop(std::shared_ptr<LoopObj> l) {
  Value v;
  v.kind_ = Kind::kLoop;
  v.p_ = std::move(l);
  return v;
}

const std::string& Value::str() const { return *static_cast<const std::string*>(p_.get()); }
const ListObj& Value::list() const { return *static_cast<const ListObj*>(p_.get()); }
const DictObj& Value::dict() const { return *static_cast<const DictObj*>(p_.get()); }
const CallableObj& Value::callable() const {
  return *static_cast<const CallableObj*>(p_.get());
}
LoopObj& Value::loop() const {
  return *const_cast<LoopObj*>(static_cast<const LoopObj*>(p_.get()));
}

const std::string& Value::undefined_hint() const {
  static const std::string kEmpty;
  if (kind_ != Kind::kUndefined || !p_) return kEmpty;
  return *static_cast<const std::string*>(p_.get());
}

std::shared_ptr<const ListObj> Value::list_ptr() const {
  return std::static_pointer_cast<const ListObj>(p_);
}

uint64_t Value::cost() const {
  switch (kind_) {
    case Kind::kString: return str().size() / kBytesPerStep;
    case Kind::kList: return list().items.size() / 16;
    case Kind::kDict: return dict().items.size() / 16;
    default: return 0;
  }
}

int Value::depth() const {
  if (kind_ == Kind::kList) return list().depth;
  if (kind_ == Kind::kDict) return dict().depth;
  return 0;
}

// ---- containers ----

const Value* DictObj::find(std::string_view key) const {
  if (!index_.empty()) {
    auto it = index_.find(std::string(key));
    return it == index_.end() ? nullptr : &items[it->second].second;
  }
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void DictObj::set(std::string key, Value v) {
  constexpr size_t kIndexFrom = 12;
  if (index_.empty()) {
    for (auto& [k, old] : items)
      if (k == key) {
        old = std::move(v);
        return;
      }
    items.emplace_back(std::move(key), std::move(v));
    if (items.size() >= kIndexFrom)
      for (size_t i = 0; i < items.size(); ++i) index_.emplace(items[i].first, i);
    return;
  }
  auto [it, inserted] = index_.emplace(key, items.size());
  if (!inserted) {
    items[it->second].second = std::move(v);
    return;
  }
  items.emplace_back(std::move(key), std::move(v));
}

const Value* NamespaceObj::find(std::string_view key) const {
  for (const auto& [k, v] : attrs)
    if (k == key) return &v;
  return nullptr;
}

void NamespaceObj::set(std::string key, Value v) {
  for (auto& [k, old] : attrs)
    if (k == key) {
      old = std::move(v);
      return;
    }
  attrs.emplace_back(std::move(key), std::move(v));
}

Error template_error(std::string message) {
  return Error{ErrorCode::kBadField, "", std::move(message)};
}

Error limit_error(std::string message) {
  return Error{ErrorCode::kLimit, "", std::move(message)};
}

namespace {
Error too_deep() {
  return limit_error("values nest deeper than " + std::to_string(kMaxValueDepth) + " levels");
}
}  // namespace

Result<Value> make_list(std::vector<Value> items, bool is_tuple) {
  auto l = std::make_shared<ListObj>();
  int d = 0;
  for (const auto& v : items) d = std::max(d, v.depth());
  if (d + 1 > kMaxValueDepth) return too_deep();
  l->items = std::move(items);
  l->is_tuple = is_tuple;
  l->depth = d + 1;
  return Value::list(std::move(l));
}

Result<Value> make_dict(std::shared_ptr<DictObj> d) {
  int depth = 0;
  for (const auto& kv : d->items) depth = std::max(depth, kv.second.depth());
  if (depth + 1 > kMaxValueDepth) return too_deep();
  d->depth = depth + 1;
  return Value::dict(std::move(d));
}

Result<Value> from_json(const nlohmann::ordered_json& j, int depth) {
  using T = nlohmann::ordered_json::value_t;
  if (depth > kMaxValueDepth) return too_deep();
  switch (j.type()) {
    case T::null: return Value::none();
    case T::boolean: return Value::boolean(j.get<bool>());
    case T::number_integer: return Value::integer(j.get<int64_t>());
    case T::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u <= uint64_t(INT64_MAX)) return Value::integer(int64_t(u));
      return Value::number(double(u));
    }
    case T::number_float: return Value::number(j.get<double>());
    case T::string: return Value::string(j.get<std::string>());
    case T::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) {
        SHUO_ASSIGN(Value v, from_json(e, depth + 1));
        items.push_back(std::move(v));
      }
      return make_list(std::move(items));
    }
    case T::object: {
      auto d = std::make_shared<DictObj>();
      for (const auto& [k, e] : j.items()) {
        SHUO_ASSIGN(Value v, from_json(e, depth + 1));
        d->set(k, std::move(v));
      }
      return make_dict(std::move(d));
    }
    default: return Value::none();  // binary / discarded: not produced by JSON text
  }
}

// ---- Python semantics ----

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return v.as_bool();
    case Kind::kInt: return v.as_int() != 0;
    case Kind::kFloat: return v.as_float() != 0.0;
    case Kind::kString: return !v.str().empty();
    case Kind::kList: return !v.list().items.empty();
    case Kind::kDict: return !v.dict().items.empty();
    default: return true;
  }
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kList: return v.list().is_tuple ? "tuple" : "list";
    case Kind::kDict: return "dict";
    case Kind::kNamespace: return "Namespace";
    case Kind::kCallable: return v.callable().type == CallableType::kMacro ? "Macro" : "function";
    case Kind::kLoop: return "LoopContext";
  }
  return "object";
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, size_t(r.ptr - buf));  // "-1.2345e+02"
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.remove_prefix(1);
  }
  const size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.') digits += c;
  const int exp = std::atoi(std::string(sci.substr(e + 1)).c_str());
  std::string out = sign;
  if (exp < -4 || exp >= 16) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return out + eb;
  }
  if (exp < 0) return out + "0." + std::string(size_t(-exp - 1), '0') + digits;
  const size_t int_len = size_t(exp) + 1;
  if (digits.size() <= int_len) return out + digits + std::string(int_len - digits.size(), '0') + ".0";
  return out + digits.substr(0, int_len) + "." + digits.substr(int_len);
}

namespace {

// Python's str.isprintable() for the characters text actually contains (approximate beyond).
bool py_printable(uint32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;
  if (c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F)) return false;
  if ((c >= 0x205F && c <= 0x206F) || c == 0x3000 || c == 0xFEFF) return false;
  if ((c >= 0xD800 && c <= 0xF8FF) || (c >= 0xFFF0 && c <= 0xFFFB) || c == 0xFFFE || c == 0xFFFF)
    return false;
  if (c >= 0xE0000) return false;
  return true;
}

Result<void> check_size(const std::string& out, size_t max_bytes) {
  if (out.size() > max_bytes)
    return limit_error("text grew past " + std::to_string(max_bytes) + " bytes");
  return {};
}

Result<void> append_seq(const Value& v, std::string& out, size_t max_bytes, int depth) {
  const auto& l = v.list();
  out += l.is_tuple ? '(' : '[';
  for (size_t i = 0; i < l.items.size(); ++i) {
    if (i) out += ", ";
    SHUO_TRY(append_repr(l.items[i], out, max_bytes, depth + 1));
  }
  if (l.is_tuple && l.items.size() == 1) out += ',';
  out += l.is_tuple ? ')' : ']';
  return check_size(out, max_bytes);
}

template <typename Items>
Result<void> append_mapping(const Items& items, std::string& out, size_t max_bytes, int depth) {
  out += '{';
  bool first = true;
  for (const auto& [k, val] : items) {
    if (!first) out += ", ";
    first = false;
    out += repr_string(k);
    out += ": ";
    SHUO_TRY(append_repr(val, out, max_bytes, depth + 1));
  }
  out += '}';
  return check_size(out, max_bytes);
}

}  // namespace

std::string repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char q = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, q);
  uint32_t c;
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_decode(s, i, &c);
    char buf[16];
    if (c == uint32_t(q) || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (n == 1 && c >= 0x80) {  // an invalid byte: shown like Python's surrogateescape
      std::snprintf(buf, sizeof buf, "\\udc%02x", unsigned(c));
      out += buf;
    } else if (!py_printable(c)) {
      if (c < 0x100) {
        std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
      } else if (c < 0x10000) {
        std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
      } else {
        std::snprintf(buf, sizeof buf, "\\U%08x", unsigned(c));
      }
      out += buf;
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out += q;
  return out;
}

Result<void> append_str(const Value& v, std::string& out, size_t max_bytes, int depth) {
  if (depth > kMaxValueDepth) return too_deep();
  switch (v.kind()) {
    case Kind::kUndefined: return {};
    case Kind::kNone: out += "None"; break;
    case Kind::kBool: out += v.as_bool() ? "True" : "False"; break;
    case Kind::kInt: out += std::to_string(v.as_int()); break;
    case Kind::kFloat: out += format_float(v.as_float()); break;
    case Kind::kString: out += v.str(); break;
    case Kind::kList: return append_seq(v, out, max_bytes, depth);
    case Kind::kDict: return append_mapping(v.dict().items, out, max_bytes, depth);
    case Kind::kNamespace:
      out += "<Namespace ";
      SHUO_TRY(append_mapping(v.ns()->attrs, out, max_bytes, depth));
      out += '>';
      break;
    case Kind::kCallable:
      if (v.callable().type == CallableType::kMacro) {
        out += "<Macro '" + v.callable().name + "'>";
      } else {
        out += "<built-in method " + v.callable().name + ">";
      }
      break;
    case Kind::kLoop: {
      const auto& l = v.loop();
      out += "<LoopContext " + std::to_string(l.index0 + 1) + "/" +
             std::to_string(l.items ? l.items->items.size() : 0) + ">";
      break;
    }
  }
  return check_size(out, max_bytes);
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Result<void> append_repr(const Value& v, std::string& out, size_t max_bytes, int depth) {
  if (v.is_string()) {
    if (v.is_markup()) out += "Markup(";
    out += repr_string(v.str());
    if (v.is_markup()) out += ")";
    return check_size(out, max_bytes);
  }
  if (v.is_undefined()) {
    out += "Undefined";
    return {};
  }
  return append_str(v, out, max_bytes, depth);
}

Result<std::string> to_str(const Value& v, size_t max_bytes) {
  if (v.is_string()) return v.str();
  std::string s;
  SHUO_TRY(append_str(v, s, max_bytes));
  return s;
}

// ---- json.dumps ----

namespace {

void append_json_string(std::string_view s, bool ensure_ascii, std::string& out) {
  out += '"';
  uint32_t c;
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_decode(s, i, &c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
          if (c >= 0x10000) {
            const uint32_t v = c - 0x10000;
            std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", unsigned(0xD800 + (v >> 10)),
                          unsigned(0xDC00 + (v & 0x3FF)));
          } else {
            std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
          }
          out += buf;
        } else {
          out.append(s.substr(i, n));
        }
    }
    i += n;
  }
  out += '"';
}

void newline_indent(const JsonStyle& st, int level, std::string& out) {
  out += '\n';
  for (int i = 0; i < level; ++i) out += st.indent;
}

}  // namespace

Result<void> append_json(const Value& v, const JsonStyle& st, std::string& out, size_t max_bytes,
                         int level) {
  if (level > kMaxValueDepth) return too_deep();
  switch (v.kind()) {
    case Kind::kNone: out += "null"; return {};
    case Kind::kBool: out += v.as_bool() ? "true" : "false"; return {};
    case Kind::kInt: out += std::to_string(v.as_int()); return {};
    case Kind::kFloat: {
      const double d = v.as_float();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        out += format_float(d);
      }
      return {};
    }
    case Kind::kString:
      append_json_string(v.str(), st.ensure_ascii, out);
      return check_size(out, max_bytes);
    case Kind::kList: {
      const auto& items = v.list().items;
      if (items.empty()) {
        out += "[]";
        return {};
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += st.item_sep;
        if (st.pretty) newline_indent(st, level + 1, out);
        SHUO_TRY(append_json(items[i], st, out, max_bytes, level + 1));
      }
      if (st.pretty) newline_indent(st, level, out);
      out += ']';
      return check_size(out, max_bytes);
    }
    case Kind::kDict:
    case Kind::kNamespace: {
      if (v.kind() == Kind::kNamespace) break;  // not serializable, like Python
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.dict().items) items.push_back(&kv);
      if (items.empty()) {
        out += "{}";
        return {};
      }
      if (st.sort_keys)
        std::sort(items.begin(), items.end(),
                  [](const auto* a, const auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += st.item_sep;
        if (st.pretty) newline_indent(st, level + 1, out);
        append_json_string(items[i]->first, st.ensure_ascii, out);
        out += st.key_sep;
        SHUO_TRY(append_json(items[i]->second, st, out, max_bytes, level + 1));
      }
      if (st.pretty) newline_indent(st, level, out);
      out += '}';
      return check_size(out, max_bytes);
    }
    default: break;
  }
  return template_error("Object of type " + type_name(v) + " is not JSON serializable");
}

// ---- comparison ----

bool equals(const Value& a, const Value& b, Work* work, int depth) {
  if (depth > kMaxValueDepth) return false;
  if (a.same_object(b)) return true;
  if (work && !work->spend(1 + (a.is_string() && b.is_string()
                                    ? std::min(a.str().size(), b.str().size()) / 64
                                    : 0)))
    return false;
  if (a.is_number() && b.is_number()) {
    if (a.is_int_like() && b.is_int_like()) return a.as_int() == b.as_int();
    return a.as_float() == b.as_float();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNone: return true;
    case Kind::kString: return a.str() == b.str();
    case Kind::kList: {
      const auto& x = a.list();
      const auto& y = b.list();
      if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!equals(x.items[i], y.items[i], work, depth + 1)) return false;
      return true;
    }
    case Kind::kDict: {
      const auto& x = a.dict();
      const auto& y = b.dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* o = y.find(k);
        if (!o || !equals(v, *o, work, depth + 1)) return false;
      }
      return true;
    }
    case Kind::kNamespace: return a.ns() == b.ns();
    case Kind::kCallable: return &a.callable() == &b.callable();
    case Kind::kLoop: return &a.loop() == &b.loop();
    default: return false;
  }
}

Result<int> compare(const Value& a, const Value& b, Work* work, int depth) {
  if (depth > kMaxValueDepth) return too_deep();
  if (work && !work->spend(1 + (a.is_string() && b.is_string()
                                    ? std::min(a.str().size(), b.str().size()) / 64
                                    : 0)))
    return 0;
  if (a.is_number() && b.is_number()) {
    if (a.is_int_like() && b.is_int_like())
      return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
    const double x = a.as_float(), y = b.as_float();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.list().is_tuple == b.list().is_tuple) {
    const auto& x = a.list().items;
    const auto& y = b.list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i], work, depth + 1)) continue;
      if (work && work->exhausted()) return 0;
      return compare(x[i], y[i], work, depth + 1);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  return template_error("'<' not supported between instances of '" + type_name(a) + "' and '" +
                        type_name(b) + "'");
}

}  // namespace shuo::text::jinja

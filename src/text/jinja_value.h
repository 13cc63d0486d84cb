// Values of the chat-template interpreter: Python's None/bool/int/float/str/list/tuple/dict plus
// Jinja's undefined, namespaces, callables and loop objects, with Python's str()/repr()/==/<
// rules and json.dumps output, so renders match Jinja2 byte for byte.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace shuo::text::jinja {

// Work limits for one render. Real chat templates use a tiny fraction of each; a hostile or
// broken template ends in an ErrorCode::kLimit error instead of hanging or exhausting memory.
struct Limits {
  size_t max_output_bytes = 8u << 20;          // rendered text, and any one string built on the way
  size_t max_items = 1u << 20;                 // elements of one list/dict; range() length
  uint64_t max_steps = 20'000'000;             // nodes evaluated + iterations + bytes / 8
  uint64_t max_loop_iterations = 1'000'000;    // all loops of one render together
  int max_call_depth = 64;                     // nested macro calls and recursive loops
};

// Work accounting: reading, building or decoding this many string bytes costs one step (about
// what evaluating one expression node costs). It also bounds memory: every string alive was paid.
inline constexpr uint64_t kBytesPerStep = 8;

// Lists and dicts nest at most this deep (printing, comparing and freeing them recurse).
inline constexpr int kMaxValueDepth = 100;

struct ListObj;
struct DictObj;
struct NamespaceObj;
struct CallableObj;
struct LoopObj;

enum class Kind : uint8_t {
  kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kCallable, kLoop
};

// A cheap-to-copy handle: strings and containers are shared and immutable once built (the
// environment is Jinja2's ImmutableSandboxedEnvironment). Namespaces are the one mutable object;
// they live in the render's arena and Values only point at them, so no reference cycle can leak.
class Value {
 public:
  Value() = default;  // undefined, no name
  static Value undefined(std::string hint);  // hint: what was missing, for error messages
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  // markupsafe's Markup (from |safe, |escape): a string that `+`, `%` and str methods combine
  // with others by HTML-escaping those — Jinja2 does this even with autoescape off.
  static Value markup(std::string s);
  static Value list(std::shared_ptr<const ListObj> l);
  static Value dict(std::shared_ptr<const DictObj> d);
  static Value name_space(NamespaceObj* ns);
  static Value callable(std::shared_ptr<const CallableObj> c);
  static Value loop(std::shared_ptr<LoopObj> l);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_markup() const { return kind_ == Kind::kString && markup_; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  // int or bool (Python's bool is an int); is_number adds float.
  bool is_int_like() const { return kind_ == Kind::kInt || kind_ == Kind::kBool; }
  bool is_number() const { return is_int_like() || kind_ == Kind::kFloat; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::kBool ? int64_t(b_) : i_; }  // int or bool
  double as_float() const { return kind_ == Kind::kFloat ? f_ : double(as_int()); }
  const std::string& str() const;  // kString
  const ListObj& list() const;     // kList
  const DictObj& dict() const;     // kDict
  NamespaceObj* ns() const { return ns_; }
  const CallableObj& callable() const;
  LoopObj& loop() const;
  const std::string& undefined_hint() const;  // "" when none
  std::shared_ptr<const ListObj> list_ptr() const;
  int depth() const;  // container nesting: 0 for scalars
  // Shallow size for work accounting: string bytes / kBytesPerStep, list/dict elements / 16.
  uint64_t cost() const;
  // Same heap object (a string/list/dict shared by both): equal without looking inside.
  bool same_object(const Value& o) const { return p_ && p_ == o.p_ && kind_ == o.kind_; }

 private:
  Kind kind_ = Kind::kUndefined;
  bool markup_ = false;
  union {
    bool b_;
    int64_t i_;
    double f_;
    NamespaceObj* ns_;
  };
  std::shared_ptr<const void> p_;  // string, list, dict, callable, loop, undefined hint
};

struct ListObj {
  std::vector<Value> items;
  bool is_tuple = false;
  int depth = 1;
};

// Insertion-ordered string-keyed map (Python dicts keep insertion order).
struct DictObj {
  std::vector<std::pair<std::string, Value>> items;
  int depth = 1;

  const Value* find(std::string_view key) const;
  void set(std::string key, Value v);  // replaces in place when the key exists

 private:
  std::unordered_map<std::string, size_t> index_;  // built once items grow past a few
};

// Jinja's namespace(): attributes assignable with {% set ns.x = ... %}.
struct NamespaceObj {
  std::vector<std::pair<std::string, Value>> attrs;
  const Value* find(std::string_view key) const;
  void set(std::string key, Value v);
};

struct Macro;  // defined by the evaluator
struct Stmt;
struct Scope;

enum class CallableType {
  kGlobal,       // range, namespace, dict, raise_exception, strftime_now: `name`
  kMethod,       // `name` bound to `self` (str.strip, dict.items, ...)
  kMacro,        // a {% macro %} or a call block's caller()
  kLoopMethod,   // loop.cycle / loop.changed, `name`, bound to `self`
  kLoopRecurse,  // loop(...) in a `recursive` for
};

struct CallableObj {
  CallableType type = CallableType::kGlobal;
  std::string name;
  Value self;
  const Macro* macro = nullptr;  // kMacro; owned by the render's arena
};

// Jinja's `loop` object; one per for statement, advanced in place like Jinja2's LoopContext.
struct LoopObj {
  std::shared_ptr<const ListObj> items;  // after the loop's `if` filter
  size_t index0 = 0;
  int depth0 = 0;
  const Stmt* stmt = nullptr;        // for loop(...) in recursive loops
  std::weak_ptr<Scope> scope;        // the scope the for statement runs in
  bool has_last_changed = false;     // loop.changed() state
  Value last_changed;
};

// ---- construction with limits ----

// Errors for the evaluator to locate: code kBadField (a template/input problem), where "".
Error template_error(std::string message);
Error limit_error(std::string message);  // kLimit

// Lists and dicts built by templates go through these: they enforce kMaxValueDepth.
Result<Value> make_list(std::vector<Value> items, bool is_tuple = false);
Result<Value> make_dict(std::shared_ptr<DictObj> d);

// JSON (messages, tools, extra variables) to values; objects keep their key order.
Result<Value> from_json(const nlohmann::ordered_json& j, int depth = 0);

// ---- Python semantics ----

bool truthy(const Value& v);
// Python's type name as in its error messages: 'str', 'int', 'dict', 'NoneType', ...
std::string type_name(const Value& v);

// Python str(v) / repr(v) appended to out; fails past max_bytes or too deep (namespace cycles).
Result<void> append_str(const Value& v, std::string& out, size_t max_bytes, int depth = 0);
Result<void> append_repr(const Value& v, std::string& out, size_t max_bytes, int depth = 0);
Result<std::string> to_str(const Value& v, size_t max_bytes);

// Python repr(float): shortest round-trip digits, "1.0", "1e+16", "1.5e-05", "inf", "nan".
std::string format_float(double d);
// Python repr(str): single quotes unless the text has ' and no ".
std::string repr_string(std::string_view s);
// markupsafe.escape: & < > " ' as &amp; &lt; &gt; &#34; &#39;.
std::string html_escape(std::string_view s);

// json.dumps(v, ensure_ascii, indent, separators, sort_keys).
struct JsonStyle {
  bool pretty = false;          // indent given
  std::string indent;           // per level, when pretty
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::string item_sep = ", ";  // "," by default when pretty
  std::string key_sep = ": ";
};
Result<void> append_json(const Value& v, const JsonStyle& style, std::string& out,
                         size_t max_bytes, int level = 0);

// Work of one comparison of deep values: a step per element and per 64 string bytes. Once past
// `limit` the comparison stops early, its result meaningless; the caller reports the limit.
struct Work {
  uint64_t used = 0;
  uint64_t limit = UINT64_MAX;
  bool spend(uint64_t n) {
    used += n;
    return used <= limit;
  }
  bool exhausted() const { return used > limit; }
};

// Python ==: 1 == 1.0 == True, lists and dicts deeply, undefined == undefined.
bool equals(const Value& a, const Value& b, Work* work = nullptr, int depth = 0);
// Python ordering for <, <=, >, >=, sort: numbers, strings, lists/tuples; TypeError otherwise.
Result<int> compare(const Value& a, const Value& b, Work* work = nullptr, int depth = 0);

}  // namespace shuo::text::jinja

// Built-in behaviour of the chat-template interpreter: operators, attribute/item access, global
// functions, str/dict/list methods, filters and tests — the parts of Jinja2 and Python that real
// chat templates use, with their Python semantics.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "text/jinja_value.h"

namespace shuo::text::jinja {

enum class BinOp;
enum class CmpOp;

// Python call arguments.
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

// Binds args to a signature: slot i holds parameter names[i] if given (positionally or by
// keyword). Unknown keywords and surplus positionals are errors naming fn.
Result<std::vector<std::optional<Value>>> bind_args(const Args& args, std::string_view fn,
                                                    std::initializer_list<std::string_view> names);

// What built-ins need from the running render.
class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual const Limits& limits() const = 0;
  // Spends work budget (see Limits::max_steps); fails once it is gone.
  virtual Result<void> charge(uint64_t steps) = 0;
  virtual uint64_t steps_left() const = 0;
  // A namespace owned by the render (lives until it ends).
  virtual NamespaceObj* new_namespace() = 0;
  // Calls any callable value (macros included).
  virtual Result<Value> call(const Value& callee, const Args& args) = 0;
};

// Where errors from raise_exception() point: Error::where == kRaiseExceptionWhere and
// Error::message is exactly the template's message.
inline constexpr std::string_view kRaiseExceptionWhere = "raise_exception";

// ---- operators and access (jinja_ops.cc) ----
// Every operation whose time grows with its operands' size charges that work to rt, before
// doing it where it could be large (searching, comparing deep values).
Result<bool> values_equal(Runtime& rt, const Value& a, const Value& b);
Result<int> values_compare(Runtime& rt, const Value& a, const Value& b);
// A substring search for m bytes in n bytes, charged at its worst case.
Result<void> charge_search(Runtime& rt, size_t n, size_t m);

Result<Value> binary_op(Runtime& rt, BinOp op, const Value& a, const Value& b);
Result<bool> compare_op(Runtime& rt, CmpOp op, const Value& a, const Value& b);
// Python `item in container`.
Result<bool> contains(Runtime& rt, const Value& container, const Value& item);
// obj.name: dict keys, namespace attributes, loop fields, bound methods; undefined when absent.
Result<Value> get_attr(const Value& obj, std::string_view name);
// obj[key]: item first, then attribute for string keys; undefined when absent.
Result<Value> get_item(Runtime& rt, const Value& obj, const Value& key);
// obj[start:stop:step] on str, list and tuple; absent parts as nullopt.
Result<Value> get_slice(Runtime& rt, const Value& obj, const std::optional<Value>& start,
                        const std::optional<Value>& stop, const std::optional<Value>& step);
// The items a for loop visits: list/tuple elements, dict keys, string characters; undefined
// gives none.
Result<std::vector<Value>> iterate(Runtime& rt, const Value& v);
Result<int64_t> py_length(const Value& v);

// ---- globals and methods (jinja_methods.cc) ----
bool is_global_function(std::string_view name);
Result<Value> call_global(Runtime& rt, std::string_view name, const Args& args);
Result<Value> call_method(Runtime& rt, const Value& self, std::string_view name, const Args& args);
// `fmt % args` and str.format(). With escape (a Markup format string) each value's text is
// HTML-escaped unless it is Markup itself, as markupsafe does.
Result<std::string> percent_format(std::string_view fmt, const Value& args, size_t max_bytes,
                                   bool escape = false);
Result<std::string> str_format(Runtime& rt, std::string_view fmt, const Args& args,
                               bool escape = false);

// ---- filters and tests (jinja_filters.cc, jinja_tests.cc) ----
bool is_known_filter(std::string_view name);
bool is_known_test(std::string_view name);
Result<Value> apply_filter(Runtime& rt, std::string_view name, const Value& input,
                           const Args& args);
Result<bool> apply_test(Runtime& rt, std::string_view name, const Value& input, const Args& args);

}  // namespace shuo::text::jinja

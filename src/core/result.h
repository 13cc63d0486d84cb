// Result<T>: a value or an Error. Expected failures (bad files, bad requests) travel as values;
// exceptions are reserved for bugs and are caught at library call sites.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace shuo {

enum class ErrorCode {
  kBadFile,       // a model / data file is corrupt, truncated or inconsistent
  kBadField,      // a request or config field has a wrong type or value
  kNotFound,      // a key, tensor, file or id does not exist
  kUnsupported,   // valid input that shuo does not handle (yet): names what
  kIo,            // the OS refused (open, mmap, read)
  kLimit,         // a size/time/count limit was hit
  kInternal,      // a bug: an invariant failed
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string where;    // file, field, tensor or offset that was wrong
  std::string message;  // what was wrong, with the offending value

  // "where: message" — the one line a user sees.
  std::string to_string() const;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}        // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

inline Error make_error(ErrorCode code, std::string where, std::string message) {
  return Error{code, std::move(where), std::move(message)};
}

}  // namespace shuo

// Propagate an error from an expression returning Result<...>.
#define SHUO_TRY(expr)                                  \
  do {                                                  \
    auto&& shuo_try_r_ = (expr);                        \
    if (!shuo_try_r_.ok()) return shuo_try_r_.error();  \
  } while (0)

#define SHUO_CONCAT_INNER_(a, b) a##b
#define SHUO_CONCAT_(a, b) SHUO_CONCAT_INNER_(a, b)
// SHUO_ASSIGN(auto x, f()) — declare x from a Result or return its error.
// It expands to several statements: never use it as the body of an unbraced if/else/for.
#define SHUO_ASSIGN(decl, expr) SHUO_ASSIGN_IMPL_(SHUO_CONCAT_(shuo_r_, __LINE__), decl, expr)
#define SHUO_ASSIGN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                       \
  if (!tmp.ok()) return tmp.error();       \
  decl = std::move(tmp).value()

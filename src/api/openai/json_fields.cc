// Checked JSON field access (see json_fields.h).
#include "api/openai/json_fields.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "text/utf8.h"

namespace shuo::api::openai {

using Json = nlohmann::ordered_json;

namespace {

constexpr int kMaxDepth = 64;  // nesting of arrays/objects; copies and templates recurse

// Deepest array/object nesting of a JSON text (strings skipped), stopping once past the limit.
int json_depth(std::string_view s) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > kMaxDepth) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

Error bad_field(std::string where, std::string message) {
  return Error{ErrorCode::kBadField, std::move(where), std::move(message)};
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

Result<Json> parse_json_object(std::string_view body) {
  if (json_depth(body) > kMaxDepth)
    return bad_field("body", "JSON nests deeper than " + std::to_string(kMaxDepth) + " levels");
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // JSON text is UTF-8 (RFC 8259); say which rule the body broke.
    if (!text::is_valid_utf8(body)) return bad_field("body", "is not valid UTF-8");
    return bad_field("body", "is not valid JSON");
  }
  if (!j.is_object()) return bad_field("body", std::string("must be a JSON object, got ") + j.type_name());
  return j;
}

const Json* json_field(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Error wrong_type(const std::string& name, const char* want, const Json& got) {
  return bad_field(name, std::string("must be ") + want + ", got " + got.type_name());
}

Result<std::optional<double>> get_number(const Json& obj, const char* name, double lo, double hi,
                                         bool lo_open) {
  const Json* v = json_field(obj, name);
  if (!v) return std::optional<double>();
  if (!v->is_number()) return wrong_type(name, "a number", *v);
  const double d = v->get<double>();
  if (!(lo_open ? d > lo : d >= lo) || !(d <= hi))
    return bad_field(name, std::string("must be in ") + (lo_open ? "(" : "[") + format_number(lo) + ", " +
                               format_number(hi) + "], got " + format_number(d));
  return std::optional<double>(d);
}

Result<int64_t> as_int(const Json& v, const std::string& name, int64_t lo, int64_t hi) {
  int64_t i = 0;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max())) return bad_field(name, "must be ≤ " + std::to_string(hi));
    i = int64_t(u);
  } else if (v.is_number_integer()) {
    i = v.get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::floor(d) != d || std::abs(d) > 9.0e15) return bad_field(name, "must be an integer, got " + format_number(d));
    i = int64_t(d);
  } else {
    return wrong_type(name, "an integer", v);
  }
  if (i < lo || i > hi)
    return bad_field(name, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(i));
  return i;
}

Result<std::optional<int64_t>> get_int(const Json& obj, const char* name, int64_t lo, int64_t hi) {
  const Json* v = json_field(obj, name);
  if (!v) return std::optional<int64_t>();
  SHUO_ASSIGN(int64_t i, as_int(*v, name, lo, hi));
  return std::optional<int64_t>(i);
}

Result<std::optional<bool>> get_bool(const Json& obj, const char* name) {
  const Json* v = json_field(obj, name);
  if (!v) return std::optional<bool>();
  if (!v->is_boolean()) return wrong_type(name, "a boolean", *v);
  return std::optional<bool>(v->get<bool>());
}

Result<std::optional<std::string>> get_string(const Json& obj, const char* name) {
  const Json* v = json_field(obj, name);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return wrong_type(name, "a string", *v);
  return std::optional<std::string>(v->get<std::string>());
}

}  // namespace shuo::api::openai

// Typed, checked access to the fields of a JSON request body, shared by every JSON surface
// (OpenAI, ChatGLM-style, demo). A known field with the wrong type or out of range is an Error
// naming the field (→ 400); absent and `null` both mean "not given"; nothing falls back to a
// default on a wrong value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace shuo::api::openai {

// kBadField at `where` ("temperature", "messages[1].content", "body").
Error bad_field(std::string where, std::string message);
// "must be <want>, got <type>".
Error wrong_type(const std::string& name, const char* want, const nlohmann::ordered_json& got);
// Shortest round-trip-ish text of a number for messages ("0.5", "1e+30").
std::string format_number(double v);

// The body as a JSON object. Errors (where "body"): nesting deeper than 64, not UTF-8, not JSON,
// not an object.
Result<nlohmann::ordered_json> parse_json_object(std::string_view body);

// The field's value, or null when it is absent or JSON null.
const nlohmann::ordered_json* json_field(const nlohmann::ordered_json& obj, const char* name);

// A number in [lo, hi] (or (lo, hi] with lo_open).
Result<std::optional<double>> get_number(const nlohmann::ordered_json& obj, const char* name, double lo,
                                         double hi, bool lo_open = false);
// An integer (an integral float such as 16.0 is accepted) in [lo, hi].
Result<int64_t> as_int(const nlohmann::ordered_json& v, const std::string& name, int64_t lo, int64_t hi);
Result<std::optional<int64_t>> get_int(const nlohmann::ordered_json& obj, const char* name, int64_t lo,
                                       int64_t hi);
Result<std::optional<bool>> get_bool(const nlohmann::ordered_json& obj, const char* name);
Result<std::optional<std::string>> get_string(const nlohmann::ordered_json& obj, const char* name);

}  // namespace shuo::api::openai

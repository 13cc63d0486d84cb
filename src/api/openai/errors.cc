// Error → OpenAI error response (see errors.h).
#include "api/openai/errors.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "text/chat_template.h"

namespace shuo::api::openai {

namespace {

const char* type_for(int status) {
  if (status == 429) return "rate_limit_error";
  if (status == 401) return "authentication_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

nlohmann::json null_if_empty(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

}  // namespace

ApiError bad_request(std::string param, std::string message, std::string code) {
  ApiError e;
  e.status = 400;
  e.type = type_for(400);
  e.param = std::move(param);
  e.message = e.param.empty() ? std::move(message) : e.param + ": " + message;
  e.code = std::move(code);
  return e;
}

ApiError to_api_error(const Error& err) {
  ApiError e;
  switch (err.code) {
    case ErrorCode::kBadField:
      if (text::is_raise_exception(err)) {
        e = bad_request({}, err.message);  // the template's own words, unprefixed
      } else {
        e = bad_request(err.where, err.message);
      }
      return e;
    case ErrorCode::kUnsupported:
      return bad_request(err.where, err.message, "unsupported");
    case ErrorCode::kNotFound:
      if (err.where == "model") {
        e.status = 404;
        e.type = type_for(404);
        e.param = "model";
        e.code = "model_not_found";
        e.message = err.message;
        return e;
      }
      break;
    case ErrorCode::kLimit:
      if (err.where == "context") {
        e = bad_request({}, "This model's maximum context length is exceeded: " + err.message,
                        "context_length_exceeded");
        return e;
      }
      if (err.where == "queue" || err.where == "engine") {
        e.status = err.where == "queue" ? 429 : 503;
        e.type = type_for(e.status);
        e.code = err.where == "queue" ? "queue_full" : "unavailable";
        e.message = err.message;
        e.retry_after_s = 1;
        return e;
      }
      break;
    default:
      break;
  }
  e.status = 500;
  e.type = type_for(500);
  e.code = "internal_error";
  e.message = err.to_string();
  return e;
}

std::string error_json(const ApiError& e) {
  nlohmann::json j = {{"error",
                       {{"message", e.message},
                        {"type", e.type.empty() ? type_for(e.status) : e.type},
                        {"param", null_if_empty(e.param)},
                        {"code", null_if_empty(e.code)}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

http::Response error_response(const ApiError& e, std::string_view request_id, spdlog::logger* log) {
  ApiError shown = e;
  if (e.status >= 500 && e.status != 503) {
    // A bug: the details go to the log; the client gets the id to report.
    if (log) log->error("openai id={} internal error: {}", request_id, e.message);
    shown.message = "internal error (request id " + std::string(request_id) + ")";
  }
  http::Response r;
  r.status = e.status;
  r.body = error_json(shown);
  if (e.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  return r;
}

http::Response format_server_error(int status, std::string_view code, std::string_view message) {
  ApiError e;
  e.status = status;
  e.type = type_for(status);
  e.code = std::string(code);
  e.message = std::string(message);
  http::Response r;
  r.status = status;
  r.body = error_json(e);
  return r;
}

}  // namespace shuo::api::openai

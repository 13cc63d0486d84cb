// The one place where shuo's Error values become OpenAI error responses: HTTP status plus
// {"error":{"message","type","param","code"}}. Handlers never pick a status code themselves.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "api/http/message.h"
#include "core/result.h"

namespace spdlog {
class logger;
}

namespace shuo::api::openai {

struct ApiError {
  int status = 500;
  std::string type;      // "invalid_request_error", "server_error", ...
  std::string code;      // "" → null
  std::string param;     // "" → null
  std::string message;
  int retry_after_s = 0; // > 0: a Retry-After header (429 / 503)
};

// kBadField/kUnsupported → 400 naming the field (param = Error::where), template
// raise_exception → 400 with its message, kLimit "context" → 400 context_length_exceeded,
// kLimit "queue" → 429 and kLimit "engine" (shutting down) → 503, both with Retry-After,
// kNotFound "model" → 404 model_not_found, everything else → 500.
ApiError to_api_error(const Error& e);

// A 400 for a request field, e.g. bad_field("temperature", "must be in [0, 2], got 3").
ApiError bad_request(std::string param, std::string message, std::string code = {});

// The response for `e`. 500s are logged (with the request id) here, so the client's message
// names only the request id.
http::Response error_response(const ApiError& e, std::string_view request_id,
                              spdlog::logger* log);

// OpenAI error JSON for the server's own errors (404, 405, 401, 413, ...): the Server's
// ErrorFormatter.
http::Response format_server_error(int status, std::string_view code, std::string_view message);

// {"error":{...}} alone, for an error event inside an already started SSE stream.
std::string error_json(const ApiError& e);

}  // namespace shuo::api::openai

// Error → gRPC status (see status.h).
#include "api/grpc/status.h"

#include <spdlog/spdlog.h>

#include "text/chat_template.h"

namespace shuo::api::chathub {

::grpc::Status to_status(const Error& e, spdlog::logger* log) {
  using ::grpc::Status;
  using ::grpc::StatusCode;
  switch (e.code) {
    case ErrorCode::kBadField:
      if (text::is_raise_exception(e)) return Status(StatusCode::INVALID_ARGUMENT, e.message);
      return Status(StatusCode::INVALID_ARGUMENT, e.to_string());
    case ErrorCode::kUnsupported:
    case ErrorCode::kNotFound:
      return Status(StatusCode::INVALID_ARGUMENT, e.to_string());
    case ErrorCode::kLimit:
      if (e.where == "queue") return Status(StatusCode::RESOURCE_EXHAUSTED, e.message);
      if (e.where == "engine") return Status(StatusCode::UNAVAILABLE, "the server is shutting down");
      if (e.where == "context") return Status(StatusCode::INVALID_ARGUMENT, "context: " + e.message);
      return Status(StatusCode::INVALID_ARGUMENT, e.to_string());  // a size limit of the input
    default:
      break;
  }
  if (log) log->error("grpc: internal error: {}", e.to_string());
  return Status(StatusCode::INTERNAL, "internal error");
}

}  // namespace shuo::api::chathub

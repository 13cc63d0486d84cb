// Error → gRPC status, in one place for the ChatHub surface (spec/api.md §4): bad requests are
// INVALID_ARGUMENT, a full engine queue RESOURCE_EXHAUSTED. Includes gRPC: for this layer's .cc
// files only.
#pragma once

#include <grpcpp/support/status.h>

#include "core/result.h"

namespace spdlog {
class logger;
}

namespace shuo::api::chathub {

// INVALID_ARGUMENT: kBadField, kUnsupported, kNotFound and kLimit "context" ("where: message",
// or the chat template's raise_exception text as it is). RESOURCE_EXHAUSTED: kLimit "queue".
// UNAVAILABLE: the engine is shutting down. Anything else is a bug: INTERNAL, logged with its
// detail, and the client gets only "internal error".
::grpc::Status to_status(const Error& e, spdlog::logger* log);

}  // namespace shuo::api::chathub

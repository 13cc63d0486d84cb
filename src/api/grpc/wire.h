// aihub.ChatRequest bytes → ChatHubRequest, and ChatReply → bytes. Protobuf's own parser rejects
// a proto3 string that is not UTF-8 before any handler sees it (gRPC would answer INTERNAL), so
// requests are read with a twin of aihub.ChatRequest whose strings are `bytes`: same wire
// format, no check. validate() then names the bad field under INVALID_ARGUMENT.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "api/grpc/chat_request.h"
#include "core/result.h"

namespace shuo::api::chathub {

class RequestDecoder {
 public:
  // Derives the twin from the compiled aihub.ChatRequest descriptor (one source of truth:
  // proto/chathub.proto). Immutable afterwards: decode() may run on any thread.
  RequestDecoder();
  ~RequestDecoder();
  RequestDecoder(const RequestDecoder&) = delete;
  RequestDecoder& operator=(const RequestDecoder&) = delete;

  // Unknown fields are skipped (newer clients). Error: kBadField "request" when the bytes are not
  // a protobuf message of this shape.
  Result<ChatHubRequest> decode(std::string_view bytes) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The serialized aihub.ChatReply{response}.
std::string encode_reply(std::string_view response);

}  // namespace shuo::api::chathub

// The aihub.ChatHub service on the engine, with gRPC's callback API (this layer's .cc files only:
// it includes the generated code and gRPC).
//
// Threads: gRPC's own threads run the method handlers (decode, validate, render, tokenize,
// submit — no waiting), OnCancel, OnWriteDone and OnDone. Reply pieces arrive on the engine
// thread (openai::start_reply: whole UTF-8 characters only), which appends them to the call's
// reply and, when the call is idle, posts it to the service's TaskThread; that thread starts the
// write (or Finish). So the engine thread does no socket work, and no thread waits for a token:
// concurrent calls are bounded by the engine's queue (RESOURCE_EXHAUSTED beyond it).
//
// Methods are registered "raw" (bytes in, bytes out) so that RequestDecoder, not protobuf's
// strict parser, reads requests: a string that is not UTF-8 is INVALID_ARGUMENT naming the field.
#pragma once

#include <memory>
#include <string>

#include "api/grpc/chat_request.h"
#include "api/grpc/task_thread.h"
#include "api/grpc/wire.h"
#include "api/http/metrics.h"
#include "api/openai/service.h"
#include "chathub.grpc.pb.h"

namespace shuo::api::chathub {

class ChatHubService final
    : public aihub::ChatHub::WithRawCallbackMethod_Chat<
          aihub::ChatHub::WithRawCallbackMethod_StreamingChat<aihub::ChatHub::Service>> {
 public:
  // `state` (and `metrics`, may be null) must outlive the service's server.
  ChatHubService(openai::ServiceState& state, ChatHubDefaults defaults, http::Metrics* metrics);

  ::grpc::ServerUnaryReactor* Chat(::grpc::CallbackServerContext* ctx, const ::grpc::ByteBuffer* request,
                                   ::grpc::ByteBuffer* response) override;
  ::grpc::ServerWriteReactor<::grpc::ByteBuffer>* StreamingChat(::grpc::CallbackServerContext* ctx,
                                                                const ::grpc::ByteBuffer* request) override;

  openai::ServiceState& state() { return state_; }
  const ChatHubDefaults& defaults() const { return defaults_; }
  const RequestDecoder& decoder() const { return decoder_; }
  TaskThread& writer() { return writer_; }
  // Counts a finished call (shuo_grpc_requests_total{method, code}) and logs it.
  void record(const char* method, const ::grpc::Status& status, int32_t n_prompt, int32_t n_generated,
              double ms) const;

 private:
  openai::ServiceState& state_;
  ChatHubDefaults defaults_;
  http::Metrics* metrics_;
  RequestDecoder decoder_;
  TaskThread writer_;  // last: its tasks use the members above; joined first
};

}  // namespace shuo::api::chathub

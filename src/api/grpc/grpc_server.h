// The gRPC server of `shuo serve`: aihub.ChatHub on the shared engine, plus the standard
// grpc.health.v1.Health service and server reflection (so grpcurl works without the proto file),
// on its own port. No gRPC types here: only this layer's .cc files compile gRPC headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/grpc/chat_request.h"
#include "api/http/metrics.h"
#include "api/openai/service.h"
#include "core/result.h"

namespace shuo::api::chathub {

struct GrpcServerOptions {
  std::string host = "127.0.0.1";   // an address or name; IPv6 addresses without brackets are fine
  int port = 19328;                 // 0: any free port (port() tells which)
  size_t max_message_bytes = 8 << 20;  // larger requests are refused by gRPC (RESOURCE_EXHAUSTED)
  int shutdown_grace_ms = 5'000;    // shutdown(): how long calls in flight may take to finish
  ChatHubDefaults defaults;
  http::Metrics* metrics = nullptr; // shuo_grpc_requests_total goes here when set
};

class GrpcServer {
 public:
  // Binds and starts serving on gRPC's own threads. `state` (and options.metrics) must outlive
  // the server. Error kIo "host:port" when the address cannot be bound (in use, bad host).
  static Result<std::unique_ptr<GrpcServer>> start(openai::ServiceState& state, GrpcServerOptions options);
  ~GrpcServer();  // shutdown() if it was not called
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  uint16_t port() const;
  // Graceful: health turns NOT_SERVING, no new calls are accepted, calls in flight may finish for
  // up to shutdown_grace_ms, then the rest are cancelled (their generations stop). Returns when
  // every call is done. The engine must still be running. Idempotent.
  void shutdown();

 private:
  struct Impl;
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shuo::api::chathub

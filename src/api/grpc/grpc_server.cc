// Builds and stops the gRPC server (see grpc_server.h).
#include "api/grpc/grpc_server.h"

#include <algorithm>
#include <chrono>
#include <climits>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "api/grpc/chathub_service.h"

namespace shuo::api::chathub {

struct GrpcServer::Impl {
  Impl(openai::ServiceState& state, const GrpcServerOptions& o) : options(o), service(state, o.defaults, o.metrics) {}
  GrpcServerOptions options;
  ChatHubService service;
  std::unique_ptr<::grpc::Server> server;
  int port = 0;
  bool stopped = false;
};

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcServer::~GrpcServer() { shutdown(); }

uint16_t GrpcServer::port() const { return uint16_t(impl_->port); }

Result<std::unique_ptr<GrpcServer>> GrpcServer::start(openai::ServiceState& state, GrpcServerOptions options) {
  const std::string host = options.host.find(':') != std::string::npos && options.host.front() != '['
                               ? "[" + options.host + "]"
                               : options.host;
  const std::string address = host + ":" + std::to_string(options.port);
  auto impl = std::make_unique<Impl>(state, options);

  // Both are process-wide switches of the gRPC library, read when a server is built: the
  // standard health service and the reflection service are added to every server after this.
  ::grpc::EnableDefaultHealthCheckService(true);
  ::grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  ::grpc::ServerBuilder builder;
  builder.AddListeningPort(address, ::grpc::InsecureServerCredentials(), &impl->port);
  // gRPC sets SO_REUSEPORT by default, which lets a second server bind the same port and take
  // half of its calls; a port in use must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(int(std::min<size_t>(options.max_message_bytes, size_t(INT32_MAX))));
  builder.RegisterService(&impl->service);
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0)
    return Error{ErrorCode::kIo, address, "cannot listen for gRPC (address in use or not local?)"};
  if (auto* health = impl->server->GetHealthCheckService())
    health->SetServingStatus(aihub::ChatHub::service_full_name(), true);
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

void GrpcServer::shutdown() {
  if (!impl_ || impl_->stopped || !impl_->server) return;
  impl_->stopped = true;
  if (auto* health = impl_->server->GetHealthCheckService()) health->SetServingStatus(false);
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(impl_->options.shutdown_grace_ms));
  impl_->server->Wait();
}

}  // namespace shuo::api::chathub

// The Open Inference Protocol's gRPC service, inference.GRPCInferenceService
// (serve/protocol/grpc_predict_v2.proto), over an InferenceServer's models, on gRPC's callback API:
// ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata and ModelInfer.
//  - errors are gRPC statuses: INVALID_ARGUMENT (bad request), NOT_FOUND (no such model),
//    UNAVAILABLE (not ready, queue full, shutting down), DEADLINE_EXCEEDED, INTERNAL;
//  - a call's deadline is its request's parameters.timeout (microseconds), else the call's gRPC
//    deadline, else the model's default;
//  - a cancelled call (or one whose client left) leaves the queue at once;
//  - messages up to max_message_bytes are taken (gRPC's default is 4 MiB), any size is sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace cpuinfer::serve {

class InferenceServer;

class GrpcServer {
 public:
  // Listens on address:port (port 0: any free port). Throws cpuinfer::Error naming the address
  // when it cannot listen.
  GrpcServer(InferenceServer& server, const std::string& address, std::uint16_t port, std::size_t max_message_bytes);
  ~GrpcServer();  // shutdown(0)
  std::uint16_t port() const { return port_; }
  // Stops taking calls; those in flight have `within` to finish, then are cancelled.
  void shutdown(std::chrono::milliseconds within);

  struct State;

 private:
  std::unique_ptr<State> state_;
  std::uint16_t port_ = 0;
};

}  // namespace cpuinfer::serve

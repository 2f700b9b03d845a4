// A server's model as the load generator addresses it:
//   http://HOST:PORT/v2/models/M[/versions/V]   the Open Inference Protocol over REST
//   grpc://HOST:PORT/M[/V]                      over gRPC (inference.GRPCInferenceService)
#pragma once

#include <cstdint>
#include <string>

namespace cpuinfer::loadgen {

struct Endpoint {
  std::string scheme;  // "http" or "grpc"
  std::string host;
  std::uint16_t port = 0;
  std::string model, version;  // version "" : the server's choice
  std::string text() const;    // as given back: "http://127.0.0.1:8080/v2/models/m"
};

// Throws cpuinfer::Error naming what is wrong with `url`.
Endpoint parse_endpoint(const std::string& url);

}  // namespace cpuinfer::loadgen

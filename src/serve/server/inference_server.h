// `cpuinfer serve`: the models of a repository, loaded and warmed up, behind the Open Inference
// Protocol (KServe v2) over REST (serve/http/rest_api.h) and gRPC (serve/grpc/grpc_api.h). This
// is what both transports share: the models, readiness, metrics, admission and draining.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "serve/metrics/server_metrics.h"
#include "serve/models/served_model.h"

namespace cpuinfer::serve {

class HttpServer;
class GrpcServer;

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t http_port = 8080;
  std::uint16_t grpc_port = 9000;
  int http_threads = 2;
  std::size_t max_body_bytes = std::size_t{256} << 20;  // a REST body or a gRPC message
  std::size_t max_tensor_bytes = std::size_t{1} << 30;
  int cores = 0;  // 0: the cores this process may use
};

// The default repository: `resnet101` (FP32 [N, 3, 224, 224]) and `bert` (BYTES `text`) from the
// export cache (<cache>/models/*-random-seed0: seeded random weights). Throws cpuinfer::Error
// when they are not exported yet (scripts/setup.sh exports them).
std::vector<RepositoryModel> study_models(const std::filesystem::path& cache);

class InferenceServer {
 public:
  // Loads and warms up every model, then listens on both ports. Throws cpuinfer::Error naming the
  // file, field or address before any port opens for a bad repository.
  InferenceServer(std::vector<RepositoryModel> models, const ServerOptions& options);
  ~InferenceServer();

  std::uint16_t http_port() const;
  std::uint16_t grpc_port() const;
  // What it serves, one line per model version ("model=resnet101 version=1 backend=native ...").
  std::vector<std::string> summary() const;
  // Stops accepting, lets queued requests finish and their answers go out, then closes.
  void shutdown();

  // What the transports share.
  bool ready() const;  // every model warmed up, and not draining
  // A model's version (empty: the highest), or nullptr.
  ServedModel* find(const std::string& name, const std::string& version) const;
  std::vector<std::string> versions(const std::string& name) const;
  std::size_t max_tensor_bytes() const { return max_tensor_bytes_; }
  std::string metrics_text() { return metrics_.scrape(); }
  // Queues a parsed request on the model, or answers at once (not ready, draining, bad request).
  // Its deadline: the request's parameters.timeout, else timeout_us (a header's, a gRPC call's),
  // else the model's default_timeout_ms; microseconds, clamped to a day. `reply` is called exactly
  // once. Returns what takes the request out of the queue when its client leaves (may be empty).
  std::function<void()> submit(ServedModel& model, InferRequest request, std::optional<std::int64_t> timeout_us, ReplyFn reply);

 private:
  std::unique_ptr<CoreBudget> cores_;
  ServerMetrics metrics_;
  std::map<std::string, std::vector<std::unique_ptr<ServedModel>>> models_;  // versions ascending
  std::size_t max_tensor_bytes_;
  std::atomic<bool> draining_{false};
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<GrpcServer> grpc_;
};

}  // namespace cpuinfer::serve

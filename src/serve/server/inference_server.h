// `cpuinfer serve`: the models of a repository behind the Open Inference Protocol's REST endpoints
// (KServe v2; the binary tensor data extension):
//   GET  /v2/health/live                          200 while the process serves
//   GET  /v2/health/ready                         200 once every model has loaded and run a
//                                                 warm-up inference, 503 before and while draining
//   GET  /v2                                      name, version, extensions
//   GET  /v2/models/<m>[/versions/<v>]            inputs and outputs (datatype, shape; -1 open)
//   GET  /v2/models/<m>[/versions/<v>]/ready      200 or 503
//   POST /v2/models/<m>[/versions/<v>]/infer      an inference (serve/protocol/infer_message.h)
//   GET  /metrics                                 Prometheus text (serve/metrics/server_metrics.h)
// Errors are {"error": "..."}: 400 bad request, 404 no such model or route, 405 wrong method,
// 503 not ready or queue full (with Retry-After), 504 deadline, 500 internal. A request's deadline
// is its parameters.timeout or its Timeout header, in microseconds (the model's
// default_timeout_ms otherwise). Responses carry queue_us, compute_us and batch_size parameters.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "serve/http/http_server.h"
#include "serve/metrics/server_metrics.h"
#include "serve/models/served_model.h"

namespace cpuinfer::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t http_port = 8080;
  int http_threads = 2;
  std::size_t max_body_bytes = std::size_t{256} << 20;
  std::size_t max_tensor_bytes = std::size_t{1} << 30;
  int cores = 0;  // 0: the cores this process may use
};

// The default repository: `resnet101` (FP32 [N, 3, 224, 224]) and `bert` (BYTES `text`) from the
// export cache (<cache>/models/*-random-seed0: seeded random weights). Throws cpuinfer::Error
// when they are not exported yet (scripts/setup.sh exports them).
std::vector<RepositoryModel> study_models(const std::filesystem::path& cache);

class InferenceServer {
 public:
  // Loads and warms up every model, then listens. Throws cpuinfer::Error naming the file, field
  // or address before any port opens for a bad repository.
  InferenceServer(std::vector<RepositoryModel> models, const ServerOptions& options);
  ~InferenceServer();

  std::uint16_t http_port() const { return http_->port(); }
  // What it serves, one line per model version ("resnet101 v1: native, 2 instances x 1 thread, ...").
  std::vector<std::string> summary() const;
  // Stops accepting, lets queued requests finish and their answers go out, then closes.
  void shutdown();

 private:
  std::function<void()> handle(HttpRequest request, Respond respond);
  std::function<void()> infer(ServedModel& model, HttpRequest& request, Respond respond);
  ServedModel* find(const std::string& name, const std::string& version) const;

  std::unique_ptr<CoreBudget> cores_;
  ServerMetrics metrics_;
  std::map<std::string, std::vector<std::unique_ptr<ServedModel>>> models_;  // versions ascending
  std::size_t max_tensor_bytes_;
  std::atomic<bool> draining_{false};
  std::unique_ptr<HttpServer> http_;
};

}  // namespace cpuinfer::serve

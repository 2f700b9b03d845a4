// A server speaking the Open Inference Protocol over REST as a load's target (Boost.Beast): binary
// tensor data both ways, keep-alive connections opened as queries need them up to a maximum (the
// rest wait in order, their latency counting), one I/O thread. Request bodies are encoded once per
// set of samples and reused.
#pragma once

#include <memory>

#include "loadgen/endpoint.h"
#include "loadgen/expected_outputs.h"
#include "loadgen/target.h"

namespace cpuinfer {
class Workload;
}

namespace cpuinfer::loadgen {

class RestTarget final : public Target {
 public:
  // Reads the server's and the model's metadata first. Throws cpuinfer::Error naming the URL when
  // the server cannot be reached or has no such model.
  RestTarget(const Endpoint& endpoint, const Workload& workload, const ExpectedOutputs* expected, int max_connections, double timeout_s);
  ~RestTarget() override;
  nlohmann::ordered_json description() const override;
  void issue(const std::vector<std::size_t>& samples, bool check, QueryDone done) override;
  void cancel_queued() override;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace cpuinfer::loadgen

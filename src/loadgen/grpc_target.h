// A server speaking the Open Inference Protocol over gRPC (inference.GRPCInferenceService) as a
// load's target: asynchronous ModelInfer calls on one channel with raw tensor contents both ways,
// answered on one completion-queue thread. Request messages are built once per set of samples.
#pragma once

#include <memory>

#include "loadgen/endpoint.h"
#include "loadgen/expected_outputs.h"
#include "loadgen/target.h"

namespace cpuinfer {
class Workload;
}

namespace cpuinfer::loadgen {

class GrpcTarget final : public Target {
 public:
  // Reads the server's and the model's metadata first. Throws cpuinfer::Error naming the URL when
  // the server cannot be reached or has no such model.
  GrpcTarget(const Endpoint& endpoint, const Workload& workload, const ExpectedOutputs* expected, double timeout_s);
  ~GrpcTarget() override;
  nlohmann::ordered_json description() const override;
  void issue(const std::vector<std::size_t>& samples, bool check, QueryDone done) override;
  // Nothing waits client-side: the calls still out are cancelled.
  void cancel_queued() override;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace cpuinfer::loadgen

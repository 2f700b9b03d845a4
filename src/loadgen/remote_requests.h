// What a load sends a server and how its answers are checked, whatever the transport: a query's
// samples as one inference request for the server's model, and its response's outputs compared
// with the expected ones, sample by sample.
//  - A model that takes one BYTES input (a server that tokenizes, as `cpuinfer serve`'s text
//    models) gets the samples' texts, one per row.
//  - Any other gets the workload's tensors (a batch of the query's samples), in the model's input
//    order, named as its metadata names them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loadgen/expected_outputs.h"
#include "serve/protocol/infer_message.h"

namespace cpuinfer {
class Workload;
}

namespace cpuinfer::loadgen {

struct ModelInput {
  std::string name, datatype;
};

class RemoteRequests {
 public:
  // `inputs`: the model's, from its metadata. Throws cpuinfer::Error when the workload cannot feed
  // them (counts or datatypes differ), naming both sides.
  RemoteRequests(const Workload& workload, std::string model, std::vector<ModelInput> inputs);
  serve::InferRequest request(const std::vector<std::size_t>& samples) const;
  // nullopt when every sample's outputs agree (or `expected` is null).
  std::optional<std::string> check(const std::vector<std::size_t>& samples, const serve::InferResponse& response,
                                   const ExpectedOutputs* expected) const;

 private:
  const Workload& workload_;
  std::string model_;
  std::vector<ModelInput> inputs_;
  bool texts_ = false;
};

}  // namespace cpuinfer::loadgen

// The outputs each sample of a run should get, from a reference backend run on the same model in
// this process (ONNX Runtime by default: the oracle), and whether an answer agrees with them:
// max |answer - expected| over the largest expected value of the whole set (bench's max_rel_diff,
// whose rows hold the same samples) within the tolerance of its precision (bench/tolerance.h), and
// no NaN or infinity where the reference has a number. A wrong answer is an error of its query,
// not a latency.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cpuinfer {
class Backend;
class Workload;
}  // namespace cpuinfer

namespace cpuinfer::loadgen {

// Each output's values (as float32) for row `row` of a batch of `rows`: an output whose first
// dimension is the batch's is sliced, any other is taken whole.
std::vector<std::vector<float>> sample_outputs(const std::vector<Tensor>& outputs, std::size_t row, std::size_t rows);

class ExpectedOutputs {
 public:
  // Runs `reference` (loaded) on each of the first `count` samples alone.
  ExpectedOutputs(const Workload& workload, Backend& reference, std::size_t count, double tolerance);
  std::size_t size() const { return by_sample_.size(); }
  double tolerance() const { return tolerance_; }
  // nullopt when `outputs` (sample_outputs of an answer) agree with the sample's expected ones.
  std::optional<std::string> check(std::size_t sample, const std::vector<std::vector<float>>& outputs) const;

 private:
  std::vector<std::vector<std::vector<float>>> by_sample_;
  double tolerance_;
  double scale_ = 0;  // the largest finite |expected value| of the set
};

}  // namespace cpuinfer::loadgen

#include "loadgen/expected_outputs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "backends/backend.h"
#include "bench/metrics.h"
#include "bench/tolerance.h"
#include "bench/workload.h"
#include "core/error.h"
#include "loadgen/query_stats.h"

namespace cpuinfer::loadgen {

std::vector<std::vector<float>> sample_outputs(const std::vector<Tensor>& outputs, std::size_t row, std::size_t rows) {
  std::vector<std::vector<float>> values;
  for (const Tensor& t : outputs) {
    const Tensor f = cast(t, DType::f32);
    const std::span<const float> all = f.values<float>();
    if (rows > 1 && f.rank() > 0 && f.dim(0) == static_cast<std::int64_t>(rows)) {
      const std::size_t per = all.size() / rows;
      values.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(row * per), all.begin() + static_cast<std::ptrdiff_t>((row + 1) * per));
    } else {
      values.emplace_back(all.begin(), all.end());
    }
  }
  return values;
}

ExpectedOutputs::ExpectedOutputs(const Workload& workload, Backend& reference, std::size_t count, double tolerance)
    : tolerance_(tolerance) {
  for (std::size_t s = 0; s < count; ++s) {
    const std::vector<Tensor> inputs = workload.batch(workload.batch_of({s}));
    by_sample_.push_back(sample_outputs(reference.run(inputs), 0, 1));
    for (const auto& values : by_sample_.back())
      for (const float v : values)
        if (std::isfinite(v)) scale_ = std::max(scale_, static_cast<double>(std::fabs(v)));
  }
}

std::optional<std::string> ExpectedOutputs::check(std::size_t sample, const std::vector<std::vector<float>>& outputs) const {
  if (sample >= by_sample_.size()) return std::nullopt;
  const auto& expected = by_sample_[sample];
  if (outputs.size() != expected.size())
    return wrong_answer(fmt::format("sample {}: {} outputs, expected {}", sample, outputs.size(), expected.size()));
  Agreement agreement;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    if (outputs[k].size() != expected[k].size())
      return wrong_answer(fmt::format("sample {}: output {} has {} values, expected {}", sample, k, outputs[k].size(), expected[k].size()));
    agreement.add(outputs[k], expected[k], 0);
  }
  if (agreement.nonfinite_mismatches > 0) return wrong_answer(fmt::format("sample {}: {} values NaN or infinite where the expected are not", sample, agreement.nonfinite_mismatches));
  // Relative to the largest expected value of the whole set, as bench's rows are to theirs.
  agreement.max_ref_abs = std::max(agreement.max_ref_abs, scale_);
  const std::string status = agreement_status(agreement.max_rel_diff(), agreement.max_abs_diff, agreement.compared, tolerance_);
  if (status != "ok") return wrong_answer(fmt::format("sample {}: {}", sample, status));
  return std::nullopt;
}

}  // namespace cpuinfer::loadgen

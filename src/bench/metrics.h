// The numbers a result row reports: latency percentiles, top-1, and agreement of outputs with a
// reference backend's outputs for the same samples.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace cpuinfer {

// q in [0, 1]; linear interpolation between closest ranks (numpy's default). NaN if empty.
double percentile(std::vector<double> values, double q);

std::size_t argmax(std::span<const float> values);

// Agreement of outputs with the reference's outputs on the same samples.
struct Agreement {
  std::size_t compared = 0;       // samples with a reference output
  std::size_t top1_compared = 0;  // samples whose argmax was compared (classification)
  std::size_t top1_equal = 0;     // argmax equal
  double max_abs_diff = 0.0;   // max |out - ref| over all compared values
  double max_ref_abs = 0.0;    // max |ref|, for a relative error: max_abs_diff / max_ref_abs

  // Compares all values; the argmax over the first `top1_size` values (0: no top-1 comparison).
  void add(std::span<const float> out, std::span<const float> ref, std::size_t top1_size);
  std::optional<double> top1_agreement() const;
  std::optional<double> max_rel_diff() const;
};

}  // namespace cpuinfer

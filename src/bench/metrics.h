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

// The batches a q-quantile needs before it says more than the largest value: at least one value
// above it, n >= 1 / (1 - q) (p50: 2, p90: 10, p99: 100).
std::size_t batches_needed(double q);

// Per-batch latencies of one row. A percentile is empty when fewer than batches_needed(q) batches
// were timed: p99 of 8 batches would be an interpolation between the two slowest, not a p99.
struct LatencyStats {
  std::size_t count = 0;
  double mean = 0, min = 0, max = 0;
  double stddev = 0;  // sample standard deviation (n - 1); 0 for one batch
  std::optional<double> p50, p90, p99;
};
LatencyStats summarize(const std::vector<double>& latencies);

// The first largest value's index; the first NaN's if there is one (numpy's argmax).
std::size_t argmax(std::span<const float> values);

// Agreement of outputs with the reference's outputs on the same samples.
struct Agreement {
  std::size_t compared = 0;       // samples with a reference output
  std::size_t top1_compared = 0;  // samples whose argmax was compared (classification)
  std::size_t top1_equal = 0;     // argmax equal
  double max_abs_diff = 0.0;   // max |out - ref| over the compared values that are finite on both sides
  double max_ref_abs = 0.0;    // max |ref| over finite values, for a relative error: max_abs_diff / max_ref_abs
  // Values NaN or infinite on one side and not the same on the other (a NaN where the reference
  // has a number, +inf where it has -inf): a broken output, however small max_abs_diff is.
  std::size_t nonfinite_mismatches = 0;

  // Compares all values; the argmax over the first `top1_size` values (0: no top-1 comparison).
  void add(std::span<const float> out, std::span<const float> ref, std::size_t top1_size);
  std::optional<double> top1_agreement() const;
  std::optional<double> max_rel_diff() const;
};

}  // namespace cpuinfer

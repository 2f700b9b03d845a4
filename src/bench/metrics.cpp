// Percentiles, argmax and output agreement.
#include "bench/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace cpuinfer {

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double pos = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

std::size_t batches_needed(double q) {
  return static_cast<std::size_t>(std::ceil(1.0 / (1.0 - q) - 1e-9));
}

LatencyStats summarize(const std::vector<double>& latencies) {
  LatencyStats s;
  s.count = latencies.size();
  if (latencies.empty()) return s;
  const auto [lo, hi] = std::minmax_element(latencies.begin(), latencies.end());
  s.min = *lo;
  s.max = *hi;
  double sum = 0;
  for (double v : latencies) sum += v;
  s.mean = sum / static_cast<double>(s.count);
  if (s.count > 1) {
    double squares = 0;
    for (double v : latencies) squares += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(squares / static_cast<double>(s.count - 1));
  }
  const auto quantile = [&](double q) -> std::optional<double> {
    if (s.count < batches_needed(q)) return std::nullopt;
    return percentile(latencies, q);
  };
  s.p50 = quantile(0.50);
  s.p90 = quantile(0.90);
  s.p99 = quantile(0.99);
  return s;
}

std::size_t argmax(std::span<const float> values) {
  // A NaN is the largest, as numpy's argmax has it (std::max_element would keep element 0 past it).
  const auto nan = std::find_if(values.begin(), values.end(), [](float v) { return std::isnan(v); });
  if (nan != values.end()) return static_cast<std::size_t>(nan - values.begin());
  return static_cast<std::size_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

void Agreement::add(std::span<const float> out, std::span<const float> ref, std::size_t top1_size) {
  if (out.size() != ref.size()) fail("output has {} values, reference has {}", out.size(), ref.size());
  ++compared;
  if (top1_size > 0 && top1_size <= out.size()) {
    ++top1_compared;
    if (argmax(out.first(top1_size)) == argmax(ref.first(top1_size))) ++top1_equal;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double o = out[i], r = ref[i];
    if (!std::isfinite(o) || !std::isfinite(r)) {
      const bool same = (std::isnan(o) && std::isnan(r)) || o == r;
      if (!same) ++nonfinite_mismatches;
      continue;
    }
    max_abs_diff = std::max(max_abs_diff, std::fabs(o - r));
    max_ref_abs = std::max(max_ref_abs, std::fabs(r));
  }
}

std::optional<double> Agreement::top1_agreement() const {
  if (top1_compared == 0) return std::nullopt;
  return static_cast<double>(top1_equal) / static_cast<double>(top1_compared);
}

std::optional<double> Agreement::max_rel_diff() const {
  if (compared == 0 || max_ref_abs == 0.0) return std::nullopt;
  return max_abs_diff / max_ref_abs;
}

}  // namespace cpuinfer

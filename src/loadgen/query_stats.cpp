#include "loadgen/query_stats.h"

#include <algorithm>
#include <cmath>

#include "bench/metrics.h"

namespace cpuinfer::loadgen {

std::string wrong_answer(const std::string& why) { return "wrong answer: " + why; }
bool is_wrong_answer(const std::string& error) { return error.rfind("wrong answer: ", 0) == 0; }

std::optional<double> early_stopping_estimate(std::span<const double> sorted, double q, double confidence) {
  const std::size_t n = sorted.size();
  if (n == 0) return std::nullopt;
  // The binomial's CDF, term by term from 0 in log space (a term's factorials overflow otherwise).
  const double log_q = std::log(q), log_p = std::log1p(-q), log_n1 = std::lgamma(static_cast<double>(n) + 1);
  double cdf = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const auto jd = static_cast<double>(j);
    cdf += std::exp(log_n1 - std::lgamma(jd + 1) - std::lgamma(static_cast<double>(n - j) + 1) + jd * log_q +
                    static_cast<double>(n - j) * log_p);
    if (cdf >= confidence) return sorted[j];  // x(j + 1)
  }
  return std::nullopt;
}

QueryStats summarize_queries(std::span<const QueryRecord> records, double seconds) {
  QueryStats s;
  s.seconds = seconds;
  std::vector<double> latencies, lags;
  for (const QueryRecord& r : records) {
    if (r.error) {
      ++s.errors;
      if (is_wrong_answer(*r.error)) ++s.wrong_answers;
      if (!s.first_error) s.first_error = r.error;
      continue;
    }
    ++s.queries;
    s.samples += r.samples;
    latencies.push_back(r.latency() * 1e3);
    lags.push_back((r.sent - r.intended) * 1e6);
  }
  if (seconds > 0) {
    s.qps = static_cast<double>(s.queries) / seconds;
    s.samples_per_s = static_cast<double>(s.samples) / seconds;
  }
  if (latencies.empty()) return s;
  std::sort(latencies.begin(), latencies.end());
  double sum = 0;
  for (double v : latencies) sum += v;
  s.mean_ms = sum / static_cast<double>(latencies.size());
  s.p50_ms = percentile(latencies, 0.5);
  s.p90_ms = percentile(latencies, 0.9);
  s.p99_ms = percentile(latencies, 0.99);
  s.max_ms = latencies.back();
  s.early_p90_ms = early_stopping_estimate(latencies, 0.9);
  s.early_p99_ms = early_stopping_estimate(latencies, 0.99);
  s.lag_p50_us = percentile(lags, 0.5);
  s.lag_p99_us = percentile(lags, 0.99);
  return s;
}

}  // namespace cpuinfer::loadgen

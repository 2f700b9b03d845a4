// The figures of a set of answered queries: latency percentiles, throughput, the generator's own
// lag, and MLPerf's early-stopping estimate of a percentile.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cpuinfer::loadgen {

// A query's error that is an answer, and a wrong one (outputs that disagree with the expected, or
// cannot be read), not a failed request: "wrong answer: sample 3: disagrees: ...".
std::string wrong_answer(const std::string& why);
bool is_wrong_answer(const std::string& error);

// One query's times, in seconds from the run's start. `intended` is when the schedule meant to
// send it: latency counts from there, so a target that stalls cannot hide the queueing it causes
// (coordinated omission). In a closed loop the next query is meant when the last one returns:
// intended = sent.
struct QueryRecord {
  double intended = 0, sent = 0, done = -1;  // done < 0: not answered
  std::size_t samples = 0;
  std::optional<std::string> error;  // a failed request, or an answer that disagrees
  double latency() const { return done - intended; }
};

// The latency a run's count supports as its q-quantile at `confidence`, whatever the distribution:
// the smallest order statistic x(k) with P(Binomial(n, q) <= k - 1) >= confidence, an upper
// confidence bound on the true quantile (MLPerf's early stopping asks the same of its
// over-latency counts). nullopt when n is too small for any: n < log(1 - confidence) / log(q),
// e.g. 44 queries for p90 and 459 for p99 at 99%.
std::optional<double> early_stopping_estimate(std::span<const double> sorted, double q, double confidence = 0.99);

struct QueryStats {
  std::size_t queries = 0, samples = 0, errors = 0;
  std::size_t wrong_answers = 0;  // of the errors
  double seconds = 0;
  double qps = 0, samples_per_s = 0;  // answered queries (samples) over `seconds`
  double mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  std::optional<double> early_p90_ms, early_p99_ms;
  double lag_p50_us = 0, lag_p99_us = 0;  // sent - intended: how late the generator sent
  std::optional<std::string> first_error;
};

// Over `seconds` (the window or run the records fill). Errors count apart: their latencies are not
// latencies of answers.
QueryStats summarize_queries(std::span<const QueryRecord> records, double seconds);

// MLPerf Inference's minimums for a valid run (mlperf.conf, v1.1 onwards: the reference this
// tool prints beside its shorter runs).
struct MlperfMinimums {
  double seconds = 600;
  std::size_t queries = 0;  // Offline: samples
  double percentile = 0.9;  // the latency the scenario reports
};

}  // namespace cpuinfer::loadgen

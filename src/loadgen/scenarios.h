// MLPerf's four scenarios and perf_analyzer's sweeps over a target, each ending in result rows.
//  - SingleStream: one query of one sample at a time; its result is the p90 latency.
//  - MultiStream: one query of `multistream_samples` (8) samples at a time; the p99 latency.
//  - Offline: every query at once, as many as keep the target busy for the run (sized from a short
//    measurement first); the throughput.
//  - Server: Poisson arrivals at a rate; the largest rate whose p99 stays within the latency bound,
//    found by doubling and then halving the interval between a passing and a failing rate. A
//    probe stops as soon as more of its queries are over the bound than its p99 allows.
//  - Sweeps: each concurrency (a closed loop) or request rate (an open loop, Poisson or constant),
//    measured in windows until the last 3 agree within `stability` on throughput and p50 (or it
//    gives up after `max_windows` and says so); a point whose p99 passes the latency bound ends
//    the sweep.
// Every row says how far it is from MLPerf's minimums (query_stats.h) and, when short of them,
// gives the early-stopping estimate of its percentile.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loadgen/target.h"

namespace cpuinfer::loadgen {

struct ScenarioOptions {
  double seconds = 10;  // a scenario's run, a Server probe's, a sweep point's longest
  std::optional<double> latency_bound_ms;
  std::size_t multistream_samples = 8;
  int search_steps = 6;
  // Sweeps:
  std::vector<int> concurrencies;
  std::vector<double> rates;
  bool poisson = true;
  double window_seconds = 5;
  int max_windows = 10;
  double stability = 0.1;
  std::uint64_t seed = 1;
  std::size_t check_every = 1;
  // The target's capacity hint (queries/s) where the Server search starts; 0: measure it.
  double capacity_hint = 0;
  int offline_depth = 16;  // queries outstanding while Offline measures the throughput to size its run
};

using EmitRow = std::function<void(nlohmann::ordered_json row)>;
// Progress lines for people (stderr).
using Say = std::function<void(const std::string& line)>;

const std::vector<std::string>& scenario_names();
// The CSV columns of loadgen's rows, in order.
const std::vector<std::string>& loadgen_columns();

void run_scenario(const std::string& scenario, Target& target, std::size_t sample_count, const ScenarioOptions& options,
                  const EmitRow& emit, const Say& say);
void run_sweep(Target& target, std::size_t sample_count, const ScenarioOptions& options, const EmitRow& emit, const Say& say);

}  // namespace cpuinfer::loadgen

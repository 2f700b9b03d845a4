// Drives a target with a load and records every query: a closed loop (a fixed number of queries
// outstanding, the next sent when one returns), an open loop (queries sent at scheduled times,
// Poisson or evenly spaced, whatever the target does), or every query at once (Offline). Queries
// take the run's samples in turn. The run is bounded: it stops issuing after `seconds` (or
// `max_queries`), then waits at most `drain_seconds` for the answers still out; whatever is still
// queued then is cancelled and recorded as an error.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "loadgen/query_stats.h"
#include "loadgen/target.h"

namespace cpuinfer::loadgen {

struct Load {
  int concurrency = 0;      // > 0: a closed loop with this many queries outstanding
  double rate = 0;          // > 0: an open loop at this many queries per second
  bool poisson = true;      // the open loop's gaps: exponential (Poisson arrivals) or constant
  std::size_t at_once = 0;  // > 0: this many queries, all meant at time 0 (Offline)
  std::size_t samples_per_query = 1;
  double seconds = 10;
  std::size_t max_queries = 10'000'000;
  double drain_seconds = 60;
  std::uint64_t seed = 1;
  std::size_t check_every = 1;  // check the answer of one query in this many (0: none)
  // Called about every `window_seconds` with the records so far (answered or not); returning false
  // stops issuing. For windows of measurement, and for a probe that can no longer pass.
  double window_seconds = 1;
  std::function<bool(std::span<const QueryRecord> records, double now)> keep_going;
};

struct LoadRun {
  std::vector<QueryRecord> records;  // in issue order
  double seconds = 0;                // from the start to the last answer
  bool stopped_early = false;        // keep_going said stop
};

// `sample_count`: the samples queries cycle through (0 .. sample_count - 1).
LoadRun drive(Target& target, std::size_t sample_count, const Load& load);

}  // namespace cpuinfer::loadgen

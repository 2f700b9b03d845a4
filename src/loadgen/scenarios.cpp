#include "loadgen/scenarios.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "loadgen/load_driver.h"
#include "loadgen/query_stats.h"

namespace cpuinfer::loadgen {

namespace {

using Row = nlohmann::ordered_json;

MlperfMinimums minimums(const std::string& scenario) {
  if (scenario == "singlestream") return {600, 1024, 0.90};
  if (scenario == "offline") return {600, 24576, 0.90};
  return {600, 270336, 0.99};  // multistream, server, sweeps (p99)
}

// The run in about 50 slices of its answers' times (at least 0.25 s each): throughput and
// percentiles over time, for the report (the JSON rows only).
Row timeline(std::span<const QueryRecord> records) {
  double first = std::numeric_limits<double>::infinity(), last = 0;
  for (const QueryRecord& r : records) {
    first = std::min(first, r.done);
    last = std::max(last, r.done);
  }
  Row slices = Row::array();
  if (records.empty()) return slices;
  const double width = std::max(0.25, (last - first) / 50);
  std::vector<std::vector<QueryRecord>> by_slice(static_cast<std::size_t>((last - first) / width) + 1);
  for (const QueryRecord& r : records) by_slice[static_cast<std::size_t>((r.done - first) / width)].push_back(r);
  for (std::size_t k = 0; k < by_slice.size(); ++k) {
    const QueryStats s = summarize_queries(by_slice[k], width);
    slices.push_back({{"t", first + static_cast<double>(k + 1) * width}, {"qps", s.qps}, {"p50_ms", s.p50_ms}, {"p99_ms", s.p99_ms}, {"errors", s.errors}});
  }
  return slices;
}

// A row of the figures of `records` over `seconds`, for `scenario` run with `load`.
Row make_row(const std::string& scenario, const std::string& kind, const Load& load, std::span<const QueryRecord> records, double seconds) {
  const QueryStats s = summarize_queries(records, seconds);
  const MlperfMinimums m = minimums(scenario);
  const auto optional = [](const std::optional<double>& v) { return v ? Row(*v) : Row(nullptr); };
  Row r;
  r["scenario"] = scenario;
  r["kind"] = kind;
  r["load"] = load.concurrency > 0 ? "closed" : load.at_once > 0 ? "at-once" : load.poisson ? "poisson" : "constant";
  r["concurrency"] = load.concurrency > 0 ? Row(load.concurrency) : Row(nullptr);
  r["offered_rate"] = load.rate > 0 ? Row(load.rate) : Row(nullptr);
  r["samples_per_query"] = load.samples_per_query;
  r["status"] = s.errors == 0 ? std::string("ok")
                              : fmt::format("errors: {} of {} queries, the first: {}", s.errors, s.errors + s.queries, s.first_error.value_or(""));
  r["samples_per_s"] = s.samples_per_s;
  r["qps"] = s.qps;
  r["p50_ms"] = s.p50_ms;
  r["p90_ms"] = s.p90_ms;
  r["p99_ms"] = s.p99_ms;
  r["max_ms"] = s.max_ms;
  r["mean_ms"] = s.mean_ms;
  r["early_stopping_p90_ms"] = optional(s.early_p90_ms);
  r["early_stopping_p99_ms"] = optional(s.early_p99_ms);
  r["queries"] = s.queries;
  r["errors"] = s.errors;
  r["wrong_answers"] = s.wrong_answers;
  r["seconds"] = seconds;
  r["lag_p50_us"] = s.lag_p50_us;
  r["lag_p99_us"] = s.lag_p99_us;
  const std::size_t counted = scenario == "offline" ? s.samples : s.queries;
  r["mlperf_min_seconds"] = m.seconds;
  r["mlperf_min_queries"] = m.queries;
  r["meets_mlperf_minimums"] = seconds >= m.seconds && counted >= m.queries;
  r["timeline"] = timeline(records);
  return r;
}

std::string brief(const Row& r) {
  return fmt::format("{:.4g} samples/s, {:.4g} queries/s, p50 {:.4g} ms, p90 {:.4g} ms, p99 {:.4g} ms{}", r["samples_per_s"].get<double>(),
                     r["qps"].get<double>(), r["p50_ms"].get<double>(), r["p90_ms"].get<double>(), r["p99_ms"].get<double>(),
                     r["errors"].get<std::size_t>() ? fmt::format(", {} errors", r["errors"].get<std::size_t>()) : "");
}

Load base_load(const ScenarioOptions& o) {
  Load l;
  l.seconds = o.seconds;
  l.seed = o.seed;
  l.check_every = o.check_every;
  return l;
}

// The result row: the scenario's figure named, and (for a latency) the row's early-stopping estimate
// of it beside, where its query count supports one.
Row with_result(Row r, const std::string& name, double value, const char* early_column = nullptr) {
  r["result"] = name;
  r["result_value"] = value;
  if (early_column && r[early_column].is_number()) r["result_early_stopping"] = r[early_column];
  return r;
}

void say_result(const Say& say, const std::string& scenario, const Row& r) {
  const MlperfMinimums m = minimums(scenario);
  say(fmt::format("{}: {} = {:.4g}; {}", scenario, r["result"].get<std::string>(), r["result_value"].get<double>(), brief(r)));
  if (!r["meets_mlperf_minimums"].get<bool>()) {
    const std::string percentile = fmt::format("p{}", static_cast<int>(std::round(m.percentile * 100)));
    const Row early = r.value("result_early_stopping", Row(nullptr));
    say(fmt::format("  shorter than MLPerf's minimums ({} s and {} {}): {}", m.seconds, m.queries, scenario == "offline" ? "samples" : "queries",
                    scenario == "offline" ? std::string("the throughput is this run's")
                    : early.is_null()     ? fmt::format("too few queries for an early-stopping estimate of {} at 99% confidence", percentile)
                                          : fmt::format("the early-stopping estimate of {} at 99% confidence is {:.4g} ms", percentile, early.get<double>())));
  }
}

// One Server probe at `rate`: passes when its p99 is within the bound and nothing failed.
struct Probe {
  Row row;
  bool passes = false;
};

Probe probe(Target& target, std::size_t sample_count, const ScenarioOptions& o, double rate, double bound_ms, int step) {
  Load l = base_load(o);
  l.seed = o.seed + static_cast<std::uint64_t>(step);  // each probe its own arrivals
  l.rate = rate;
  l.poisson = true;
  const double allowed = std::max(1.0, 0.01 * rate * o.seconds);  // p99: 1% of the probe's queries
  l.keep_going = [&](std::span<const QueryRecord> records, double now) {
    std::size_t over = 0;
    for (const QueryRecord& r : records)
      if ((r.done >= 0 ? r.latency() : now - r.intended) * 1e3 > bound_ms) ++over;
    return static_cast<double>(over) <= allowed;
  };
  l.window_seconds = 0.5;
  const LoadRun run = drive(target, sample_count, l);
  Probe p{make_row("server", "probe", l, run.records, std::max(o.seconds, 1e-9)), false};
  p.row["latency_bound_ms"] = bound_ms;
  p.passes = !run.stopped_early && p.row["errors"].get<std::size_t>() == 0 && p.row["p99_ms"].get<double>() <= bound_ms;
  if (run.stopped_early) p.row["status"] = fmt::format("stopped: more than 1% of queries over {} ms", bound_ms);
  p.row["passes"] = p.passes;
  return p;
}

double measured_capacity(Target& target, std::size_t sample_count, const ScenarioOptions& o) {
  Load l = base_load(o);
  l.concurrency = o.offline_depth;
  l.seconds = std::clamp(o.seconds / 5, 1.0, 3.0);
  const LoadRun run = drive(target, sample_count, l);
  const QueryStats s = summarize_queries(run.records, run.seconds);
  if (s.errors) fail("the target failed while its capacity was measured: {}", s.first_error.value_or(""));
  return s.qps;
}

void server(Target& target, std::size_t sample_count, const ScenarioOptions& o, const EmitRow& emit, const Say& say) {
  if (!o.latency_bound_ms) fail("the Server scenario needs --latency-bound (ms): the p99 its rate must keep");
  const double bound = *o.latency_bound_ms;
  const double capacity = o.capacity_hint > 0 ? o.capacity_hint : measured_capacity(target, sample_count, o);
  double lo = 0, hi = std::numeric_limits<double>::infinity();
  double rate = std::max(capacity / 2, 1.0 / o.seconds);
  std::optional<Row> best;
  for (int step = 0; step < o.search_steps; ++step) {
    Probe p = probe(target, sample_count, o, rate, bound, step);
    say(fmt::format("server: probe {} at {:.4g} queries/s: {} ({})", step + 1, rate, p.passes ? "passes" : "fails",
                    p.row["status"] == "ok" ? brief(p.row) : p.row["status"].get<std::string>()));
    p.row["search_step"] = step + 1;
    emit(p.row);
    if (p.passes) {
      lo = rate;
      best = p.row;
    } else {
      hi = rate;
    }
    rate = std::isinf(hi) ? 2 * lo : (lo + hi) / 2;
  }
  if (!best) {
    Row r = make_row("server", "result", Load{}, {}, 0);
    r["status"] = fmt::format("failed: no rate tried kept p99 within {} ms (the lowest tried: {:.4g} queries/s)", bound, hi);
    emit(r);
    fail("Server scenario: no rate tried kept p99 within {} ms", bound);
  }
  Row r = *best;
  r["kind"] = "result";
  r = with_result(r, "qps", r["offered_rate"].get<double>());
  say_result(say, "server", r);
  emit(r);
}

void offline(Target& target, std::size_t sample_count, const ScenarioOptions& o, const EmitRow& emit, const Say& say) {
  const double capacity = measured_capacity(target, sample_count, o);
  Load l = base_load(o);
  l.at_once = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(capacity * o.seconds)));
  l.seconds = std::numeric_limits<double>::infinity();
  l.drain_seconds = 10 * o.seconds + 60;
  say(fmt::format("offline: {} queries at once (about {} s at the {:.4g} queries/s measured first)", l.at_once, o.seconds, capacity));
  const LoadRun run = drive(target, sample_count, l);
  Row r = make_row("offline", "result", l, run.records, run.seconds);
  r = with_result(r, "samples_per_s", r["samples_per_s"].get<double>());
  say_result(say, "offline", r);
  emit(r);
}

void stream(const std::string& scenario, Target& target, std::size_t sample_count, const ScenarioOptions& o, const EmitRow& emit, const Say& say) {
  Load l = base_load(o);
  l.concurrency = 1;
  l.samples_per_query = scenario == "multistream" ? o.multistream_samples : 1;
  const LoadRun run = drive(target, sample_count, l);
  Row r = make_row(scenario, "result", l, run.records, run.seconds);
  r = scenario == "multistream" ? with_result(r, "p99_ms", r["p99_ms"].get<double>(), "early_stopping_p99_ms")
                                : with_result(r, "p90_ms", r["p90_ms"].get<double>(), "early_stopping_p90_ms");
  say_result(say, scenario, r);
  emit(r);
}

// The records answered within [from, to).
std::vector<QueryRecord> answered_between(std::span<const QueryRecord> records, double from, double to) {
  std::vector<QueryRecord> in;
  for (const QueryRecord& r : records)
    if (r.done >= from && r.done < to) in.push_back(r);
  return in;
}

bool agree(const std::vector<double>& values, double within) {
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return *lo > 0 && *hi / *lo - 1 <= within;
}

// One sweep point, measured in windows until the last 3 agree.
Row sweep_point(Target& target, std::size_t sample_count, const ScenarioOptions& o, Load l) {
  const double w = o.window_seconds;
  int windows = 0;
  bool stable = false;
  l.seconds = std::min(o.seconds, w * o.max_windows);
  l.window_seconds = w;
  l.keep_going = [&](std::span<const QueryRecord> records, double now) {
    windows = static_cast<int>(std::floor(now / w + 1e-9));
    if (windows < 3) return true;
    std::vector<double> throughput, p50;
    for (int k = windows - 3; k < windows; ++k) {
      const QueryStats s = summarize_queries(answered_between(records, k * w, (k + 1) * w), w);
      throughput.push_back(s.samples_per_s);
      p50.push_back(s.p50_ms);
    }
    stable = agree(throughput, o.stability) && agree(p50, o.stability);
    return !stable;
  };
  const LoadRun run = drive(target, sample_count, l);
  if (!stable) windows = std::max(1, static_cast<int>(std::floor(l.seconds / w + 1e-9)));  // it ran to the end
  const int first = stable ? windows - 3 : 0;
  Row r = make_row("sweep", "point", l, answered_between(run.records, first * w, windows * w), (windows - first) * w);
  r["windows"] = windows;
  r["stable"] = stable;
  if (!stable && r["status"] == "ok")
    r["status"] = fmt::format("unstable: the last 3 windows of {} s did not agree within {:g}% after {} windows", w, 100 * o.stability, windows);
  return r;
}

}  // namespace

const std::vector<std::string>& scenario_names() {
  static const std::vector<std::string> kNames = {"singlestream", "multistream", "server", "offline"};
  return kNames;
}

const std::vector<std::string>& loadgen_columns() {
  static const std::vector<std::string> kColumns = {
      "scenario", "kind", "load", "concurrency", "offered_rate", "samples_per_query", "samples_per_s", "qps", "p50_ms", "p90_ms", "p99_ms",
      "max_ms", "mean_ms", "early_stopping_p90_ms", "early_stopping_p99_ms", "result", "result_value", "result_early_stopping",
      "latency_bound_ms", "passes", "search_step", "windows", "stable", "queries", "errors", "wrong_answers", "seconds", "lag_p50_us", "lag_p99_us",
      "mlperf_min_seconds", "mlperf_min_queries", "meets_mlperf_minimums", "status"};
  return kColumns;
}

void run_scenario(const std::string& scenario, Target& target, std::size_t sample_count, const ScenarioOptions& options,
                  const EmitRow& emit, const Say& say) {
  if (scenario == "server") return server(target, sample_count, options, emit, say);
  if (scenario == "offline") return offline(target, sample_count, options, emit, say);
  if (scenario == "singlestream" || scenario == "multistream") return stream(scenario, target, sample_count, options, emit, say);
  fail("unknown scenario '{}': use singlestream, multistream, server or offline", scenario);
}

void run_sweep(Target& target, std::size_t sample_count, const ScenarioOptions& o, const EmitRow& emit, const Say& say) {
  std::vector<Load> points;
  for (int c : o.concurrencies) {
    Load l = base_load(o);
    l.concurrency = c;
    points.push_back(l);
  }
  for (double rate : o.rates) {
    Load l = base_load(o);
    l.rate = rate;
    l.poisson = o.poisson;
    points.push_back(l);
  }
  for (const Load& l : points) {
    Row r = sweep_point(target, sample_count, o, l);
    say(fmt::format("{} {}: {}{}", l.concurrency > 0 ? "concurrency" : "rate", l.concurrency > 0 ? fmt::format("{}", l.concurrency) : fmt::format("{:.4g}/s", l.rate),
                    brief(r), r["stable"].get<bool>() ? "" : " (unstable)"));
    const bool over = o.latency_bound_ms && r["p99_ms"].get<double>() > *o.latency_bound_ms;
    if (over) r["latency_bound_ms"] = *o.latency_bound_ms;
    emit(r);
    if (over) {
      say(fmt::format("p99 {:.4g} ms is over the {} ms bound: the sweep stops", r["p99_ms"].get<double>(), *o.latency_bound_ms));
      return;
    }
  }
}

}  // namespace cpuinfer::loadgen

// What a report shows, computed once from result files: per workload, every row with its series
// name and speed-up over the baseline backend, the configurations summed up over repeats, cold
// starts, the failures, and the recommendation. The HTML and Markdown writers only lay it out.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/results_file.h"

namespace cpuinfer {

struct ReportOptions {
  double agreement_threshold = 0.99;  // top-1 agreement a backend needs to be recommended
  // Backend the speed-ups are measured against. Empty: per run, libtorch (the study's "no
  // optimization") where it has rows that ran, else the run's reference backend, else its first.
  std::string baseline;
  // Rows without top-1 (models that are not classifiers) agree with the reference when
  // max |out - ref| <= max_rel_diff x max |ref| (the bound `cpuinfer zoo` uses).
  double max_rel_diff = 1e-4;
};

// {"threshold", "max_rel_diff", "baseline" (the runs' baselines, ", "-joined where they differ),
//  "files": [{label, path, machine, weights, random_weights, dataset, baseline, repeats, complete, ...}],
//  "workloads": [{"name", "baseline", "repeats" (most repeats of a configuration),
//                 "rows": [every row, with "series", "speedup" (against the baseline's row of the
//                          same batch size and repeat), "flagged"],
//                 "configurations": [one per (run, backend, batch size, padding): medians over the
//                          repeats that ran, "speedup" with "speedup_min"/"speedup_max", "repeats_ok", "runs"],
//                 "cold_start": [per (run, backend): "load_ms", "first_run_ms", each median with _min/_max],
//                 "failures": [...], "recommendations": [...],
//                 "ort_fused": ["ORT fused (ort): FusedMatMul 12, ..., Attention 0; 412 nodes after optimization"]}],
//  "load_tests": [loadgen's runs: {label, workload, target, kind (scenario or sweep), latency_bound_ms,
//                 threads, machine, started_utc, complete, command, rows (with their timelines)}]}
// Throws cpuinfer::Error for a baseline no result file has, and for content it cannot read.
nlohmann::json build_report_data(const std::vector<ResultsFile>& files, const ReportOptions& options);

}  // namespace cpuinfer

// What a report shows, computed once from result files: per workload, every row with its series
// name and speed-up over the baseline backend, the failures, and the recommendation. The HTML and
// Markdown writers only lay it out.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/results_file.h"

namespace cpuinfer {

struct ReportOptions {
  double agreement_threshold = 0.99;  // top-1 agreement a backend needs to be recommended
  std::string baseline = "libtorch";  // the study's "no optimization"
};

// {"threshold", "baseline", "files": [{label, path, machine, weights, random_weights, complete, ...}],
//  "workloads": [{"name", "rows": [...], "failures": [...], "recommendations": [...],
//                 "ort_fused": ["ORT fused (ort): FusedMatMul 12, ..., Attention 0; 412 nodes after optimization"]}]}
nlohmann::json build_report_data(const std::vector<ResultsFile>& files, const ReportOptions& options);

}  // namespace cpuinfer

// Reading the JSON result files `cpuinfer bench` and `cpuinfer loadgen` write, for reports:
// validated, with errors that name the file and the line.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cpuinfer {

struct ResultsFile {
  std::filesystem::path path;
  std::string label;      // the file name without .json: the run's workload and time
  nlohmann::json doc;     // header (machine, workload, protocol, ...) and rows
};

// Whether a results document is loadgen's (it has a "target"), not bench's.
bool is_load_test(const nlohmann::json& doc);

// Throws cpuinfer::Error "<file>:<line>: ..." for malformed or truncated JSON, and names the
// file and row for JSON that is not a cpuinfer results file.
ResultsFile load_results_file(const std::filesystem::path& file);

}  // namespace cpuinfer

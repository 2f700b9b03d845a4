// Result files of one sweep: <stem>.csv (one line per row) and <stem>.json (run header: machine,
// workload, command; plus every row with its settings and per-batch latencies). Both are rewritten
// atomically (temporary file + rename) after every row, so a crash mid-sweep loses no finished
// row and never leaves a half-written file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cpuinfer {

// CSV columns, in order: the study's five first, then ours. A row's JSON has these keys and more.
const std::vector<std::string>& result_columns();

class ResultFiles {
 public:
  // Creates `folder` if needed. Throws cpuinfer::Error if it cannot be written. The CSV has
  // `columns` (the sweep's by default). If files of `stem` exist (another run in the same second),
  // the stem gets a suffix, -2, -3, ...: a run never overwrites another's results.
  ResultFiles(const std::filesystem::path& folder, const std::string& stem, nlohmann::ordered_json header,
              std::vector<std::string> columns = result_columns());

  void append(nlohmann::ordered_json row);
  // Marks the run complete (a JSON file without it comes from an interrupted sweep).
  void finish();

  const std::vector<nlohmann::ordered_json>& rows() const { return rows_; }
  std::filesystem::path csv_path() const { return csv_; }
  std::filesystem::path json_path() const { return json_; }

 private:
  void write() const;

  std::filesystem::path csv_, json_;
  nlohmann::ordered_json header_;
  std::vector<std::string> columns_;
  std::vector<nlohmann::ordered_json> rows_;
  bool finished_ = false;
};

}  // namespace cpuinfer

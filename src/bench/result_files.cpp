// CSV and JSON result files, rewritten atomically per row.
#include "bench/result_files.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace cpuinfer {

const std::vector<std::string>& result_columns() {
  static const std::vector<std::string> kColumns = {
      "name",            "batch_size",      "time_per_input", "total_time",     "accuracy",
      "workload",        "padding",         "mean_real_tokens", "padding_fraction",
      "repeat",          "samples",         "passes",         "timed_batches",  "samples_per_s",
      "latency_mean_ms", "latency_std_ms",  "latency_min_ms", "latency_max_ms",
      "latency_p50_ms",  "latency_p90_ms",  "latency_p99_ms", "top1_agreement", "max_abs_diff",
      "max_rel_diff",    "reference",       "peak_rss_mb",    "peak_rss_scope", "load_ms",
      "first_run_ms",    "first_batch_ms",  "threads",        "backend_version", "weights",
      "dataset",         "status"};
  return kColumns;
}

namespace {

std::string csv_field(const nlohmann::ordered_json& value) {
  std::string text;
  if (value.is_null()) return "";
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_number_float()) {
    text = fmt::format("{:.6g}", value.get<double>());
  } else {
    text = value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

void write_atomically(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) fail("cannot write results file {}: {}", tmp.string(), strerror(errno));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail("cannot write results file {}: {}", path.string(), ec.message());
}

}  // namespace

ResultFiles::ResultFiles(const fs::path& folder, const std::string& stem, nlohmann::ordered_json header,
                         std::vector<std::string> columns)
    : header_(std::move(header)), columns_(std::move(columns)) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) fail("cannot create results folder {}: {}", folder.string(), ec.message());
  if (!fs::is_directory(folder)) fail("results folder {} is not a folder", folder.string());
  // Claims the JSON name with O_EXCL, so that two runs starting at once cannot take the same one.
  for (int n = 1;; ++n) {
    const std::string name = n == 1 ? stem : fmt::format("{}-{}", stem, n);
    json_ = folder / (name + ".json");
    csv_ = folder / (name + ".csv");
    const int fd = open(json_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      close(fd);
      if (!fs::exists(csv_)) break;
      fs::remove(json_, ec);
      continue;
    }
    if (errno != EEXIST) fail("cannot write results file {}: {}", json_.string(), strerror(errno));
  }
  write();
}

void ResultFiles::append(nlohmann::ordered_json row) {
  rows_.push_back(std::move(row));
  write();
}

void ResultFiles::finish() {
  finished_ = true;
  write();
}

void ResultFiles::write() const {
  std::string csv;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (i) csv += ',';
    csv += columns_[i];
  }
  csv += '\n';
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      if (i) csv += ',';
      const auto it = row.find(columns_[i]);
      if (it != row.end()) csv += csv_field(*it);
    }
    csv += '\n';
  }
  write_atomically(csv_, csv);
  nlohmann::ordered_json doc = header_;
  doc["complete"] = finished_;
  doc["rows"] = rows_;
  write_atomically(json_, doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
}

}  // namespace cpuinfer

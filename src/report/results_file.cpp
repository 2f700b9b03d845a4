// Results file loading and validation.
#include "report/results_file.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace cpuinfer {

bool is_load_test(const nlohmann::json& doc) { return doc.contains("target") && doc["target"].is_object(); }

ResultsFile load_results_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open results file {}", file.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  // Not "truncated at line 1": an empty file is a run that never wrote its header (or a wrong path).
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    fail("results file {} is empty{}", file.string(), text.empty() ? "" : " (only whitespace)");
  ResultsFile result{file, file.stem().string(), {}};
  try {
    result.doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::size_t at = std::min<std::size_t>(e.byte ? e.byte - 1 : 0, text.size());
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
    const std::string what = e.what();
    const auto colon = what.rfind(": ");
    fail("{}:{}: not valid JSON ({}){}", file.string(), line, colon == std::string::npos ? what : what.substr(colon + 2),
         at >= text.size() ? ", the file looks truncated" : "");
  }
  const auto& d = result.doc;
  if (!d.is_object() || !d.contains("rows") || !d["rows"].is_array() || !d.contains("workload") ||
      !d["workload"].is_object())
    fail("{} is not a cpuinfer results file: it needs \"workload\" and \"rows\"", file.string());
  const auto is_string = [](const nlohmann::json& row, const char* key) { return row.contains(key) && row[key].is_string(); };
  if (is_load_test(d)) {
    for (std::size_t i = 0; i < d["rows"].size(); ++i)
      if (const auto& row = d["rows"][i]; !row.is_object() || !is_string(row, "scenario") || !is_string(row, "kind") || !is_string(row, "status"))
        fail("{}: row {} lacks scenario, kind or status", file.string(), i);
    return result;
  }
  for (std::size_t i = 0; i < d["rows"].size(); ++i) {
    const auto& row = d["rows"][i];
    if (!row.is_object() || !row.contains("name") || !row["name"].is_string() || !row.contains("batch_size") ||
        !row["batch_size"].is_number_integer() || !row.contains("status") || !row["status"].is_string())
      fail("{}: row {} lacks name, batch_size or status", file.string(), i);
  }
  return result;
}

}  // namespace cpuinfer

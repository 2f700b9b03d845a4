// Series names, speed-ups, failures, recommendations, and what ONNX Runtime's optimizer fused.
#include "report/report_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "core/error.h"

namespace cpuinfer {

namespace {

bool is_ok(const nlohmann::json& row) { return row.value("status", "") == "ok"; }

std::string padding_of(const nlohmann::json& row) {
  return row.contains("padding") && row["padding"].is_string() ? row["padding"].get<std::string>() : "";
}

double number(const nlohmann::json& row, const char* key) {
  return row.contains(key) && row[key].is_number() ? row[key].get<double>() : 0.0;
}

// A row agrees when its top-1 agreement reaches the threshold. A row with nothing compared agrees
// only if it is the reference itself (whose first row made the reference outputs).
bool agrees(const nlohmann::json& row, double threshold) {
  if (row.contains("top1_agreement") && row["top1_agreement"].is_number())
    return row["top1_agreement"].get<double>() >= threshold;
  return row.contains("reference") && row["reference"] == row["name"];
}

// "ORT fused (ort): FusedMatMul 12, BiasGelu 12, Attention 0, SkipLayerNormalization 0; 412 nodes after
// optimization", or "ORT fused (ort): unknown: <why>", from the settings of an ORT row
// (backends/ort/ort_optimized_graph.h); most frequent first. "" for rows without them: native's
// fused_nodes is a single number, other backends have none.
std::string ort_fused_line(const nlohmann::json& row, const std::string& series) {
  if (!row.contains("settings") || !row["settings"].contains("fused_nodes")) return "";
  const auto& settings = row["settings"];
  const auto& fused = settings["fused_nodes"];
  if (fused.is_string()) return fmt::format("ORT fused ({}): {}", series, fused.get<std::string>());
  if (!fused.is_object()) return "";
  std::vector<std::pair<std::string, std::uint64_t>> types;
  for (const auto& [type, n] : fused.items()) types.emplace_back(type, n.get<std::uint64_t>());
  std::stable_sort(types.begin(), types.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string line = fmt::format("ORT fused ({}):", series);
  for (std::size_t i = 0; i < types.size(); ++i)
    line += fmt::format("{} {} {}", i == 0 ? "" : ",", types[i].first, types[i].second);
  if (settings.contains("optimized_nodes") && settings["optimized_nodes"].is_number())
    line += fmt::format("; {} nodes after optimization", settings["optimized_nodes"].get<std::uint64_t>());
  return line;
}

}  // namespace

// What a reader must know about a run on seeded random weights.
constexpr const char* kRandomWeightsNote =
    "seeded random weights: accuracy against labels means nothing, agreement between backends still does. "
    "Low-precision rows (int8, bfloat16) agree less here: random weights give near-tied logits, which the "
    "rounding of a low-precision product reorders, and one-step differences grow over many layers. Judge "
    "their accuracy on a trained model (README: trained guard models).";

nlohmann::json build_report_data(const std::vector<ResultsFile>& files, const ReportOptions& options) {
  nlohmann::json report = {{"threshold", options.agreement_threshold},
                           {"baseline", options.baseline},
                           {"files", nlohmann::json::array()},
                           {"workloads", nlohmann::json::array()}};
  // Series carry their run's name only where several runs of one workload are compared.
  std::map<std::string, int> runs_per_workload;
  for (const auto& f : files) ++runs_per_workload[f.doc["workload"].value("name", "?")];
  std::map<std::string, nlohmann::json> workloads;  // by name, in name order
  for (const auto& f : files) {
   try {
    const auto& d = f.doc;
    const auto& w = d["workload"];
    report["files"].push_back({{"label", f.label},
                               {"path", f.path.string()},
                               {"workload", w.value("name", "?")},
                               {"weights", w.value("weights", "?")},
                               {"random_weights", w.value("random_weights", false)},
                               {"weights_note", w.value("random_weights", false) ? kRandomWeightsNote : ""},
                               {"dataset", w.value("dataset", "?")},
                               {"started_utc", d.value("started_utc", "")},
                               {"complete", d.value("complete", false)},
                               {"command", d.value("command", "")},
                               {"machine", d.value("machine", nlohmann::json::object())},
                               {"libraries", d.value("libraries", nlohmann::json::object())},
                               {"protocol", d.value("protocol", nlohmann::json::object())}});
    const bool several = runs_per_workload[w.value("name", "?")] > 1;
    auto& section = workloads[w.value("name", "?")];
    if (section.is_null())
      section = {{"name", w.value("name", "?")}, {"rows", nlohmann::json::array()}, {"failures", nlohmann::json::array()},
                 {"recommendations", nlohmann::json::array()}, {"ort_fused", nlohmann::json::array()}};

    // Baseline time per sample for each batch size (padding as the study: longest, or none).
    std::map<int, double> baseline;
    for (const auto& row : d["rows"])
      if (is_ok(row) && row["name"] == options.baseline && (padding_of(row).empty() || padding_of(row) == "longest"))
        baseline[row["batch_size"].get<int>()] = number(row, "time_per_input");

    std::map<int, nlohmann::json> best;  // batch size -> fastest agreeing row
    for (const auto& row : d["rows"]) {
      // Rows are inlined into the page and handed to Vega-Lite: they keep only what a table or chart
      // shows. Of the settings that is one line per ORT backend, the same for all its rows.
      const std::string backend = fmt::format("{}{}", several ? f.label + " · " : "", row["name"].get<std::string>());
      const std::string fused = ort_fused_line(row, backend);
      auto& lines = section["ort_fused"];
      if (!fused.empty() && std::find(lines.begin(), lines.end(), fused) == lines.end()) lines.push_back(fused);
      nlohmann::json r = row;
      r.erase("latencies_ms");
      r.erase("settings");
      const std::string padding = padding_of(row);
      r["file"] = f.label;
      r["series"] = backend + (padding.empty() ? "" : " (" + padding + ")");
      const int batch = row["batch_size"].get<int>();
      r["flagged"] = is_ok(row) && !agrees(row, options.agreement_threshold);
      if (is_ok(row) && baseline.count(batch) && number(row, "time_per_input") > 0)
        r["speedup"] = baseline[batch] / number(row, "time_per_input");
      if (!is_ok(row)) section["failures"].push_back(r);
      if (is_ok(row) && agrees(row, options.agreement_threshold) &&
          (!best.count(batch) || number(row, "time_per_input") < number(best[batch], "time_per_input")))
        best[batch] = r;
      section["rows"].push_back(std::move(r));
    }
    for (const auto& [batch, row] : best) {
      section["recommendations"].push_back({{"file", f.label},
                                            {"batch_size", batch},
                                            {"series", row["series"]},
                                            {"backend", row["name"]},
                                            {"padding", padding_of(row)},
                                            {"time_per_input", row["time_per_input"]},
                                            {"top1_agreement", row.value("top1_agreement", nlohmann::json())},
                                            {"speedup", row.value("speedup", nlohmann::json())}});
    }
   } catch (const nlohmann::json::exception& e) {
    fail("{}: unexpected content in a results file: {}", f.path.string(), e.what());
   }
  }
  for (auto& [name, section] : workloads) report["workloads"].push_back(std::move(section));
  return report;
}

}  // namespace cpuinfer

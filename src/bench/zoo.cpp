// The model zoo: manifest, summary rows and their table.
#include "bench/zoo.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace cpuinfer {

std::vector<ZooModel> read_zoo(const fs::path& folder) {
  if (!fs::is_directory(folder)) fail("model zoo folder {} does not exist (scripts/setup.sh exports it with tools/export_zoo.py)", folder.string());
  std::vector<ZooModel> models;
  const fs::path manifest = folder / "zoo.json";
  if (!fs::exists(manifest)) {
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.path().extension() == ".onnx") models.push_back({entry.path().stem().string(), entry.path(), "", nullptr, ""});
    std::sort(models.begin(), models.end(), [](const ZooModel& a, const ZooModel& b) { return a.name < b.name; });
    if (models.empty()) fail("model zoo folder {} holds no .onnx file and no zoo.json", folder.string());
    return models;
  }
  nlohmann::json doc;
  try {
    std::ifstream in(manifest);
    doc = nlohmann::json::parse(in);
    for (const auto& m : doc.at("models")) {
      ZooModel z;
      z.file = folder / m.at("file").get<std::string>();
      z.name = z.file.stem().string();
      z.kind = m.value("kind", "");
      z.inputs = m.value("inputs", nlohmann::ordered_json());
      const std::string status = m.value("status", "ok");
      if (status != "ok") z.export_error = status;
      models.push_back(std::move(z));
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not a zoo manifest: {}", manifest.string(), e.what());
  }
  return models;
}

std::map<std::string, Shape> zoo_shapes(const ZooModel& model, std::int64_t length) {
  std::map<std::string, Shape> shapes;
  if (!model.inputs.is_array()) return shapes;
  for (const auto& input : model.inputs)
    for (const auto& dim : input.value("shape", nlohmann::ordered_json::array()))
      if (dim.is_string() && dim.get<std::string>() != "batch") shapes[dim.get<std::string>()] = {length};
  return shapes;
}

const std::vector<std::string>& zoo_columns() {
  static const std::vector<std::string> kColumns = {"model",         "kind",          "status",         "native_ms_b1",
                                                    "reference_ms_b1", "time_ratio_b1", "top1_agreement", "max_rel_diff",
                                                    "batch_sizes",   "threads",       "reference",      "weights"};
  return kColumns;
}

namespace {

std::string describe_batches(const std::vector<int>& batches) {
  std::string s;
  for (int b : batches) s += (s.empty() ? "" : ",") + std::to_string(b);
  return s;
}

}  // namespace

nlohmann::ordered_json zoo_row(const ZooModel& model, const std::vector<nlohmann::ordered_json>& rows,
                               const std::string& reference, double max_rel_diff) {
  nlohmann::ordered_json row;
  row["model"] = model.name;
  row["kind"] = model.kind.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(model.kind);
  // What native lacks comes first; then a reference that could not run (nothing to agree with);
  // then the first disagreement.
  std::string native_problem, reference_problem, disagreement;
  std::optional<double> native_ms, reference_ms, top1, rel;
  std::vector<int> batches;
  for (const auto& r : rows) {
    const std::string backend = r.value("name", ""), row_status = r.value("status", "");
    const int batch = r.value("batch_size", 0);
    if (backend != "native" && backend != reference) continue;
    if (row_status != "ok") {
      std::string& problem = backend == "native" ? native_problem : reference_problem;
      if (problem.empty()) problem = row_status;
      continue;
    }
    if (batch == 1) (backend == "native" ? native_ms : reference_ms) = r.value("latency_p50_ms", 0.0);
    if (backend != "native") continue;
    if (std::find(batches.begin(), batches.end(), batch) == batches.end()) batches.push_back(batch);
    if (r.contains("top1_agreement") && r["top1_agreement"].is_number()) {
      const double t = r["top1_agreement"].get<double>();
      top1 = top1 ? std::min(*top1, t) : t;
      if (t < 1.0 && disagreement.empty()) disagreement = fmt::format("disagrees: top-1 agreement {:.2f} at batch {}", t, batch);
    }
    if (r.contains("max_rel_diff") && r["max_rel_diff"].is_number()) {
      const double d = r["max_rel_diff"].get<double>();
      rel = rel ? std::max(*rel, d) : d;
      if (d > max_rel_diff && disagreement.empty())
        disagreement = fmt::format("disagrees: max relative difference {:.2g} at batch {} (limit {:.0e})", d, batch, max_rel_diff);
    } else if (disagreement.empty()) {
      disagreement = fmt::format("disagrees: no outputs of {} to compare with at batch {}", reference, batch);
    }
  }
  std::string status = "ok";
  if (!model.export_error.empty()) status = fmt::format("failed: export: {}", model.export_error);
  else if (!native_problem.empty()) status = native_problem;
  else if (!reference_problem.empty()) status = fmt::format("{}: {}", reference, reference_problem);
  else if (rows.empty()) status = "failed: no rows";
  else if (!disagreement.empty()) status = disagreement;
  auto number = [](std::optional<double> v) { return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr); };
  row["status"] = status;
  row["native_ms_b1"] = number(native_ms);
  row["reference_ms_b1"] = number(reference_ms);
  row["time_ratio_b1"] = native_ms && reference_ms && *reference_ms > 0 ? nlohmann::ordered_json(*native_ms / *reference_ms)
                                                                          : nlohmann::ordered_json(nullptr);
  row["top1_agreement"] = number(top1);
  row["max_rel_diff"] = number(rel);
  row["batch_sizes"] = describe_batches(batches);
  row["threads"] = rows.empty() ? nlohmann::ordered_json(nullptr) : rows.front().value("threads", nlohmann::ordered_json(nullptr));
  row["reference"] = reference;
  row["weights"] = rows.empty() ? nlohmann::ordered_json(nullptr) : rows.front().value("weights", nlohmann::ordered_json(nullptr));
  return row;
}

std::string format_zoo_table(const std::vector<nlohmann::ordered_json>& rows) {
  auto cell = [](const nlohmann::ordered_json& v, const char* format) -> std::string {
    if (!v.is_number()) return "-";
    return fmt::format(fmt::runtime(format), v.get<double>());
  };
  std::size_t width = 5;
  for (const auto& r : rows) width = std::max(width, r.value("model", "").size());
  std::string out = fmt::format("{:<{}}  {:>10}  {:>10}  {:>10}  {:>5}  {:>12}  {}\n", "model", width, "native ms", "ORT ms",
                                "native/ORT", "top-1", "max rel diff", "status");
  for (const auto& r : rows)
    out += fmt::format("{:<{}}  {:>10}  {:>10}  {:>10}  {:>5}  {:>12}  {}\n", r.value("model", ""), width,
                       cell(r["native_ms_b1"], "{:.2f}"), cell(r["reference_ms_b1"], "{:.2f}"),
                       cell(r["time_ratio_b1"], "{:.2f}"), cell(r["top1_agreement"], "{:.2f}"),
                       cell(r["max_rel_diff"], "{:.1e}"), r.value("status", ""));
  return out;
}

}  // namespace cpuinfer

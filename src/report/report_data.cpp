// Series names, speed-ups (per repeat, and their spread over repeats), cold starts, failures,
// recommendations, and what ONNX Runtime's optimizer fused.
#include "report/report_data.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <tuple>
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

bool has_number(const nlohmann::json& row, const char* key) { return row.contains(key) && row[key].is_number(); }

// Which pass of a `bench --repeat N` sweep a row belongs to; 0 in files from before repeats.
int repeat_of(const nlohmann::json& row) {
  return row.contains("repeat") && row["repeat"].is_number_integer() ? row["repeat"].get<int>() : 0;
}

// A row agrees when its top-1 agreement reaches the threshold. Without top-1 (a model that is not a
// classifier), when its outputs are within max_rel_diff of the reference's. A row with nothing
// compared agrees only if it is the reference itself (whose first row made the reference outputs).
bool agrees(const nlohmann::json& row, const ReportOptions& options) {
  if (has_number(row, "top1_agreement")) return row["top1_agreement"].get<double>() >= options.agreement_threshold;
  if (row.contains("reference") && row["reference"] == row["name"]) return true;
  return has_number(row, "max_rel_diff") && row["max_rel_diff"].get<double>() <= options.max_rel_diff;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// out[key] = the median of `values`, out[key_min], out[key_max] their range; null when there are none.
void put_spread(nlohmann::json& out, const std::string& key, const std::vector<double>& values) {
  if (values.empty()) {
    out[key] = nullptr;
    return;
  }
  out[key] = median(values);
  out[key + "_min"] = *std::min_element(values.begin(), values.end());
  out[key + "_max"] = *std::max_element(values.begin(), values.end());
}

std::vector<double> numbers_of(const std::vector<nlohmann::json>& rows, const char* key) {
  std::vector<double> values;
  for (const auto& row : rows)
    if (has_number(row, key)) values.push_back(row[key].get<double>());
  return values;
}

// Backends of a run, in the order of their first row.
std::vector<std::string> backends_of(const nlohmann::json& doc) {
  std::vector<std::string> names;
  for (const auto& row : doc["rows"]) {
    const std::string name = row["name"].get<std::string>();
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

// libtorch where it ran, else the run's reference, else the first backend that ran, else the first one.
std::string default_baseline(const nlohmann::json& doc) {
  auto ran = [&](const nlohmann::json& name) {
    return name.is_string() && std::any_of(doc["rows"].begin(), doc["rows"].end(),
                                           [&](const nlohmann::json& row) { return is_ok(row) && row["name"] == name; });
  };
  if (ran("libtorch")) return "libtorch";
  if (doc.contains("protocol") && doc["protocol"].is_object() && ran(doc["protocol"].value("reference", nlohmann::json())))
    return doc["protocol"]["reference"].get<std::string>();
  for (const auto& row : doc["rows"])  // the reference that stood in for a requested one that failed to load
    if (row.contains("reference") && ran(row["reference"])) return row["reference"].get<std::string>();
  for (const auto& row : doc["rows"])
    if (is_ok(row)) return row["name"].get<std::string>();
  return doc["rows"].empty() ? "" : doc["rows"][0]["name"].get<std::string>();
}

// What the run measured on: the header's data set, else the rows' (`bench --model` records it per row).
std::string dataset_of(const nlohmann::json& doc) {
  const auto& w = doc["workload"];
  if (w.contains("dataset") && w["dataset"].is_string()) return w["dataset"].get<std::string>();
  for (const auto& row : doc["rows"])
    if (row.contains("dataset") && row["dataset"].is_string()) return row["dataset"].get<std::string>();
  return "?";
}

// Passes over the whole sweep: the header's, else the highest repeat of a row.
int repeats_of(const nlohmann::json& doc) {
  int repeats = 1;
  if (doc.contains("protocol") && doc["protocol"].is_object() && doc["protocol"].contains("repeats") &&
      doc["protocol"]["repeats"].is_number_integer())
    repeats = doc["protocol"]["repeats"].get<int>();
  for (const auto& row : doc["rows"]) repeats = std::max(repeats, repeat_of(row));
  return repeats;
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
    "their accuracy on a trained model (docs/quantize.md: trained guard models).";

namespace {

// One (backend, batch size, padding) of a run: its rows, one per repeat.
struct Configuration {
  nlohmann::json first;  // the first row as the report shows it (series, file, ...)
  std::vector<nlohmann::json> ok;  // the rows that ran, as the report shows them
  std::size_t runs = 0;
  bool all_agree = true;
};

nlohmann::json summarize(const Configuration& c) {
  nlohmann::json s = {{"file", c.first["file"]},
                      {"series", c.first["series"]},
                      {"name", c.first["name"]},
                      {"batch_size", c.first["batch_size"]},
                      {"padding", padding_of(c.first)},
                      {"runs", c.runs},
                      {"repeats_ok", c.ok.size()}};
  for (const char* key : {"time_per_input", "total_time", "samples_per_s", "latency_p50_ms", "speedup"})
    put_spread(s, key, numbers_of(c.ok, key));
  const auto top1 = numbers_of(c.ok, "top1_agreement");
  s["top1_agreement"] = top1.empty() ? nlohmann::json() : nlohmann::json(*std::min_element(top1.begin(), top1.end()));
  for (const char* key : {"max_abs_diff", "max_rel_diff"}) {
    const auto diff = numbers_of(c.ok, key);
    s[key] = diff.empty() ? nlohmann::json() : nlohmann::json(*std::max_element(diff.begin(), diff.end()));
  }
  s["agrees"] = !c.ok.empty() && c.all_agree;
  s["flagged"] = !c.ok.empty() && !c.all_agree;
  s["status"] = c.ok.size() == c.runs ? std::string("ok")
                : c.ok.empty()      ? c.first["status"].get<std::string>()
                                    : fmt::format("{} of {} repeats ran", c.ok.size(), c.runs);
  return s;
}

}  // namespace

namespace {

// A loadgen run for the report: what was loaded and how, and its rows (with their timelines).
nlohmann::json load_test_run(const ResultsFile& f) {
  const auto& d = f.doc;
  const auto& t = d["target"];
  const std::string target = t.contains("url") ? t.value("url", "") : fmt::format("{} in process", t.value("backend", "?"));
  std::string threads = "-";
  if (t.contains("instances")) threads = fmt::format("{} x {}", t["instances"].dump(), t.value("threads_per_instance", 0));
  return {{"label", f.label},
          {"workload", d["workload"].value("name", "?")},
          {"random_weights", d["workload"].value("random_weights", false)},
          {"target", target},
          {"kind", d.value("protocol", nlohmann::json::object()).value("kind", "?")},
          {"latency_bound_ms", d.value("protocol", nlohmann::json::object()).value("latency_bound_ms", nlohmann::json())},
          {"threads", threads},
          {"machine", d.value("machine", nlohmann::json::object())},
          {"started_utc", d.value("started_utc", "")},
          {"complete", d.value("complete", false)},
          {"command", d.value("command", "")},
          {"rows", d["rows"]}};
}

}  // namespace

nlohmann::json build_report_data(const std::vector<ResultsFile>& all, const ReportOptions& options) {
  nlohmann::json load_tests = nlohmann::json::array();
  std::vector<ResultsFile> files;  // bench's
  for (const ResultsFile& f : all) {
    if (is_load_test(f.doc)) load_tests.push_back(load_test_run(f));
    else files.push_back(f);
  }
  if (!options.baseline.empty()) {
    std::vector<std::string> names;
    for (const auto& f : files)
      for (const auto& name : backends_of(f.doc))
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    if (std::find(names.begin(), names.end(), options.baseline) == names.end())
      fail("--baseline {}: no such backend in the results (they have {})", options.baseline,
           names.empty() ? std::string("no rows") : fmt::format("{}", fmt::join(names, ", ")));
  }
  nlohmann::json report = {{"threshold", options.agreement_threshold},
                           {"max_rel_diff", options.max_rel_diff},
                           {"baseline", ""},
                           {"files", nlohmann::json::array()},
                           {"workloads", nlohmann::json::array()},
                           {"load_tests", std::move(load_tests)}};
  // Series carry their run's name only where several runs of one workload are compared.
  std::map<std::string, int> runs_per_workload;
  for (const auto& f : files) ++runs_per_workload[f.doc["workload"].value("name", "?")];
  std::map<std::string, nlohmann::json> workloads;  // by name, in name order
  std::vector<std::string> baselines;               // of all runs, each once
  auto add_once = [](std::vector<std::string>& list, const std::string& item) {
    if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
  };
  for (const auto& f : files) {
   try {
    const auto& d = f.doc;
    const auto& w = d["workload"];
    const std::string baseline_name = options.baseline.empty() ? default_baseline(d) : options.baseline;
    add_once(baselines, baseline_name);
    report["files"].push_back({{"label", f.label},
                               {"path", f.path.string()},
                               {"workload", w.value("name", "?")},
                               {"weights", w.value("weights", "?")},
                               {"random_weights", w.value("random_weights", false)},
                               {"weights_note", w.value("random_weights", false) ? kRandomWeightsNote : ""},
                               {"dataset", dataset_of(d)},
                               {"baseline", baseline_name},
                               {"repeats", repeats_of(d)},
                               {"started_utc", d.value("started_utc", "")},
                               {"complete", d.value("complete", false)},
                               {"command", d.value("command", "")},
                               {"machine", d.value("machine", nlohmann::json::object())},
                               {"libraries", d.value("libraries", nlohmann::json::object())},
                               {"protocol", d.value("protocol", nlohmann::json::object())}});
    const bool several = runs_per_workload[w.value("name", "?")] > 1;
    auto& section = workloads[w.value("name", "?")];
    if (section.is_null())
      section = {{"name", w.value("name", "?")},         {"baselines", nlohmann::json::array()},
                 {"repeats", 1},                         {"rows", nlohmann::json::array()},
                 {"configurations", nlohmann::json::array()}, {"cold_start", nlohmann::json::array()},
                 {"failures", nlohmann::json::array()},  {"recommendations", nlohmann::json::array()},
                 {"ort_fused", nlohmann::json::array()}};
    if (std::find(section["baselines"].begin(), section["baselines"].end(), baseline_name) == section["baselines"].end())
      section["baselines"].push_back(baseline_name);

    // Baseline time per sample for each batch size and repeat (padding as the study: longest, or none).
    std::map<std::pair<int, int>, double> baseline;
    for (const auto& row : d["rows"])
      if (is_ok(row) && row["name"] == baseline_name && (padding_of(row).empty() || padding_of(row) == "longest"))
        baseline[{row["batch_size"].get<int>(), repeat_of(row)}] = number(row, "time_per_input");

    std::vector<Configuration> configurations;  // in the order of their first row
    std::map<std::tuple<std::string, int, std::string>, std::size_t> configuration_of;
    // Cold start per backend: each repeat's first load_ms and first_run_ms (a repeat loads anew).
    std::vector<std::string> cold_order;
    std::map<std::string, std::map<int, std::pair<nlohmann::json, nlohmann::json>>> cold;
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
      const int repeat = repeat_of(row);
      const bool agreeing = agrees(row, options);
      r["flagged"] = is_ok(row) && !agreeing;
      const auto base = baseline.find({batch, repeat});
      if (is_ok(row) && base != baseline.end() && number(row, "time_per_input") > 0)
        r["speedup"] = base->second / number(row, "time_per_input");
      if (!is_ok(row)) section["failures"].push_back(r);

      const auto key = std::make_tuple(row["name"].get<std::string>(), batch, padding);
      if (!configuration_of.count(key)) {
        configuration_of[key] = configurations.size();
        configurations.push_back({r, {}, 0, true});
      }
      Configuration& c = configurations[configuration_of[key]];
      ++c.runs;
      if (is_ok(row)) {
        c.ok.push_back(r);
        c.all_agree = c.all_agree && agreeing;
      }

      const std::string name = row["name"].get<std::string>();
      if (!cold.count(name)) cold_order.push_back(name);
      auto& times = cold[name][repeat];
      for (auto [key_name, slot] : {std::pair{"load_ms", &times.first}, std::pair{"first_run_ms", &times.second}})
        if (slot->is_null() && has_number(row, key_name)) *slot = row[key_name];
      section["rows"].push_back(std::move(r));
    }

    std::map<int, std::size_t> best;  // batch size -> fastest agreeing configuration (median time)
    for (std::size_t i = 0; i < configurations.size(); ++i) {
      const Configuration& c = configurations[i];
      section["repeats"] = std::max(section["repeats"].get<std::size_t>(), c.runs);
      nlohmann::json s = summarize(c);
      const int batch = s["batch_size"].get<int>();
      if (s["agrees"].get<bool>() && s["time_per_input"].is_number() &&
          (!best.count(batch) || s["time_per_input"].get<double>() <
                                     section["configurations"][best[batch]]["time_per_input"].get<double>()))
        best[batch] = section["configurations"].size();
      section["configurations"].push_back(std::move(s));
    }
    for (const auto& [batch, index] : best) {
      const auto& s = section["configurations"][index];
      nlohmann::json rec = {{"file", f.label},
                            {"batch_size", batch},
                            {"series", s["series"]},
                            {"backend", s["name"]},
                            {"padding", s["padding"]},
                            {"repeats_ok", s["repeats_ok"]},
                            {"time_per_input", s["time_per_input"]},
                            {"top1_agreement", s["top1_agreement"]},
                            {"max_rel_diff", s["max_rel_diff"]}};
      for (const char* key : {"speedup", "speedup_min", "speedup_max"}) rec[key] = s.value(key, nlohmann::json());
      section["recommendations"].push_back(std::move(rec));
    }
    for (const auto& name : cold_order) {
      std::vector<double> load, first_run;
      for (const auto& [repeat, times] : cold[name]) {
        if (times.first.is_number()) load.push_back(times.first.get<double>());
        if (times.second.is_number()) first_run.push_back(times.second.get<double>());
      }
      if (load.empty() && first_run.empty()) continue;
      nlohmann::json entry = {{"file", f.label}, {"series", fmt::format("{}{}", several ? f.label + " · " : "", name)},
                              {"backend", name}, {"loads", std::max(load.size(), first_run.size())}};
      put_spread(entry, "load_ms", load);
      put_spread(entry, "first_run_ms", first_run);
      section["cold_start"].push_back(std::move(entry));
    }
   } catch (const nlohmann::json::exception& e) {
    fail("{}: unexpected content in a results file: {}", f.path.string(), e.what());
   }
  }
  report["baseline"] = fmt::format("{}", fmt::join(baselines, ", "));
  for (auto& [name, section] : workloads) {
    std::vector<std::string> names;
    for (const auto& b : section["baselines"]) names.push_back(b.get<std::string>());
    section["baseline"] = fmt::format("{}", fmt::join(names, ", "));
    report["workloads"].push_back(std::move(section));
  }
  return report;
}

}  // namespace cpuinfer

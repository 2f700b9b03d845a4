// Report data: results files are validated with file and line, speed-ups and recommendations are
// computed from the rows as documented, and ORT's fused nodes are summed up in one line.
#include <gtest/gtest.h>

#include <tuple>

#include "core/error.h"
#include "report/report_data.h"
#include "report/report_writers.h"
#include "report/results_file.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

std::string error_of(const std::filesystem::path& file) {
  try {
    load_results_file(file);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void write(const std::filesystem::path& file, const std::string& text) {
  testing::write_bytes(file, {text.begin(), text.end()});
}

TEST(ResultsFile, MalformedOrTruncatedNamesFileAndLine) {
  testing::TempDir tmp;
  write(tmp.path() / "cut.json", "{\n  \"workload\": {},\n  \"rows\": [\n    {\"name\": \"ort\",");
  EXPECT_NE(error_of(tmp.path() / "cut.json").find("cut.json:4: not valid JSON"), std::string::npos)
      << error_of(tmp.path() / "cut.json");
  EXPECT_NE(error_of(tmp.path() / "cut.json").find("truncated"), std::string::npos);
  write(tmp.path() / "bad.json", "{\n\"rows\": [],\n  oops\n}");
  EXPECT_NE(error_of(tmp.path() / "bad.json").find("bad.json:3:"), std::string::npos) << error_of(tmp.path() / "bad.json");
  write(tmp.path() / "other.json", "{\"rows\": []}");
  EXPECT_NE(error_of(tmp.path() / "other.json").find("not a cpuinfer results file"), std::string::npos);
  write(tmp.path() / "row.json", R"({"workload": {}, "rows": [{"name": "ort"}]})");
  EXPECT_NE(error_of(tmp.path() / "row.json").find("row 0"), std::string::npos);
  EXPECT_NE(error_of(tmp.path() / "missing.json").find("cannot open"), std::string::npos);
}

// An empty file is not "truncated at line 1": it never had a header.
TEST(ResultsFile, EmptyFileSaysItIsEmpty) {
  testing::TempDir tmp;
  write(tmp.path() / "empty.json", "");
  EXPECT_EQ(error_of(tmp.path() / "empty.json"), "results file " + (tmp.path() / "empty.json").string() + " is empty");
  write(tmp.path() / "blank.json", "\n  \n");
  EXPECT_NE(error_of(tmp.path() / "blank.json").find("blank.json is empty (only whitespace)"), std::string::npos)
      << error_of(tmp.path() / "blank.json");
}

nlohmann::json row(const std::string& name, int batch, double s_per_sample, nlohmann::json agreement,
                   const std::string& status = "ok") {
  return {{"name", name}, {"batch_size", batch}, {"time_per_input", s_per_sample}, {"total_time", s_per_sample * 8},
          {"top1_agreement", agreement}, {"status", status}, {"reference", "libtorch"}};
}

TEST(ReportData, RecommendsTheFastestAgreeingBackendAgainstTheBaseline) {
  ResultsFile f{"run.json", "run", {{"workload", {{"name", "resnet101"}, {"random_weights", true}}}, {"rows", nlohmann::json::array()}}};
  auto& rows = f.doc["rows"];
  rows.push_back(row("libtorch", 1, 0.100, nullptr));
  rows.push_back(row("ort", 1, 0.080, 1.0));
  rows.push_back(row("libtorch-int8", 1, 0.050, 0.40));  // faster, but disagrees: flagged, not recommended
  rows.push_back(row("opencv", 1, 0.0, nullptr, "unsupported: load: no"));
  rows.push_back(row("unchecked", 1, 0.010, nullptr));  // fastest, but never compared: not recommended
  rows.push_back(row("libtorch", 4, 0.090, 1.0));
  rows.push_back(row("ort", 4, 0.095, 0.995));
  const auto report = build_report_data({f}, ReportOptions{});
  // Random weights: the reader is told why low-precision rows agree less.
  EXPECT_NE(report["files"][0]["weights_note"].get<std::string>().find("near-tied logits"), std::string::npos);
  ASSERT_EQ(report["workloads"].size(), 1u);
  const auto& w = report["workloads"][0];
  ASSERT_EQ(w["recommendations"].size(), 2u);
  EXPECT_EQ(w["recommendations"][0]["backend"], "ort");
  EXPECT_DOUBLE_EQ(w["recommendations"][0]["speedup"].get<double>(), 0.100 / 0.080);
  EXPECT_EQ(w["recommendations"][1]["backend"], "libtorch");
  EXPECT_TRUE(w["rows"][2]["flagged"].get<bool>());
  EXPECT_FALSE(w["rows"][1]["flagged"].get<bool>());
  ASSERT_EQ(w["failures"].size(), 1u);
  EXPECT_EQ(w["failures"][0]["name"], "opencv");
  EXPECT_TRUE(w["rows"][4]["flagged"].get<bool>());

  // A lower threshold lets int8 win; the baseline is configurable.
  const auto loose = build_report_data({f}, ReportOptions{0.3, "ort"});
  EXPECT_EQ(loose["workloads"][0]["recommendations"][0]["backend"], "libtorch-int8");
  EXPECT_DOUBLE_EQ(loose["workloads"][0]["recommendations"][0]["speedup"].get<double>(), 0.080 / 0.050);
}

TEST(ReportData, SeveralFilesAreComparedSideBySide) {
  ResultsFile a{"a.json", "machine-a", {{"workload", {{"name", "bert"}}}, {"rows", {row("ort", 1, 0.02, 1.0)}}}};
  ResultsFile b{"b.json", "machine-b", {{"workload", {{"name", "bert"}}}, {"rows", {row("ort", 1, 0.03, 1.0)}}}};
  a.doc["rows"][0]["padding"] = "bucket";
  const auto report = build_report_data({a, b}, ReportOptions{});
  ASSERT_EQ(report["workloads"].size(), 1u);
  const auto& rows = report["workloads"][0]["rows"];
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["series"], "machine-a · ort (bucket)");
  EXPECT_EQ(rows[1]["series"], "machine-b · ort");
  EXPECT_EQ(report["workloads"][0]["recommendations"].size(), 2u);  // one per run
}

// What ORT's settings record of its optimized graph (backends/ort/ort_optimized_graph.h) is one line
// per ORT backend, most frequent type first, in the data and in the Markdown; native's single count is not.
TEST(ReportData, OrtFusedNodesAreOneLinePerOrtBackend) {
  ResultsFile f{"run.json", "run", {{"workload", {{"name", "bert"}}}, {"rows", nlohmann::json::array()}}};
  auto& rows = f.doc["rows"];
  const nlohmann::json fused = {{"Attention", 0}, {"BiasGelu", 12}, {"FusedMatMul", 36}, {"SkipLayerNormalization", 0}};
  for (int batch : {1, 4}) {
    rows.push_back(row("ort", batch, 0.02, 1.0));
    rows.back()["settings"] = {{"graph_optimization_level", "ORT_ENABLE_ALL"}, {"fused_nodes", fused}, {"optimized_nodes", 412}};
  }
  rows.push_back(row("ort-basic", 1, 0.03, 1.0));
  rows.back()["settings"] = {{"fused_nodes", "unknown: cannot run /proc/self/exe"}, {"optimized_nodes", nullptr}};
  rows.push_back(row("native", 1, 0.01, 1.0));
  rows.back()["settings"] = {{"fused_nodes", 48}};
  const auto report = build_report_data({f}, ReportOptions{});
  const auto& w = report["workloads"][0];
  EXPECT_EQ(w["ort_fused"], (nlohmann::json{
      "ORT fused (ort): FusedMatMul 36, BiasGelu 12, Attention 0, SkipLayerNormalization 0; 412 nodes after optimization",
      "ORT fused (ort-basic): unknown: cannot run /proc/self/exe"}));
  for (const auto& r : w["rows"]) EXPECT_FALSE(r.contains("settings")) << "rows carry only what is shown";

  const std::string md = render_markdown_report(report);
  EXPECT_NE(md.find("\n- ORT fused (ort): FusedMatMul 36, BiasGelu 12, Attention 0, SkipLayerNormalization 0; 412 nodes "
                    "after optimization\n"), std::string::npos) << md;
  EXPECT_NE(md.find("\n- ORT fused (ort-basic): unknown: cannot run /proc/self/exe\n"), std::string::npos) << md;
}

// A `bench --model` run: no libtorch, no data set in the header (each row names it), no labels, so
// no top-1; outputs compared by their max relative difference.
ResultsFile model_run() {
  ResultsFile f{"run.json", "classifier-20261129", {{"workload", {{"name", "classifier"}, {"model", "classifier.onnx"},
                                                                  {"weights", "as stored in classifier.onnx"}}},
                                                    {"protocol", {{"backends", {"ort", "native", "native-bf16"}}, {"reference", "ort"}}},
                                                    {"rows", nlohmann::json::array()}}};
  for (const auto& [name, seconds, rel] : {std::tuple{"ort", 0.004, nlohmann::json()}, std::tuple{"native", 0.002, nlohmann::json(3e-7)},
                                           std::tuple{"native-bf16", 0.001, nlohmann::json(2e-2)}}) {
    nlohmann::json r = row(name, 1, seconds, nullptr);
    r["reference"] = "ort";
    r["max_rel_diff"] = rel;
    r["dataset"] = "generated inputs (seed 0)";
    f.doc["rows"].push_back(r);
  }
  return f;
}

TEST(ReportData, ModelRunNamesItsDataSetAndRecommendsOnRelativeDifference) {
  const auto report = build_report_data({model_run()}, ReportOptions{});
  EXPECT_EQ(report["files"][0]["dataset"], "generated inputs (seed 0)");
  // No libtorch in the run: the speed-ups are against its reference.
  EXPECT_EQ(report["baseline"], "ort");
  const auto& w = report["workloads"][0];
  ASSERT_EQ(w["rows"].size(), 3u);
  EXPECT_DOUBLE_EQ(w["rows"][1]["speedup"].get<double>(), 2.0);
  EXPECT_FALSE(w["rows"][0]["flagged"].get<bool>());  // the reference
  EXPECT_FALSE(w["rows"][1]["flagged"].get<bool>());  // within 1e-4 of it
  EXPECT_TRUE(w["rows"][2]["flagged"].get<bool>());   // bfloat16: 2e-2 off
  ASSERT_EQ(w["recommendations"].size(), 1u);
  EXPECT_EQ(w["recommendations"][0]["backend"], "native");
  EXPECT_DOUBLE_EQ(w["recommendations"][0]["max_rel_diff"].get<double>(), 3e-7);

  // A looser bound lets bfloat16 win.
  ReportOptions loose;
  loose.max_rel_diff = 0.05;
  EXPECT_EQ(build_report_data({model_run()}, loose)["workloads"][0]["recommendations"][0]["backend"], "native-bf16");

  const std::string md = render_markdown_report(report);
  EXPECT_NE(md.find("`classifier-20261129`: classifier on generated inputs (seed 0), weights: as stored in classifier.onnx"),
            std::string::npos) << md;
  EXPECT_NE(md.find("| native | 1 | 0.0160 | 2.00 | - | - | - | - | - | - | - | 3.0e-07 | 2.00x | ok |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| 2.0e-02 ⚠ | 4.00x |"), std::string::npos) << md;  // the flag beside what judged the row
  EXPECT_EQ(md.find("| - ⚠ |"), std::string::npos) << md;
}

TEST(ReportData, DefaultBaselineIsLibtorchWhereItRanElseTheReference) {
  ResultsFile f = model_run();
  f.doc["rows"].push_back(row("libtorch", 1, 0.008, nullptr, "failed: run: crashed (signal 11)"));
  EXPECT_EQ(build_report_data({f}, ReportOptions{})["files"][0]["baseline"], "ort");  // libtorch never ran
  f.doc["rows"].push_back(row("libtorch", 2, 0.008, nullptr));
  EXPECT_EQ(build_report_data({f}, ReportOptions{})["files"][0]["baseline"], "libtorch");
  f.doc["rows"].erase(f.doc["rows"].size() - 1);
  f.doc.erase("protocol");  // an older file: the rows name the reference
  EXPECT_EQ(build_report_data({f}, ReportOptions{})["files"][0]["baseline"], "ort");
  ReportOptions explicit_baseline;
  explicit_baseline.baseline = "native";
  const auto report = build_report_data({f}, explicit_baseline);
  EXPECT_EQ(report["baseline"], "native");
  EXPECT_DOUBLE_EQ(report["workloads"][0]["rows"][0]["speedup"].get<double>(), 0.5);
}

TEST(ReportData, UnknownBaselineIsRefusedNamingTheBackends) {
  ReportOptions options;
  options.baseline = "nonexist";
  try {
    build_report_data({model_run()}, options);
    FAIL() << "accepted a baseline no run has";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "--baseline nonexist: no such backend in the results (they have ort, native, native-bf16)");
  }
}

// Three passes of the sweep: each speed-up against the baseline's row of the same pass, then the
// median and range. Pass 2 was slow for both, so a ratio against another pass's baseline would be off.
TEST(ReportData, RepeatsGiveEachSpeedupItsSpread) {
  ResultsFile f{"run.json", "run", {{"workload", {{"name", "resnet101"}}}, {"protocol", {{"repeats", 3}}}, {"rows", nlohmann::json::array()}}};
  const std::vector<std::tuple<int, double, double>> passes = {{1, 0.100, 0.080}, {2, 0.200, 0.125}, {3, 0.100, 0.0625}};
  for (const auto& [repeat, libtorch, ort] : passes) {
    for (const auto& [name, seconds] : {std::pair{"libtorch", libtorch}, std::pair{"ort", ort}}) {
      nlohmann::json r = row(name, 1, seconds, std::string(name) == "libtorch" ? nlohmann::json() : nlohmann::json(1.0));
      r["repeat"] = repeat;
      f.doc["rows"].push_back(r);
    }
  }
  const auto report = build_report_data({f}, ReportOptions{});
  EXPECT_EQ(report["files"][0]["repeats"], 3);
  const auto& w = report["workloads"][0];
  EXPECT_EQ(w["repeats"], 3);
  ASSERT_EQ(w["rows"].size(), 6u);
  EXPECT_DOUBLE_EQ(w["rows"][3]["speedup"].get<double>(), 1.6);  // pass 2: 0.200 / 0.125
  ASSERT_EQ(w["configurations"].size(), 2u);
  const auto& ort = w["configurations"][1];
  EXPECT_EQ(ort["repeats_ok"], 3);
  EXPECT_DOUBLE_EQ(ort["speedup"].get<double>(), 1.6);  // of 1.25, 1.6, 1.6
  EXPECT_DOUBLE_EQ(ort["speedup_min"].get<double>(), 1.25);
  EXPECT_DOUBLE_EQ(ort["speedup_max"].get<double>(), 1.6);
  EXPECT_DOUBLE_EQ(ort["time_per_input"].get<double>(), 0.080);
  ASSERT_EQ(w["recommendations"].size(), 1u);
  EXPECT_EQ(w["recommendations"][0]["backend"], "ort");
  EXPECT_DOUBLE_EQ(w["recommendations"][0]["speedup_min"].get<double>(), 1.25);

  const std::string md = render_markdown_report(report);
  EXPECT_NE(md.find("| run | 1 | ort | 80.0 | 1.60x (1.25–1.60) | 100.0% | - |"), std::string::npos) << md;
  EXPECT_NE(md.find("### Across 3 repeats"), std::string::npos) << md;
  EXPECT_NE(md.find("| ort | 1 | 3 of 3 | 80.0 (62.5–125) | - | 1.60x (1.25–1.60) | ok |"), std::string::npos) << md;
  EXPECT_NE(md.find("| ort | 1 | 2 | 1.00 |"), std::string::npos) << "each row with its repeat\n" << md;

  // A repeat that crashed: the configuration keeps the others, says how many ran, and the failure is listed.
  f.doc["rows"][5]["status"] = "failed: run: crashed (signal 11)";
  const auto crashed = build_report_data({f}, ReportOptions{});
  EXPECT_EQ(crashed["workloads"][0]["configurations"][1]["status"], "2 of 3 repeats ran");
  EXPECT_DOUBLE_EQ(crashed["workloads"][0]["configurations"][1]["speedup_min"].get<double>(), 1.25);
  EXPECT_NE(render_markdown_report(crashed).find("- ort batch 1 repeat 3: failed: run: crashed (signal 11)"), std::string::npos);
}

TEST(ReportData, ColdStartAndSmallLatencies) {
  ResultsFile f = model_run();
  for (auto& r : f.doc["rows"]) {
    r["load_ms"] = r["name"] == "ort" ? 812.4 : 35.26;
    r["first_run_ms"] = 4.5;
    r["latency_p50_ms"] = 0.0123;
  }
  f.doc["rows"][2]["load_ms"] = nullptr;  // failed to load
  f.doc["rows"][2]["first_run_ms"] = nullptr;
  const auto report = build_report_data({f}, ReportOptions{});
  const auto& cold = report["workloads"][0]["cold_start"];
  ASSERT_EQ(cold.size(), 2u);
  EXPECT_EQ(cold[0]["backend"], "ort");
  EXPECT_DOUBLE_EQ(cold[0]["load_ms"].get<double>(), 812.4);
  const std::string md = render_markdown_report(report);
  EXPECT_NE(md.find("### Cold start"), std::string::npos) << md;
  EXPECT_NE(md.find("| ort | 812 | 4.50 |\n| native | 35.3 | 4.50 |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.0123 |"), std::string::npos) << "latencies under 50 us keep 3 digits\n" << md;
}

TEST(ReportData, UnexpectedContentNamesTheFile) {
  ResultsFile f{"odd.json", "odd", {{"workload", {{"name", "bert"}, {"weights", nullptr}}}, {"rows", nlohmann::json::array()}}};
  try {
    build_report_data({f}, ReportOptions{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("odd.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace cpuinfer

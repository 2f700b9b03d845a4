// Report data: results files are validated with file and line, speed-ups and recommendations are
// computed from the rows as documented, and ORT's fused nodes are summed up in one line.
#include <gtest/gtest.h>

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

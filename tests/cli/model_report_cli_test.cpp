// `cpuinfer bench --model` and `cpuinfer report` together, on a small classifier:
// the report names the data set, compares with the run's reference (there is no libtorch), keeps
// rows without top-1 recommendable, and sums up repeats; the bench table has one line per
// configuration with its speed-up over the reference and the speed-up's range.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>

#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

TEST(ModelReportCli, RepeatedModelRunIsReportedAgainstItsReference) {
  testing::TempDir tmp;
  // The trained digits CNN setup.sh makes, on generated inputs: logits, but no labels, so no top-1.
  const fs::path model = tmp.path() / "classifier.onnx";
  fs::copy_file(testing::cache_dir() / "models" / "guard" / "digits" / "model.onnx", model);
  const auto bench = testing::run_cpuinfer({"bench", "--model", model.string(), "--batch-sizes", "1,2", "--samples", "4",
                                            "--repeat", "2", "--warmup", "0", "--min-time", "0", "--threads", "1",
                                            "--out", (tmp.path() / "out").string(), "--quiet"});
  ASSERT_EQ(bench.exit_code, 0) << bench.output;
  // The table: one line per (backend, batch size), both repeats ran, the speed-up and its range.
  std::istringstream table(bench.output);
  std::size_t configuration_lines = 0;
  for (std::string line; std::getline(table, line);) {
    if (line.rfind("backend ", 0) == 0) {
      EXPECT_NE(line.find("repeats"), std::string::npos) << line;
      EXPECT_NE(line.find("vs ref"), std::string::npos) << line;
    }
    if (line.rfind("ort ", 0) != 0 && line.rfind("native ", 0) != 0) continue;
    ++configuration_lines;
    EXPECT_NE(line.find(" 2/2 "), std::string::npos) << line;
    EXPECT_NE(line.find("x "), std::string::npos) << "a speed-up: " << line;
  }
  EXPECT_EQ(configuration_lines, 4u) << bench.output;
  EXPECT_NE(bench.output.find("vs ref: speed-up over the reference backend (ort)"), std::string::npos) << bench.output;

  const fs::path json = testing::only_file_with_extension(tmp.path() / "out", ".json");
  const fs::path md = tmp.path() / "report.md";
  const auto report = testing::run_cpuinfer({"report", json.string(), "--format", "md", "-o", md.string()});
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const std::string text = testing::read_text(md);
  EXPECT_NE(text.find(": classifier on generated inputs (seed 0), weights: as stored in classifier.onnx"), std::string::npos)
      << text;
  EXPECT_EQ(text.find(" on ?"), std::string::npos) << text;
  EXPECT_NE(text.find("speed-ups against `ort`; 2 repeats"), std::string::npos) << text;
  EXPECT_EQ(text.find("⚠"), std::string::npos) << "native agrees with ort to float rounding\n" << text;
  // Each batch size has a recommendation.
  const auto rec = text.find("### Recommendation");
  const auto results = text.find("### Results");
  ASSERT_NE(rec, std::string::npos);
  const std::string recommendations = text.substr(rec, results - rec);
  EXPECT_NE(recommendations.find("| 1 | "), std::string::npos) << recommendations;
  EXPECT_NE(recommendations.find("| 2 | "), std::string::npos) << recommendations;
  // The recommended backend's speed-up and its range, or "the baseline" where the baseline is the fastest.
  EXPECT_TRUE(recommendations.find("x (") != std::string::npos || recommendations.find("the baseline") != std::string::npos)
      << recommendations;
  EXPECT_EQ(recommendations.find("1.00x (1.00"), std::string::npos) << "the baseline against itself\n" << recommendations;
  EXPECT_NE(text.find("### Across 2 repeats"), std::string::npos) << text;
  EXPECT_NE(text.find("| native | 1 | 2 of 2 | "), std::string::npos) << text;
  EXPECT_NE(text.find("### Cold start"), std::string::npos) << text;
  EXPECT_NE(text.find("| native | "), std::string::npos) << text;
}

}  // namespace
}  // namespace cpuinfer

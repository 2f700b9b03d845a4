// The table `cpuinfer bench` prints at the end: small latencies keep their digits, every line has
// its speed-up over the reference backend, and repeats of a configuration are one line with the
// median and the speed-up's range.
#include <gtest/gtest.h>

#include <sstream>

#include "bench/result_table.h"

namespace cpuinfer {
namespace {

nlohmann::ordered_json row(const std::string& name, int batch, double s_per_sample, double p50_ms, int repeat = 0) {
  nlohmann::ordered_json r = {{"name", name},           {"batch_size", batch},     {"time_per_input", s_per_sample},
                              {"samples_per_s", 1 / s_per_sample}, {"latency_p50_ms", p50_ms},
                              {"latency_p90_ms", nullptr}, {"reference", "libtorch"}, {"status", "ok"}};
  if (repeat) r["repeat"] = repeat;
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(ResultTable, LatenciesUnder50MicrosecondsKeepThreeDigits) {
  const std::string table = format_result_table({row("libtorch", 1, 0.0000123, 0.0123), row("ort", 1, 0.00000456, 0.00456)});
  EXPECT_NE(table.find(" 0.0123 "), std::string::npos) << table;  // p50 and ms/sample
  EXPECT_NE(table.find(" 0.00456 "), std::string::npos) << table;
  EXPECT_EQ(table.find(" 0.0 "), std::string::npos) << table;
  EXPECT_EQ(table.find(" 0.00 "), std::string::npos) << table;
}

TEST(ResultTable, EachLineHasItsSpeedupOverTheReference) {
  const auto lines = lines_of(format_result_table({row("libtorch", 1, 0.010, 10), row("ort", 1, 0.008, 8),
                                                   row("libtorch", 4, 0.005, 20), row("ort", 4, 0.010, 40)}));
  ASSERT_EQ(lines.size(), 7u) << "header, 4 rows, what the differences and vs ref mean";
  EXPECT_NE(lines[0].find("vs ref"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("repeats"), std::string::npos) << "no repeats, no repeat columns: " << lines[0];
  EXPECT_NE(lines[1].find(" 1.00x "), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find(" 1.25x "), std::string::npos) << lines[2];
  EXPECT_NE(lines[4].find(" 0.50x "), std::string::npos) << lines[4];
  EXPECT_EQ(lines[5].rfind("abs diff, rel diff: max |output - reference's|", 0), 0u) << lines[5];
  EXPECT_EQ(lines[6].rfind("vs ref: speed-up over the reference backend (libtorch)", 0), 0u) << lines[6];
}

// A row beyond its tolerance shows its differences and no speed-up, however fast it ran.
TEST(ResultTable, DisagreeingRowShowsNoSpeedup) {
  auto fast = row("native", 1, 0.001, 1);
  fast["status"] = "disagrees: max_rel_diff 1 > 0.0001";
  fast["max_abs_diff"] = 2.5;
  fast["max_rel_diff"] = 1.0;
  const auto lines = lines_of(format_result_table({row("ort", 1, 0.010, 10), fast}));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[2].find("x "), std::string::npos) << "no speed-up: " << lines[2];
  EXPECT_NE(lines[2].find(" 2.50e+00  1.00e+00 "), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("disagrees: max_rel_diff 1 > 0.0001"), std::string::npos) << lines[2];
}

// Pass 2 was slow for both backends: each pass's ratio is against the reference's row of that pass.
TEST(ResultTable, RepeatsAreOneLinePerConfigurationWithTheSpeedupRange) {
  std::vector<nlohmann::ordered_json> rows;
  const double libtorch[] = {0.100, 0.200, 0.100}, ort[] = {0.080, 0.120, 0.0625};
  for (int repeat = 1; repeat <= 3; ++repeat) {
    rows.push_back(row("libtorch", 1, libtorch[repeat - 1], libtorch[repeat - 1] * 1000, repeat));
    rows.push_back(row("ort", 1, ort[repeat - 1], ort[repeat - 1] * 1000, repeat));
  }
  rows.back()["status"] = "failed: run: timed out after 600 s";
  rows.back()["time_per_input"] = nullptr;
  const auto lines = lines_of(format_result_table(rows));
  ASSERT_EQ(lines.size(), 5u) << "header, one line per configuration, what the differences and vs ref mean";
  EXPECT_NE(lines[0].find("repeats"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("min-max"), std::string::npos) << lines[0];
  // libtorch: median 100 ms of 100, 200, 100.
  EXPECT_NE(lines[1].find("    3/3       100 "), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(" 1.00x   1.00-1.00  ok"), std::string::npos) << lines[1];
  // ort: passes 1 and 2 ran (1.25x, 1.67x; median 100 ms of 80 and 120); the third timed out.
  EXPECT_NE(lines[2].find("    2/3       100 "), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find(" 1.46x   1.25-1.67  2/3 ok; failed: run: timed out after 600 s"), std::string::npos) << lines[2];
  EXPECT_NE(lines[4].find("medians over the repeats"), std::string::npos) << lines[4];
}

}  // namespace
}  // namespace cpuinfer

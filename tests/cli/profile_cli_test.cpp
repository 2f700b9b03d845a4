// `cpuinfer profile`: its summary line compares like with like (each run's wall time and the time in
// its nodes, both as medians and as means), and an unwritable --json fails before any profiling.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>

#include "engine/onnx_builder.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

using test::OnnxBuilder;

fs::path write_model(const fs::path& file, const std::string& op) {
  OnnxBuilder b;
  b.input("x", onnx::TensorProto::FLOAT, {"N", "64"});
  std::vector<float> w(64 * 64);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 13) * 0.01f - 0.06f;
  b.initializer("w", {64, 64}, w);
  b.node("MatMul", {"x", "w"}, {"h"});
  b.node(op, {"h"}, {"y"}, "last");
  b.output("y");
  std::ofstream(file, std::ios::binary) << b.bytes();
  return file;
}

// Without warm-up the first run records the memory plan and is slow: a mean of the node times beside a
// median of the wall times could then claim more time in nodes than in the run.
TEST(ProfileCli, WallAndNodeTimesAreTheSameStatistics) {
  testing::TempDir tmp;
  const fs::path json = tmp.path() / "profile.json";
  const auto r = testing::run_cpuinfer({"profile", "--model", write_model(tmp.path() / "m.onnx", "Relu").string(),
                                        "--batch-size", "4", "--iterations", "5", "--warmup", "0", "--json", json.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(wall time per run median ([0-9.]+) ms \(mean ([0-9.]+)\); )"
                                                         R"(time in nodes per run median ([0-9.]+) ms \(mean ([0-9.]+)\))")))
      << r.output;
  const auto j = nlohmann::json::parse(testing::read_text(json));
  ASSERT_EQ(j["run_ms"].size(), 5u);
  ASSERT_EQ(j["run_node_ms"].size(), 5u);
  for (std::size_t i = 0; i < 5; ++i)
    EXPECT_LE(j["run_node_ms"][i].get<double>(), j["run_ms"][i].get<double>()) << "run " << i << ": nodes run inside it";
  EXPECT_LE(j["median_node_ms"].get<double>(), j["median_run_ms"].get<double>());
  EXPECT_LE(j["node_ms_per_run"].get<double>(), j["mean_run_ms"].get<double>());
  EXPECT_NEAR(std::stod(m[1]), j["median_run_ms"].get<double>(), 0.006);
  EXPECT_NEAR(std::stod(m[3]), j["median_node_ms"].get<double>(), 0.006);
  EXPECT_NEAR(std::stod(m[4]), j["node_ms_per_run"].get<double>(), 0.006);
}

// The model is one the engine refuses: the --json error comes first, so nothing was profiled.
TEST(ProfileCli, UnwritableJsonFailsBeforeProfiling) {
  testing::TempDir tmp;
  const fs::path model = write_model(tmp.path() / "odd.onnx", "NoSuchOperator");
  const fs::path json = tmp.path() / "missing-folder" / "profile.json";
  testing::expect_one_error(testing::run_cpuinfer({"profile", "--model", model.string(), "--json", json.string()}),
                            "--json " + json.string() + ": cannot write: No such file or directory");
  // A writable path is left as it was found: nothing is created before the profile is written.
  const fs::path fresh = tmp.path() / "fresh.json";
  testing::expect_one_error(testing::run_cpuinfer({"profile", "--model", model.string(), "--json", fresh.string()}),
                            "NoSuchOperator");
  EXPECT_FALSE(fs::exists(fresh));
}

}  // namespace
}  // namespace cpuinfer

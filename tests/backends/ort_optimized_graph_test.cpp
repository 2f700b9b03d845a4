// What ONNX Runtime's optimizer made of a model, counted: a MatMul scaled by a constant becomes one
// FusedMatMul (com.microsoft) at level ALL and stays two plain nodes at BASIC, with nothing left in
// the temporary folder. Through the child process the count is cached in the model's folder of derived files and reused;
// a changed model is counted again, and a child that fails gives "unknown: <why>" and no cache.
// (Not through OrtBackend::inspect: in a test binary it would run the test binary as the child.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include "backends/ort/ort_optimized_graph.h"
#include "engine/onnx_builder.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

// y = (x @ w) * 0.5: ORT's MatMulScaleFusion (level EXTENDED, part of ALL) folds the scale into one
// FusedMatMul; no other fusion applies, on any CPU.
fs::path write_scaled_matmul(const fs::path& folder, std::int64_t columns = 3) {
  test::OnnxBuilder b;
  b.input("x", onnx::TensorProto::FLOAT, {"2", "4"});
  b.initializer("w", {4, columns}, std::vector<float>(static_cast<std::size_t>(4 * columns), 0.1f));
  b.initializer("half", {}, {0.5f});
  b.node("MatMul", {"x", "w"}, {"m"});
  b.node("Mul", {"m", "half"}, {"y"});
  b.output("y");
  const std::string bytes = b.bytes();
  const fs::path file = folder / "scaled_matmul.onnx";
  testing::write_bytes(file, {bytes.begin(), bytes.end()});
  return file;
}

// TMPDIR points at `folder` while it lives, so that what a count leaves there can be seen.
class ScopedTmpdir {
 public:
  explicit ScopedTmpdir(const fs::path& folder) {
    if (const char* old = std::getenv("TMPDIR")) old_ = old;
    fs::create_directories(folder);
    setenv("TMPDIR", folder.c_str(), 1);
  }
  ~ScopedTmpdir() {
    if (old_) setenv("TMPDIR", old_->c_str(), 1);
    else unsetenv("TMPDIR");
  }
  ScopedTmpdir(const ScopedTmpdir&) = delete;
  ScopedTmpdir& operator=(const ScopedTmpdir&) = delete;

 private:
  std::optional<std::string> old_;
};

TEST(OrtOptimizedGraph, ScaledMatMulIsOneFusedMatMulAtLevelAll) {
  testing::TempDir tmp;
  const fs::path model = write_scaled_matmul(tmp.path());
  const fs::path scratch = tmp.path() / "scratch";
  nlohmann::json all, basic;
  {
    const ScopedTmpdir tmpdir(scratch);
    all = count_ort_optimized_graph(model, OrtLevel::all, 1);
    basic = count_ort_optimized_graph(model, OrtLevel::basic, 1);
  }
  EXPECT_EQ(all["fused_nodes"], (nlohmann::json{{"FusedMatMul", 1}, {"Attention", 0}, {"SkipLayerNormalization", 0}}))
      << all.dump();
  EXPECT_EQ(all["optimized_nodes"], 1) << all.dump();
  EXPECT_EQ(basic["fused_nodes"], (nlohmann::json{{"Attention", 0}, {"SkipLayerNormalization", 0}})) << basic.dump();
  EXPECT_EQ(basic["optimized_nodes"], 2) << basic.dump();
  // (ORT itself leaves files of its own there, mat-debug-<pid>.log and .ses, from any session.)
  for (const auto& entry : fs::directory_iterator(scratch))
    EXPECT_NE(entry.path().filename().string().rfind("cpuinfer-ort-graph-", 0), 0u)
        << entry.path() << ": the optimized model or its weights were left behind";
}

TEST(OrtOptimizedGraph, CountedInAChildOnceThenReadFromTheCache) {
  testing::TempDir tmp;
  const fs::path model = write_scaled_matmul(tmp.path());
  const nlohmann::json counted = ort_optimized_graph(model, OrtLevel::all, 1, testing::cpuinfer_binary());
  ASSERT_TRUE(counted["fused_nodes"].is_object()) << counted.dump();
  EXPECT_EQ(counted["fused_nodes"]["FusedMatMul"], 1) << counted.dump();
  EXPECT_EQ(counted["optimized_nodes"], 1) << counted.dump();
  ASSERT_TRUE(fs::exists(ort_graph_cache_file(model, OrtLevel::all)));

  // A program that cannot count: the cache answers, so no child ran.
  EXPECT_EQ(ort_optimized_graph(model, OrtLevel::all, 1, "/bin/false"), counted);
  // Another level is not in the cache.
  EXPECT_EQ(ort_optimized_graph(model, OrtLevel::basic, 1, "/bin/false")["fused_nodes"],
            "unknown: `ort-graph` exited with code 1");

  // A changed model (another size) is counted again.
  write_scaled_matmul(tmp.path(), 5);
  EXPECT_TRUE(ort_optimized_graph(model, OrtLevel::all, 1, "/bin/false")["fused_nodes"].is_string());
  EXPECT_EQ(ort_optimized_graph(model, OrtLevel::all, 1, testing::cpuinfer_binary()), counted);
}

TEST(OrtOptimizedGraph, AFailedCountSaysWhyInOneLineAndIsNotCached) {
  testing::TempDir tmp;
  const fs::path model = tmp.path() / "broken.onnx";
  testing::write_bytes(model, {'n', 'o', 't', ' ', 'O', 'N', 'N', 'X'});
  const nlohmann::json broken = ort_optimized_graph(model, OrtLevel::all, 1, testing::cpuinfer_binary());
  ASSERT_TRUE(broken["fused_nodes"].is_string()) << broken.dump();
  const std::string why = broken["fused_nodes"].get<std::string>();
  EXPECT_EQ(why.rfind("unknown: ", 0), 0u) << why;
  EXPECT_NE(why.find("broken.onnx"), std::string::npos) << why;  // ORT's own error names the file
  EXPECT_EQ(why.find('\n'), std::string::npos) << why;
  EXPECT_TRUE(broken["optimized_nodes"].is_null());
  EXPECT_FALSE(fs::exists(ort_graph_cache_file(model, OrtLevel::all)));

  const nlohmann::json missing =
      ort_optimized_graph(write_scaled_matmul(tmp.path()), OrtLevel::all, 1, tmp.path() / "no-such-cpuinfer");
  EXPECT_EQ(missing["fused_nodes"].get<std::string>().rfind("unknown: cannot run ", 0), 0u) << missing.dump();
}

}  // namespace
}  // namespace cpuinfer

// The model zoo's manifest and summary rows: what counts as agreement, and that a model that does
// not run says why.
#include "bench/zoo.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

nlohmann::ordered_json sweep_row(const std::string& backend, int batch, const std::string& status = "ok",
                                 double top1 = 1.0, double rel = 1e-6, double p50 = 2.0) {
  nlohmann::ordered_json r;
  r["name"] = backend;
  r["batch_size"] = batch;
  r["status"] = status;
  r["latency_p50_ms"] = p50;
  r["threads"] = 2;
  if (backend != "ort" && status == "ok") {
    r["top1_agreement"] = top1;
    r["max_rel_diff"] = rel;
  }
  return r;
}

const ZooModel kClassifier{"net", "net.onnx", "classifier", nullptr, ""};

TEST(Zoo, AgreementAtEveryBatchSizeIsOk) {
  const auto row = zoo_row(kClassifier, {sweep_row("ort", 1, "ok", 1, 0, 4.0), sweep_row("ort", 4), sweep_row("native", 1, "ok", 1, 2e-5, 3.0),
                                         sweep_row("native", 4, "ok", 1, 5e-5)},
                           "ort", 1e-4);
  EXPECT_EQ(row["status"], "ok");
  EXPECT_DOUBLE_EQ(row["time_ratio_b1"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(row["max_rel_diff"].get<double>(), 5e-5);  // the largest over batch sizes
  EXPECT_EQ(row["batch_sizes"], "1,4");
}

TEST(Zoo, ATop1FlipOrALargeDifferenceIsADisagreement) {
  auto flip = zoo_row(kClassifier, {sweep_row("ort", 1), sweep_row("native", 1), sweep_row("native", 4, "ok", 0.75)}, "ort", 1e-4);
  EXPECT_EQ(flip["status"], "disagrees: top-1 agreement 0.75 at batch 4");
  auto far = zoo_row(kClassifier, {sweep_row("ort", 1), sweep_row("native", 1, "ok", 1, 3e-4)}, "ort", 1e-4);
  EXPECT_EQ(far["status"].get<std::string>().rfind("disagrees: max relative difference 0.0003 at batch 1", 0), 0u)
      << far["status"];
}

TEST(Zoo, AModelNativeCannotRunKeepsItsReason) {
  const std::string why = "unsupported: load: node 'g' (Foo): operator Foo is not supported";
  auto row = zoo_row(kClassifier, {sweep_row("ort", 1), sweep_row("native", 1, why)}, "ort", 1e-4);
  EXPECT_EQ(row["status"], why);
  EXPECT_TRUE(row["time_ratio_b1"].is_null());
  ZooModel broken = kClassifier;
  broken.export_error = "Exporting the operator 'aten::x' to ONNX opset version 17 is not supported.";
  EXPECT_EQ(zoo_row(broken, {}, "ort", 1e-4)["status"], "failed: export: " + broken.export_error);
}

TEST(Zoo, ReadsTheManifestOrElseEveryOnnxFile) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "b.onnx") << "x";
  std::ofstream(dir.path() / "a.onnx") << "x";
  auto models = read_zoo(dir.path());
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].name, "a");
  std::ofstream(dir.path() / "zoo.json")
      << R"({"models": [{"file": "t.onnx", "kind": "text", "status": "ok",
                         "inputs": [{"name": "input", "dtype": "int64", "shape": ["batch", "sequence"]}]}]})";
  models = read_zoo(dir.path());
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].kind, "text");
  EXPECT_EQ(zoo_shapes(models[0], 16), (std::map<std::string, Shape>{{"sequence", {16}}}));
  std::ofstream(dir.path() / "zoo.json") << R"({"models": 3})";
  EXPECT_THROW(read_zoo(dir.path()), Error);
  EXPECT_THROW(read_zoo(dir.path() / "missing"), Error);
}

}  // namespace
}  // namespace cpuinfer

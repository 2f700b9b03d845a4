// `cpuinfer bench --model` and `cpuinfer profile` on small models built in memory: generated and
// given inputs (files and folders), data sets of samples with labels, symbolic dimensions, fixed
// batches, per-sample comparison, and clear errors for bad flags and bad model files. The
// ModelWorkload tests build the workload in-process to look at the samples it makes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "bench/onnx_model_workload.h"
#include "core/error.h"
#include "data/npy_file.h"
#include "engine/onnx_builder.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

using test::OnnxBuilder;
using testing::expect_one_error;
using testing::only_file_with_extension;

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;

class ModelCli : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const OnnxBuilder& b) {
    const fs::path file = tmp_.path() / name;
    std::ofstream(file, std::ios::binary) << b.bytes();
    return file;
  }
  // Conv + Relu + GlobalAveragePool + Flatten + Gemm over a symbolic batch: an image classifier.
  fs::path classifier() {
    OnnxBuilder b;
    b.input("image", kFloat, {"N", "3", "8", "8"});
    std::vector<float> w(4 * 3 * 3 * 3), fc(5 * 4);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) * 0.1f - 0.3f;
    for (std::size_t i = 0; i < fc.size(); ++i) fc[i] = static_cast<float>(i % 5) * 0.2f - 0.4f;
    b.initializer("w", {4, 3, 3, 3}, w);
    b.initializer("fc", {5, 4}, fc);
    OnnxBuilder::attribute(b.node("Conv", {"image", "w"}, {"c"}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
    b.node("Relu", {"c"}, {"r"});
    b.node("GlobalAveragePool", {"r"}, {"g"});
    b.node("Flatten", {"g"}, {"f"});
    OnnxBuilder::attribute(b.node("Gemm", {"f", "fc"}, {"logits"}), "transB", std::int64_t{1});
    b.output("logits");
    return write("classifier.onnx", b);
  }
  // Token ids and a mask over symbolic batch and sequence: a text model's inputs.
  fs::path text_model() {
    OnnxBuilder b;
    b.input("ids", kInt64, {"batch", "sequence"});
    b.input("mask", kInt64, {"batch", "sequence"});
    b.initializer("table", {2, 3}, {0.5f, -1, 2, 1, 0, -0.5f});
    b.node("Gather", {"table", "ids"}, {"e"});
    OnnxBuilder::attribute(b.node("ReduceMean", {"e"}, {"y"}), "axes", std::vector<std::int64_t>{1});
    b.output("y");
    return write("text.onnx", b);
  }
  // Relu over an input of the given dimensions ("N" symbolic): y has the input's shape.
  fs::path relu(const std::string& name, const std::vector<std::string>& dims) {
    OnnxBuilder b;
    b.input("x", kFloat, dims);
    b.node("Relu", {"x"}, {"y"});
    b.output("y");
    return write(name, b);
  }
  // The flags of a short run: no warm-up, no minimum time, one thread.
  std::vector<std::string> quick(const fs::path& model, std::vector<std::string> extra) const {
    std::vector<std::string> args = {"bench", "--model", model.string(), "--warmup", "0", "--min-time", "0",
                                     "--threads", "1", "--out", out().string(), "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  // x [N, 4] times scale [4]: an input without a batch dimension beside a batched one.
  fs::path scaled() {
    OnnxBuilder b;
    b.input("x", kFloat, {"N", "4"});
    b.input("scale", kFloat, {"4"});
    b.node("Mul", {"x", "scale"}, {"y"});
    b.output("y");
    return write("scaled.onnx", b);
  }
  fs::path out() const { return tmp_.path() / "out"; }
  nlohmann::json result_json() { return nlohmann::json::parse(testing::read_text(only_file_with_extension(out(), ".json"))); }
  testing::TempDir tmp_;
};

// Issue 22's repro as exporters write it: a depthwise convolution, then a scale and shift by
// one-element constants (rank 0 and 1, the constant first), which native read as one value per
// channel. It agrees with ORT now; and a row beyond --tolerance is `disagrees`, shows no speed-up,
// and bench exits 1.
TEST_F(ModelCli, ScaleShiftAfterAConvAgreesAndADisagreeingRowFailsTheRun) {
  OnnxBuilder b(9);
  b.input("x", kFloat, {"N", "16", "24", "80"});
  std::vector<float> w(16 * 9), bias(16);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 11) * 0.05f - 0.25f;
  for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = static_cast<float>(i % 5) * 0.1f - 0.2f;
  b.initializer("w", {16, 1, 3, 3}, w);
  b.initializer("b", {16}, bias);
  b.initializer("s", {}, {1.38f});
  b.initializer("t", {1}, {0.586f});
  auto& conv = b.node("Conv", {"x", "w", "b"}, {"c"});
  OnnxBuilder::attribute(conv, "group", std::int64_t{16});
  OnnxBuilder::attribute(conv, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("Mul", {"s", "c"}, {"m"});
  b.node("Add", {"t", "m"}, {"y"});
  b.output("y");
  const fs::path model = write("scale_shift.onnx", b);
  auto r = testing::run_cpuinfer(quick(model, {"--backends", "ort,native", "--reference", "ort", "--batch-sizes", "1,2",
                                               "--samples", "2"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto result = result_json();
  for (const auto& row : result["rows"]) {
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row["status"], "ok");
    EXPECT_EQ(row["precision"], "float32");
    EXPECT_EQ(row["tolerance"], 1e-4);
    if (row["name"] == "native") {
      EXPECT_LE(row["max_rel_diff"].get<double>(), 1e-4);
    }
  }
  fs::remove_all(out());
  r = testing::run_cpuinfer(quick(model, {"--backends", "ort,native", "--reference", "ort", "--batch-sizes", "2",
                                          "--samples", "2", "--tolerance", "0"}));
  const auto rows = result_json()["rows"];
  const auto native = std::find_if(rows.begin(), rows.end(), [](const auto& row) { return row["name"] == "native"; });
  ASSERT_NE(native, rows.end());
  if ((*native)["max_rel_diff"].get<double>() == 0.0) GTEST_SKIP() << "native and ORT are bit-identical here: nothing disagrees";
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ((*native)["status"].get<std::string>().rfind("disagrees: max_rel_diff ", 0), 0u) << (*native)["status"];
  EXPECT_NE(r.output.find("rows disagree with the reference"), std::string::npos) << r.output;
}

TEST_F(ModelCli, BenchComparesOrtAndNativePerSample) {
  const auto r = testing::run_cpuinfer({"bench", "--model", classifier().string(), "--batch-sizes", "1,4", "--samples", "8", "--min-time", "0",
                                        "--threads", "2", "--out", out().string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = result_json();
  EXPECT_EQ(json["protocol"]["backends"], nlohmann::json({"ort", "native"}));
  EXPECT_EQ(json["workload"]["inputs"][0]["shape"], "batch x 3x8x8");
  ASSERT_EQ(json["rows"].size(), 4u);
  for (const auto& row : json["rows"]) {
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row["status"], "ok");
    EXPECT_TRUE(row["accuracy"].is_null());  // no labels
    if (row["name"] == "native") {
      EXPECT_EQ(row["compared_samples"], 8);
      EXPECT_LE(row["max_rel_diff"].get<double>(), 1e-5);
    }
  }
}

TEST_F(ModelCli, SymbolicDimensionsAndGivenInputs) {
  const fs::path model = text_model();
  auto r = testing::run_cpuinfer({"bench", "--model", model.string(), "--shape", "sequence=6", "--batch-sizes", "2", "--min-time", "0",
                                  "--samples", "4", "--out", out().string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = result_json();
  for (const auto& row : json["rows"]) EXPECT_EQ(row["status"], "ok") << row.dump();

  expect_one_error(testing::run_cpuinfer({"bench", "--model", model.string(), "--out", out().string(), "--quiet"}),
                   "give its shape with --shape ids=1x<sequence> (or each open dimension, --shape sequence=N)");
  expect_one_error(testing::run_cpuinfer({"bench", "--model", model.string(), "--shape", "nothing=3", "--quiet"}),
                   "--shape nothing: the model has no input 'nothing' (its inputs: ids, mask)");
  expect_one_error(testing::run_cpuinfer({"bench", "--model", model.string(), "--shape", "ids=2xQ", "--quiet"}),
                   "--shape ids=2xQ: 'Q' is not a dimension");

  // Both inputs from .npy files of one sample each (the batch dimension is open: the files' first
  // dimension counts samples), so batch size 1 only.
  Tensor ids(DType::i64, {1, 3}), mask(DType::i64, {1, 3});
  ids.values<std::int64_t>()[1] = 1;
  write_npy(tmp_.path() / "ids.npy", ids);
  write_npy(tmp_.path() / "mask.npy", mask);
  const std::vector<std::string> given = {"bench", "--model", model.string(), "--input", "ids=" + (tmp_.path() / "ids.npy").string(),
                                          "--input", "mask=" + (tmp_.path() / "mask.npy").string(), "--min-time", "0", "--out",
                                          (tmp_.path() / "out2").string(), "--quiet"};
  std::vector<std::string> batch1 = given;
  batch1.insert(batch1.end(), {"--batch-sizes", "1"});
  r = testing::run_cpuinfer(batch1);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> batch4 = given;
  batch4.insert(batch4.end(), {"--batch-sizes", "4"});
  expect_one_error(testing::run_cpuinfer(batch4), "batch size 4 exceeds the 1 samples");
  std::vector<std::string> more = given;
  more.insert(more.end(), {"--samples", "2"});
  expect_one_error(testing::run_cpuinfer(more), "2 samples asked for, --input ids=");

  testing::write_bytes(tmp_.path() / "bad.npy", {'n', 'o', 'p', 'e'});
  expect_one_error(testing::run_cpuinfer({"bench", "--model", model.string(), "--input",
                                          "ids=" + (tmp_.path() / "bad.npy").string(), "--shape", "sequence=3", "--quiet"}),
                   "bad.npy is not a .npy file");
}

// A data set in .npy files: the first dimension counts samples, batches are formed from them, and
// labels give each row an accuracy. The model's logits are its input (Relu of positive values), so
// the predicted class of sample i is i % 5 and the accuracy is known: 6 of 8 labels are right.
TEST_F(ModelCli, GivenSamplesWithLabelsGiveAccuracy) {
  OnnxBuilder b;
  b.input("x", kFloat, {"N", "5"});
  b.node("Relu", {"x"}, {"logits"});
  b.output("logits");
  const fs::path model = write("scores.onnx", b);
  Tensor x(DType::f32, {8, 5});
  Tensor labels(DType::i64, {8});
  for (std::size_t i = 0; i < 8; ++i) {
    for (std::size_t c = 0; c < 5; ++c) x.values<float>()[i * 5 + c] = c == i % 5 ? 2.0f : 0.5f + 0.1f * static_cast<float>(c);
    labels.values<std::int64_t>()[i] = static_cast<std::int64_t>(i < 6 ? i % 5 : (i + 1) % 5);  // the last two wrong
  }
  const fs::path x_file = tmp_.path() / "x.npy", labels_file = tmp_.path() / "labels.npy";
  write_npy(x_file, x);
  write_npy(labels_file, labels);
  const std::vector<std::string> base = {"bench", "--model", model.string(), "--input", "x=" + x_file.string(), "--threads", "1",
                                         "--warmup", "0", "--min-time", "0", "--quiet"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };

  auto r = testing::run_cpuinfer(with({"--labels", labels_file.string(), "--batch-sizes", "1,4", "--samples", "0", "--out", out().string()}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto json = result_json();
  EXPECT_EQ(json["workload"]["name"], "scores");
  EXPECT_EQ(json["workload"]["samples"], 8);
  EXPECT_EQ(json["workload"]["labels"], labels_file.string());
  ASSERT_EQ(json["rows"].size(), 4u);
  for (const auto& row : json["rows"]) {
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row["status"], "ok");
    EXPECT_EQ(row["samples"], 8);
    EXPECT_DOUBLE_EQ(row["accuracy"].get<double>(), 0.75);
    EXPECT_NE(row["dataset"].get<std::string>().find("(8 of 8 samples), labels"), std::string::npos);
    if (row["name"] == "native") {
      EXPECT_EQ(row["top1_agreement"], 1.0);
      EXPECT_EQ(row["max_abs_diff"], 0.0);
    }
  }

  // int32 labels; --samples takes a seeded subset spread over the classes.
  Tensor labels32 = cast(labels, DType::i32);
  write_npy(tmp_.path() / "labels32.npy", labels32);
  fs::remove_all(out());
  r = testing::run_cpuinfer(with({"--labels", (tmp_.path() / "labels32.npy").string(), "--batch-sizes", "2", "--samples", "4",
                                  "--backends", "native", "--out", out().string()}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json = result_json();
  ASSERT_EQ(json["rows"].size(), 1u);
  EXPECT_EQ(json["rows"][0]["samples"], 4);
  EXPECT_TRUE(json["rows"][0]["accuracy"].is_number()) << json["rows"][0].dump();

  // One-line errors naming the file.
  write_npy(tmp_.path() / "short.npy", Tensor(DType::i64, {3}));
  expect_one_error(testing::run_cpuinfer(with({"--labels", (tmp_.path() / "short.npy").string()})),
                   "--labels " + (tmp_.path() / "short.npy").string() + " holds 3 labels, --input x=" + x_file.string() +
                       " holds 8 samples");
  write_npy(tmp_.path() / "float.npy", Tensor(DType::f32, {8}));
  expect_one_error(testing::run_cpuinfer(with({"--labels", (tmp_.path() / "float.npy").string()})),
                   "float.npy holds float32: expected int64 or int32 class indices");
  write_npy(tmp_.path() / "matrix.npy", Tensor(DType::i64, {8, 1}));
  expect_one_error(testing::run_cpuinfer(with({"--labels", (tmp_.path() / "matrix.npy").string()})),
                   "matrix.npy has shape 8x1: expected one class per sample");
  Tensor negative(DType::i64, {8});
  negative.values<std::int64_t>()[5] = -1;
  write_npy(tmp_.path() / "negative.npy", negative);
  expect_one_error(testing::run_cpuinfer(with({"--labels", (tmp_.path() / "negative.npy").string()})),
                   "negative.npy: label -1 of sample 5 is not a class index");
  expect_one_error(testing::run_cpuinfer(with({"--samples", "9"})), "9 samples asked for, --input x=" + x_file.string() + " holds 8");
  write_npy(tmp_.path() / "wide.npy", Tensor(DType::f32, {8, 4}));
  expect_one_error(testing::run_cpuinfer({"bench", "--model", model.string(), "--input", "x=" + (tmp_.path() / "wide.npy").string(), "--quiet"}),
                   "--input x=" + (tmp_.path() / "wide.npy").string() + " has shape 8x4, the model declares N x 5");
  expect_one_error(testing::run_cpuinfer({"bench", "--model", model.string(), "--labels", labels_file.string(), "--quiet"}),
                   "no --input gives the model's batch dimension");
}

// Several inputs from files must agree on the sample count and on shared symbolic dimensions; a
// generated input takes a symbolic dimension's size from the files.
TEST_F(ModelCli, GivenInputsAgreeOnSamplesAndDimensions) {
  const fs::path model = text_model();
  const fs::path ids = tmp_.path() / "ids4.npy", mask5 = tmp_.path() / "mask5.npy", mask6 = tmp_.path() / "mask6.npy";
  write_npy(ids, Tensor(DType::i64, {4, 3}));
  write_npy(mask5, Tensor(DType::i64, {5, 3}));
  write_npy(mask6, Tensor(DType::i64, {4, 6}));
  expect_one_error(testing::run_cpuinfer({"bench", "--model", model.string(), "--input", "ids=" + ids.string(), "--input",
                                          "mask=" + mask5.string(), "--quiet"}),
                   "--input mask=" + mask5.string() + " has 5 samples, --input ids=" + ids.string() + " has 4");
  expect_one_error(testing::run_cpuinfer({"bench", "--model", model.string(), "--input", "ids=" + ids.string(), "--input",
                                          "mask=" + mask6.string(), "--quiet"}),
                   "--input mask=" + mask6.string() + " has sequence = 6, --input ids=" + ids.string() + " has sequence = 3");
  expect_one_error(testing::run_cpuinfer({"bench", "--model", model.string(), "--input", "ids=" + ids.string(), "--shape",
                                          "sequence=5", "--quiet"}),
                   "--input ids=" + ids.string() + " has sequence = 3, --shape sequence=5");
  // mask is generated with the files' sequence length, one slice per sample.
  const auto r = testing::run_cpuinfer({"bench", "--model", model.string(), "--input", "ids=" + ids.string(), "--batch-sizes",
                                        "2,4", "--samples", "0", "--warmup", "0", "--min-time", "0", "--out", out().string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = result_json();
  EXPECT_EQ(json["workload"]["inputs"][1]["shape"], "batch x 3");
  for (const auto& row : json["rows"]) {
    EXPECT_EQ(row["status"], "ok") << row.dump();
    EXPECT_EQ(row["samples"], 4) << row.dump();
  }
}

// A model whose batch is fixed (x is 2x4): a sample is one whole set of inputs, so the run has
// batches of one sample, and the row's batch size is the model's, 2.
TEST_F(ModelCli, FixedBatchModelRunsItsOwnBatch) {
  const auto r = testing::run_cpuinfer(quick(relu("fixed.onnx", {"2", "4"}), {"--samples", "3"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = result_json();
  EXPECT_EQ(json["workload"]["inputs"][0]["shape"], "2x4");
  ASSERT_EQ(json["rows"].size(), 2u);
  for (const auto& row : json["rows"]) {
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row["status"], "ok");
    EXPECT_EQ(row["batch_size"], 2);
    if (row["name"] == "native") {
      EXPECT_EQ(row["max_abs_diff"], 0.0);
    }
  }
}

// An output without the batch dimension (the sum of everything, a scalar) is compared whole.
TEST_F(ModelCli, OutputWithoutBatchDimensionIsComparedWhole) {
  OnnxBuilder b;
  b.input("x", kFloat, {"N", "4"});
  OnnxBuilder::attribute(b.node("ReduceSum", {"x"}, {"y"}), "keepdims", std::int64_t{0});
  b.output("y");
  const auto r = testing::run_cpuinfer(quick(write("sum.onnx", b), {"--batch-sizes", "1,2", "--samples", "4"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = result_json();
  ASSERT_EQ(json["rows"].size(), 4u);
  for (const auto& row : json["rows"]) {
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row["status"], "ok");
    if (row["name"] == "native") {
      EXPECT_LE(row["max_rel_diff"].get<double>(), 1e-5);
    }
  }
}

// --input name=FOLDER: one sample per .npy file, each the model's shape with batch 1 or without the
// batch dimension; other files are ignored.
TEST_F(ModelCli, InputFolderGivesOneSamplePerFile) {
  const fs::path dir = tmp_.path() / "samples";
  fs::create_directories(dir);
  write_npy(dir / "a.npy", Tensor(DType::f32, {1, 5}));
  write_npy(dir / "b.npy", Tensor(DType::f32, {5}));
  write_npy(dir / "c.npy", Tensor(DType::f32, {1, 5}));
  testing::write_bytes(dir / "notes.txt", {'h', 'i'});
  const auto r = testing::run_cpuinfer(quick(relu("five.onnx", {"N", "5"}), {"--input", "x=" + dir.string(), "--batch-sizes", "1,3"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = result_json();
  EXPECT_EQ(json["workload"]["samples"], 3);
  EXPECT_EQ(json["workload"]["file_samples"], 3);
  ASSERT_EQ(json["rows"].size(), 4u);
  for (const auto& row : json["rows"]) EXPECT_EQ(row["status"], "ok") << row.dump();
}

// The int8 model and ORT's graph counts are derived files: they go to the cache (--cache), never
// beside the user's model, whose folder may be read-only (CI runs as root, so the test checks the
// folder stays as it was rather than making it read-only).
TEST_F(ModelCli, DerivedFilesGoToTheCacheNotBesideTheModel) {
  const fs::path folder = tmp_.path() / "mine";
  fs::create_directories(folder);
  fs::rename(classifier(), folder / "classifier.onnx");
  const fs::path cache = tmp_.path() / "cache";
  const auto r = testing::run_cpuinfer(quick(folder / "classifier.onnx", {"--backends", "ort,native-int8", "--samples", "4", "--batch-sizes", "1",
                                                                           "--cache", cache.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> beside;
  for (const auto& e : fs::directory_iterator(folder)) beside.push_back(e.path().filename().string());
  EXPECT_EQ(beside, std::vector<std::string>{"classifier.onnx"});
  std::vector<std::string> derived;
  for (const auto& e : fs::recursive_directory_iterator(cache / "derived"))
    if (e.is_regular_file()) derived.push_back(e.path().filename().string());
  std::sort(derived.begin(), derived.end());
  ASSERT_EQ(derived.size(), 2u) << r.output;
  EXPECT_TRUE(derived[0].starts_with("classifier.int8-") && derived[0].ends_with(".onnx")) << derived[0];
  EXPECT_EQ(derived[1], "ort-graph-all.json");
}

// Refused before anything runs, with one line naming the file: here an empty model file.
TEST_F(ModelCli, EmptyModelFileIsRefused) {
  const fs::path empty = tmp_.path() / "empty.onnx";
  testing::write_bytes(empty, {});
  expect_one_error(testing::run_cpuinfer(quick(empty, {})), "--model " + empty.string() + ": 0 bytes, not an ONNX model");
}

TEST_F(ModelCli, ZeroShapeIsRefused) {
  expect_one_error(testing::run_cpuinfer(quick(text_model(), {"--shape", "ids=0x3"})),
                   "--shape ids=0x3: dimension 0 is 0, must be at least 1");
}

// The workload in-process: the samples it makes, and its errors (each one line naming the culprit).
class ModelWorkload : public ModelCli {
 protected:
  std::unique_ptr<Workload> make(const fs::path& model, std::vector<std::string> shapes = {},
                                 std::vector<std::string> inputs = {}, std::size_t samples = 0) {
    ModelWorkloadOptions o = model_options_from_flags(model.string(), shapes, inputs);
    o.samples = samples;
    return make_onnx_model_workload(o);
  }
  void expect_error(const fs::path& model, std::vector<std::string> shapes, std::vector<std::string> inputs,
                    const std::string& culprit) {
    try {
      make(model, shapes, inputs);
      ADD_FAILURE() << "accepted; expected an error with: " << culprit;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(culprit), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
  static std::vector<float> values(const Tensor& t) {
    const auto v = t.values<float>();
    return {v.begin(), v.end()};
  }
};

TEST_F(ModelWorkload, FixedBatchSamplesAreWholeInputsOfTheirOwn) {
  const auto w = make(relu("fixed.onnx", {"2", "4"}));
  EXPECT_EQ(w->size(), 16u);  // generated: 0 = 16
  EXPECT_EQ(w->max_batch_size(), 1u);
  EXPECT_EQ(w->rows_per_sample(), 2u);
  const auto first = w->batch({{0}, 0}), second = w->batch({{1}, 0});
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].shape(), (Shape{2, 4}));
  EXPECT_NE(values(first[0]), values(second[0]));
  EXPECT_EQ(values(first[0]), values(w->batch({{0}, 0})[0]));
  EXPECT_THROW(w->batch({{0, 1}, 0}), Error);
  // A generated sample is the same whether the batch is fixed at 1 or open.
  const auto one = make(relu("one.onnx", {"1", "4"})), open = make(relu("open.onnx", {"N", "4"}));
  EXPECT_EQ(one->rows_per_sample(), 1u);
  EXPECT_EQ(one->max_batch_size(), 1u);
  EXPECT_EQ(values(one->batch({{3}, 0})[0]), values(open->batch({{3}, 0})[0]));
  // --shape fixes the batch too, and a whole input's shape gives its symbols to the other inputs.
  EXPECT_EQ(make(relu("open.onnx", {"N", "4"}), {"x=3x4"})->rows_per_sample(), 3u);
  const auto text = make(text_model(), {"ids=2x5"});
  EXPECT_EQ(text->rows_per_sample(), 2u);
  EXPECT_EQ(text->batch({{0}, 0})[1].shape(), (Shape{2, 5}));  // mask: batch and sequence from ids
  // An input without a batch dimension beside a batched one is the same for every batch.
  const auto mixed = make(scaled());
  EXPECT_EQ(mixed->rows_per_sample(), 1u);
  EXPECT_EQ(mixed->max_batch_size(), 16u);
  EXPECT_EQ(values(mixed->batch({{0}, 0})[1]), values(mixed->batch({{1}, 0})[1]));
}

// A folder's files in file-name order; for a fixed batch, each file is a whole input.
TEST_F(ModelWorkload, FolderSamplesInFileNameOrder) {
  const fs::path dir = tmp_.path() / "samples";
  fs::create_directories(dir);
  for (int i : {2, 0, 1}) {
    Tensor t(DType::f32, i == 1 ? Shape{5} : Shape{1, 5});
    t.values<float>()[0] = static_cast<float>(i);
    write_npy(dir / fmt::format("s{}.npy", i), t);
  }
  const auto w = make(relu("five.onnx", {"N", "5"}), {}, {"x=" + dir.string()});
  ASSERT_EQ(w->size(), 3u);
  const Tensor batch = w->batch({{0, 1, 2}, 0})[0];
  ASSERT_EQ(batch.shape(), (Shape{3, 5}));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(batch.values<float>()[i * 5], static_cast<float>(i));

  const fs::path fixed_dir = tmp_.path() / "fixed";
  fs::create_directories(fixed_dir);
  for (int i : {1, 0}) {
    Tensor t(DType::f32, {2, 4});
    t.values<float>()[7] = static_cast<float>(i);
    write_npy(fixed_dir / fmt::format("{}.npy", i), t);
  }
  const auto fixed = make(relu("fixed.onnx", {"2", "4"}), {}, {"x=" + fixed_dir.string()});
  ASSERT_EQ(fixed->size(), 2u);
  EXPECT_EQ(fixed->rows_per_sample(), 2u);
  EXPECT_EQ(fixed->batch({{1}, 0})[0].values<float>()[7], 1.0f);
  // One file is one sample of a fixed batch.
  const auto single = make(relu("fixed.onnx", {"2", "4"}), {}, {"x=" + (fixed_dir / "1.npy").string()});
  EXPECT_EQ(single->size(), 1u);
}

TEST_F(ModelWorkload, FolderFilesAreAllChecked) {
  const fs::path model = relu("five.onnx", {"N", "5"});
  const fs::path dir = tmp_.path() / "samples";
  fs::create_directories(dir);
  for (const char* name : {"a.npy", "b.npy", "c.npy"}) write_npy(dir / name, Tensor(DType::f32, {1, 5}));
  const std::string flag = "x=" + dir.string();
  write_npy(dir / "d.npy", Tensor(DType::f32, {2, 5}));
  expect_error(model, {}, {flag}, "--input x=" + (dir / "d.npy").string() + " has shape 2x5: a file of the folder holds one sample");
  write_npy(dir / "d.npy", Tensor(DType::f32, {1, 4}));
  expect_error(model, {}, {flag}, "--input x=" + (dir / "d.npy").string() + " has shape 1x4: a file of the folder holds one sample");
  write_npy(dir / "d.npy", Tensor(DType::f64, {1, 5}));
  expect_error(model, {}, {flag}, "--input x=" + (dir / "d.npy").string() + ": holds float64, the model's input is float32");
  fs::remove(dir / "d.npy");

  // A fixed batch: each file is checked whole.
  const fs::path fixed_dir = tmp_.path() / "fixed";
  fs::create_directories(fixed_dir);
  write_npy(fixed_dir / "0.npy", Tensor(DType::f32, {2, 4}));
  write_npy(fixed_dir / "1.npy", Tensor(DType::f32, {1, 4}));
  expect_error(relu("fixed.onnx", {"2", "4"}), {}, {"x=" + fixed_dir.string()},
               "--input x=" + (fixed_dir / "1.npy").string() + " has shape 1x4, the model declares 2 x 4");

  // Every --input gives the same number of samples.
  OnnxBuilder two;
  two.input("x", kFloat, {"N", "5"});
  two.input("z", kFloat, {"N", "5"});
  two.node("Add", {"x", "z"}, {"y"});
  two.output("y");
  write_npy(tmp_.path() / "z4.npy", Tensor(DType::f32, {4, 5}));
  expect_error(write("two.onnx", two), {}, {flag, "z=" + (tmp_.path() / "z4.npy").string()},
               "has 4 samples, --input x=" + dir.string() + " has 3");

  const fs::path empty = tmp_.path() / "empty", text_only = tmp_.path() / "text_only";
  fs::create_directories(empty);
  fs::create_directories(text_only);
  testing::write_bytes(text_only / "x.txt", {'1'});
  expect_error(model, {}, {"x=" + empty.string()}, "--input x=" + empty.string() + ": the folder holds no .npy files");
  expect_error(model, {}, {"x=" + text_only.string()}, "--input x=" + text_only.string() + ": the folder holds no .npy files");
}

TEST_F(ModelWorkload, InputFilesOfTheWrongShapeAreRefused) {
  // A fixed-batch input takes the file whole: every dimension is checked.
  write_npy(tmp_.path() / "wide.npy", Tensor(DType::f32, {2, 5}));
  const std::string wide = (tmp_.path() / "wide.npy").string();
  expect_error(relu("fixed.onnx", {"2", "4"}), {}, {"x=" + wide}, "--input x=" + wide + " has shape 2x5, the model declares 2 x 4");
  // An input without a batch dimension beside a batched one: the same, and it takes one file for
  // every batch, not a folder of samples.
  write_npy(tmp_.path() / "scale5.npy", Tensor(DType::f32, {5}));
  const std::string scale5 = (tmp_.path() / "scale5.npy").string();
  expect_error(scaled(), {}, {"scale=" + scale5}, "--input scale=" + scale5 + " has shape 5, the model declares 4");
  fs::create_directories(tmp_.path() / "scales");
  write_npy(tmp_.path() / "scales" / "0.npy", Tensor(DType::f32, {4}));
  expect_error(scaled(), {}, {"scale=" + (tmp_.path() / "scales").string()},
               "input 'scale' has no batch dimension (4), it takes one .npy file for every batch, not a folder");
}

TEST_F(ModelWorkload, ShapeSizesArePositiveAndAgree) {
  const fs::path model = text_model();
  expect_error(model, {"sequence=0"}, {}, "--shape sequence=0: dimension 0 is 0, must be at least 1");
  expect_error(model, {"ids=2x-3"}, {}, "--shape ids=2x-3: dimension 1 is -3, must be at least 1");
  expect_error(model, {"ids=2x5", "sequence=6"}, {}, "--shape ids=2x5 has sequence = 5, --shape sequence=6");
  expect_error(model, {"ids=2x5", "mask=3x5"}, {}, "has batch = ");
}

TEST_F(ModelWorkload, ModelFileMustBeAnOnnxModelWithInputs) {
  const fs::path text = tmp_.path() / "text.onnx", truncated = tmp_.path() / "cut.onnx";
  const std::string words = "This is a README, not a model.\n";
  testing::write_bytes(text, std::vector<unsigned char>(words.begin(), words.end()));
  const std::string bytes = testing::read_text(classifier());
  testing::write_bytes(truncated, std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2)));
  expect_error(text, {}, {}, "--model " + text.string() + " is not an ONNX model");
  expect_error(truncated, {}, {}, "--model " + truncated.string() + " is not an ONNX model");
  expect_error(tmp_.path(), {}, {}, "a folder, not an ONNX model file");
  expect_error(write("nograph.onnx", OnnxBuilder()), {}, {},  // a ModelProto with only its version and opset
               "--model " + (tmp_.path() / "nograph.onnx").string() + ": the model has no graph");
  OnnxBuilder constant;
  constant.initializer("c", {2}, {1.0f, 2.0f});
  constant.node("Relu", {"c"}, {"y"});
  constant.output("y");
  expect_error(write("constant.onnx", constant), {}, {}, "the model has no inputs to feed");
}

// Labels need one class per sample: a fixed batch of 2 rows takes none.
TEST_F(ModelWorkload, FixedBatchOfSeveralRowsTakesNoLabels) {
  write_npy(tmp_.path() / "labels.npy", Tensor(DType::i64, {3}));
  ModelWorkloadOptions o = model_options_from_flags(relu("fixed.onnx", {"2", "4"}).string(), {}, {});
  o.labels = tmp_.path() / "labels.npy";
  EXPECT_THROW(
      {
        try {
          make_onnx_model_workload(o);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("the model's batch is fixed at 2 rows"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
}

TEST_F(ModelCli, ModelExcludesWorkloadFlagsAndNeedsAModelFile) {
  // CLI11's messages, one line each (then its "Run with --help" hint).
  expect_one_error(testing::run_cpuinfer({"bench", "--model", classifier().string(), "--workload", "bert"}),
                   "--workload excludes --model", "--workload");
  expect_one_error(testing::run_cpuinfer({"bench", "--model", (tmp_.path() / "missing.onnx").string()}), "missing.onnx",
                   "--model");
}

// `cpuinfer zoo` over a folder without a manifest: one summary row per model, written as CSV and
// JSON; a model native cannot load says what it lacks, and the command then exits 1.
TEST_F(ModelCli, ZooSumsUpEveryModelOfAFolder) {
  const fs::path zoo = tmp_.path() / "zoo";
  fs::create_directories(zoo);
  fs::rename(classifier(), zoo / "classifier.onnx");
  auto r = testing::run_cpuinfer({"zoo", "--models", zoo.string(), "--samples", "4", "--out", out().string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("native/ORT"), std::string::npos) << r.output;
  auto summary = [&] {
    for (const auto& entry : fs::directory_iterator(out()))
      if (entry.path().extension() == ".json" && entry.path().stem().string().find("-runs") == std::string::npos)
        return nlohmann::json::parse(testing::read_text(entry.path()));
    return nlohmann::json();
  };
  nlohmann::json json = summary();
  ASSERT_EQ(json["rows"].size(), 1u);
  EXPECT_EQ(json["rows"][0]["model"], "classifier");
  EXPECT_EQ(json["rows"][0]["status"], "ok");
  EXPECT_EQ(json["rows"][0]["batch_sizes"], "1,4");
  EXPECT_TRUE(json["rows"][0]["time_ratio_b1"].is_number());
  EXPECT_TRUE(json["complete"].get<bool>());

  OnnxBuilder b;
  b.input("x", kFloat, {"N", "3"});
  b.node("NoSuchOperator", {"x"}, {"y"}, "odd");
  b.output("y");
  std::ofstream(zoo / "odd.onnx", std::ios::binary) << b.bytes();
  fs::remove_all(out());
  r = testing::run_cpuinfer({"zoo", "--models", zoo.string(), "--only", "odd", "--samples", "1", "--batch-sizes", "1",
                             "--out", out().string(), "--quiet"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  json = summary();
  ASSERT_EQ(json["rows"].size(), 1u);
  EXPECT_NE(json["rows"][0]["status"].get<std::string>().find("operator NoSuchOperator is not supported"), std::string::npos)
      << json["rows"][0].dump();

  expect_one_error(testing::run_cpuinfer({"zoo", "--models", (tmp_.path() / "none").string(), "--quiet"}), "does not exist");
  expect_one_error(testing::run_cpuinfer({"zoo", "--models", zoo.string(), "--only", "missing", "--quiet"}),
                   "--only missing: no such model");
}

TEST_F(ModelCli, ProfilePrintsOpTypesAndTopNodes) {
  const fs::path json = tmp_.path() / "profile.json";
  const auto r = testing::run_cpuinfer({"profile", "--model", classifier().string(), "--batch-size", "2", "--iterations", "3",
                                        "--top", "2", "--json", json.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("op type"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("top 2 nodes"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Conv+Relu"), std::string::npos) << r.output;  // the Relu is fused into the Conv
  EXPECT_NE(r.output.find("1 in the blocked layout with 1 reorders"), std::string::npos) << r.output;
  // Conv+Relu (blocked), ToPlain for the pooling, GlobalAveragePool, Flatten, Gemm.
  const auto j = nlohmann::json::parse(testing::read_text(json));
  EXPECT_EQ(j["nodes"].size(), 5u);
  EXPECT_EQ(j["op_types"].size(), 5u);
  EXPECT_EQ(j["run_ms"].size(), 3u);

  OnnxBuilder b;
  b.input("x", kFloat, {"4"});
  b.node("NoSuchOperator", {"x"}, {"y"}, "odd");
  b.output("y");
  expect_one_error(testing::run_cpuinfer({"profile", "--model", write("odd.onnx", b).string()}),
                   "node 'odd' (NoSuchOperator): operator NoSuchOperator is not supported");
}

}  // namespace
}  // namespace cpuinfer

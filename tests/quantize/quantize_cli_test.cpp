// `cpuinfer quantize` as a user runs it: .npy calibration files, the summary it prints, the model
// it writes, and one-line errors for bad data checked before anything runs.
#include <gtest/gtest.h>

#include <fstream>

#include "data/npy_file.h"
#include "quantize_models.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

using test::OnnxBuilder;
using testing::expect_one_error;
using testing::run_cpuinfer;

class QuantizeCli : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const OnnxBuilder& b) {
    const fs::path file = tmp_.path() / name;
    std::ofstream(file, std::ios::binary) << b.bytes();
    return file;
  }
  fs::path npy(const std::string& name, const Tensor& t) {
    const fs::path file = tmp_.path() / name;
    write_npy(file, t);
    return file;
  }
  fs::path path(const std::string& name) const { return tmp_.path() / name; }
  testing::TempDir tmp_;
};

TEST_F(QuantizeCli, StaticFromANpyFileAndDynamicWithout) {
  const fs::path cnn = write("cnn.onnx", test::tiny_cnn());
  const fs::path images = npy("images.npy", test::seeded_tensor({10, 3, 8, 8}, 5));
  auto r = run_cpuinfer({"quantize", "--model", cnn.string(), "--out", path("cnn.int8.onnx").string(), "--calibration",
                         images.string(), "--batch-size", "4", "--method", "percentile", "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mode: static"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("percentile 99.999 calibration on 10 samples in 3 batches"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("quantized: 6 nodes given int8 inputs, 3 weights"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(path("cnn.int8.onnx")));
  // The name=FILE form works as well, and the model written runs.
  r = run_cpuinfer({"quantize", "--model", cnn.string(), "--out", path("cnn2.int8.onnx").string(), "--calibration",
                    "image=" + images.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_cpuinfer({"bench", "--model", path("cnn2.int8.onnx").string(), "--backends", "ort,native", "--batch-sizes", "2",
                    "--samples", "2", "--threads", "1", "--min-time", "0", "--out", path("results").string(), "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.output;

  const fs::path linear = write("linear.onnx", test::tiny_matmul(true));
  r = run_cpuinfer({"quantize", "--model", linear.string(), "--out", path("linear.int8.onnx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mode: dynamic"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("quantized: 1 nodes given int8 inputs, 1 weights"), std::string::npos) << r.output;
}

// paddle2onnx and tf2onnx write opsets 9 to 12: upgraded with ONNX's version converter, said so;
// calibration data from a folder of .npy files (samples along the first dimension, or one sample
// without it); --percentile alone implies the method, with --method minmax it is refused.
TEST_F(QuantizeCli, OlderOpsetsFoldersAndPercentile) {
  const fs::path cnn = write("cnn9.onnx", test::tiny_cnn(9));
  const fs::path folder = tmp_.path() / "calibration";
  fs::create_directories(folder);
  write_npy(folder / "a.npy", test::seeded_tensor({2, 3, 8, 8}, 5));
  write_npy(folder / "b.npy", test::seeded_tensor({3, 8, 8}, 6));
  auto r = run_cpuinfer({"quantize", "--model", cnn.string(), "--out", path("cnn9.int8.onnx").string(), "--calibration",
                         "image=" + folder.string(), "--percentile", "99.9", "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("upgraded from opset 9 to 13 with ONNX's version converter"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("percentile 99.9 calibration on 3 samples"), std::string::npos) << r.output;
  r = run_cpuinfer({"bench", "--model", path("cnn9.int8.onnx").string(), "--backends", "ort,native", "--batch-sizes", "1,2",
                    "--samples", "2", "--threads", "1", "--min-time", "0", "--out", path("results").string(), "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_one_error(run_cpuinfer({"quantize", "--model", cnn.string(), "--out", path("x.onnx").string(), "--calibration",
                                 "image=" + folder.string(), "--percentile", "99", "--method", "minmax"}),
                   "--percentile 99 needs --method percentile (given --method minmax)");
  const fs::path empty = tmp_.path() / "empty";
  fs::create_directories(empty);
  expect_one_error(run_cpuinfer({"quantize", "--model", cnn.string(), "--out", path("x.onnx").string(), "--calibration",
                                 "image=" + empty.string()}),
                   "the folder holds no .npy files");
}

TEST_F(QuantizeCli, BadCalibrationDataIsRefusedBeforeAnythingRuns) {
  const fs::path cnn = write("cnn.onnx", test::tiny_cnn());
  const std::string out = path("out.onnx").string();
  expect_one_error(run_cpuinfer({"quantize", "--model", cnn.string(), "--out", out, "--calibration",
                                 npy("small.npy", test::seeded_tensor({10, 3, 6, 6}, 1)).string()}),
                   "calibration data for input 'image' has shape 10x3x6x6, the model declares N x 3 x 8 x 8");
  expect_one_error(run_cpuinfer({"quantize", "--model", cnn.string(), "--out", out, "--calibration",
                                 npy("ints.npy", Tensor(DType::i64, {2, 3, 8, 8})).string()}),
                   "calibration data for input 'image' is int64, the model declares float32");
  expect_one_error(run_cpuinfer({"quantize", "--model", cnn.string(), "--out", out, "--mode", "static"}),
                   "--mode static needs calibration data");
  expect_one_error(run_cpuinfer({"quantize", "--model", cnn.string(), "--out", out}),
                   "static quantization needs calibration data");
  expect_one_error(run_cpuinfer({"quantize", "--model", cnn.string(), "--out", out, "--calibration",
                                 "pixels=" + npy("ok.npy", test::seeded_tensor({2, 3, 8, 8}, 1)).string()}),
                   "the model has no input 'pixels' (its inputs: image)");

  OnnxBuilder two;
  two.input("a", onnx::TensorProto::FLOAT, {"N", "4"});
  two.input("b", onnx::TensorProto::FLOAT, {"N", "4"});
  two.node("Add", {"a", "b"}, {"y"}, "add");
  two.output("y");
  const fs::path model = write("two.onnx", two);
  const std::string a = "a=" + npy("a.npy", test::seeded_tensor({3, 4}, 1)).string();
  expect_one_error(run_cpuinfer({"quantize", "--model", model.string(), "--out", out, "--mode", "static", "--calibration", a}),
                   "no calibration data for input 'b' (give --calibration b=FILE.npy)");
  expect_one_error(run_cpuinfer({"quantize", "--model", model.string(), "--out", out, "--mode", "static", "--calibration", a,
                                 "--calibration", "b=" + npy("b.npy", test::seeded_tensor({2, 4}, 1)).string()}),
                   "calibration data for input 'b' has 2 samples, for input 'a' 3");
  expect_one_error(run_cpuinfer({"quantize", "--model", model.string(), "--out", out, "--calibration",
                                 path("a.npy").string()}),
                   "the model has 2 inputs (a, b); give name=FILE.npy for each");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace cpuinfer

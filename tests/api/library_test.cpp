// The public C++ API (include/cpuinfer/) as a program uses it, linked against libcpuinfer.so:
// what a Model says of its inputs and outputs, runs by position and by name agreeing, the size
// limit of Options, errors naming the culprit, and no process-wide state changed behind the
// caller's back (its OpenMP thread count).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <cpuinfer/cpuinfer.h>

#include <fstream>
#include <functional>
#include <optional>

#include "engine/onnx_builder.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace {

using cpuinfer::test::OnnxBuilder;
using testing::HasSubstr;

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;

class Library : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const OnnxBuilder& b) {
    const fs::path file = tmp_.path() / name;
    std::ofstream(file, std::ios::binary) << b.bytes();
    return file;
  }
  // y = Relu(x) + 1 over x [N, 4]; z = a zero tensor of the shape `shape` gives (ConstantOfShape).
  fs::path model() {
    OnnxBuilder b;
    b.input("x", kFloat, {"N", "4"});
    b.input("shape", kInt64, {"2"});
    b.initializer("one", {}, {1.0f});
    b.node("Relu", {"x"}, {"r"});
    b.node("Add", {"r", "one"}, {"y"});
    b.node("ConstantOfShape", {"shape"}, {"z"}, "fill");
    b.output("y");
    b.output("z");
    return write("model.onnx", b);
  }
  cpuinfer::testing::TempDir tmp_;
};

template <typename T> cpuinfer::TensorView view(cpuinfer::ElementType type, std::vector<std::int64_t> shape, const std::vector<T>& v) {
  return {type, std::move(shape), v.data()};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cpuinfer::Error& e) {
    return e.what();
  }
  return "no error";
}

TEST_F(Library, AModelDescribesItsInputsAndOutputs) {
  const cpuinfer::Model m(model());
  ASSERT_EQ(m.inputs().size(), 2u);
  EXPECT_EQ(m.inputs()[0].name, "x");
  EXPECT_EQ(m.inputs()[0].type, cpuinfer::ElementType::float32);
  EXPECT_EQ(m.inputs()[0].shape, (std::vector<std::int64_t>{-1, 4}));
  EXPECT_EQ(m.inputs()[0].symbols, (std::vector<std::string>{"N", ""}));
  EXPECT_EQ(m.inputs()[1].type, cpuinfer::ElementType::int64);
  ASSERT_EQ(m.outputs().size(), 2u);
  EXPECT_EQ(m.outputs()[1].name, "z");
  EXPECT_NE(cpuinfer::Model::engine_version().find("oneDNN"), std::string::npos);
}

TEST_F(Library, RunsByPositionAndByNameAgree) {
  const cpuinfer::Model m(model());
  cpuinfer::Session s(m);
  const std::vector<float> x = {-1, 0.5f, 2, -3, 4, -5, 6, 0};
  const std::vector<std::int64_t> shape = {2, 3};
  const auto all = s.run({view(cpuinfer::ElementType::float32, {2, 4}, x), view(cpuinfer::ElementType::int64, {2}, shape)});
  ASSERT_EQ(all.size(), 2u);
  const std::vector<float> expected = {1, 1.5f, 3, 1, 5, 1, 7, 1};
  EXPECT_EQ(std::vector<float>(all[0].values<float>().begin(), all[0].values<float>().end()), expected);
  EXPECT_EQ(all[1].shape(), (std::vector<std::int64_t>{2, 3}));
  // By name, inputs in any order, one output chosen.
  const auto picked = s.run({{"shape", view(cpuinfer::ElementType::int64, {2}, shape)}, {"x", view(cpuinfer::ElementType::float32, {2, 4}, x)}}, {"y"});
  ASSERT_EQ(picked.size(), 1u);
  EXPECT_EQ(std::vector<float>(picked[0].values<float>().begin(), picked[0].values<float>().end()), expected);
  // An output outlives its session and model.
  std::optional<cpuinfer::Output> kept;
  {
    cpuinfer::Session other(cpuinfer::Model{model()});
    kept = other.run({view(cpuinfer::ElementType::float32, {2, 4}, x), view(cpuinfer::ElementType::int64, {2}, shape)})[0];
  }
  EXPECT_EQ(std::vector<float>(kept->values<float>().begin(), kept->values<float>().end()), expected);
}

TEST_F(Library, BadInputsAreErrorsNamingThem) {
  cpuinfer::Session s(cpuinfer::Model{model()});
  const std::vector<float> x(8, 1.0f);
  const std::vector<std::int64_t> shape = {1, 1};
  const auto sx = view(cpuinfer::ElementType::float32, {2, 4}, x);
  const auto ss = view(cpuinfer::ElementType::int64, {2}, shape);
  EXPECT_THAT(error_of([&] { s.run({sx}); }), HasSubstr("the model takes 2 inputs, got 1"));
  EXPECT_THAT(error_of([&] { s.run({{"x", sx}, {"shape", ss}, {"w", sx}}); }), HasSubstr("no input named 'w' (the model's inputs: x, shape)"));
  EXPECT_THAT(error_of([&] { s.run({{"x", sx}}); }), HasSubstr("input 'shape' is missing"));
  EXPECT_THAT(error_of([&] { s.run({{"x", sx}, {"shape", ss}}, {"q"}); }), HasSubstr("no output named 'q'"));
  EXPECT_THAT(error_of([&] { s.run({view(cpuinfer::ElementType::float32, {8}, x), ss}); }), HasSubstr("'x'"));
  EXPECT_THAT(error_of([] { cpuinfer::Model{"/nonexistent/model.onnx"}; }), HasSubstr("/nonexistent/model.onnx"));
  cpuinfer::Options bad;
  bad.threads = -1;
  EXPECT_THAT(error_of([&] { cpuinfer::Model(model(), bad); }), HasSubstr("threads -1 is negative"));
}

// Options::max_tensor_bytes refuses an input beyond it, naming the input, and a tensor a node
// would make beyond it, naming the node; below it, the same runs succeed. Another model's runs
// keep the engine's default.
TEST_F(Library, TheSizeLimitRefusesLargeInputsAndLargeComputedTensors) {
  cpuinfer::Options o;
  o.max_tensor_bytes = 4096;
  cpuinfer::Session limited(cpuinfer::Model(model(), o));
  cpuinfer::Session free(cpuinfer::Model{model()});
  const std::vector<float> small(8, 1.0f), big(2048, 1.0f);
  const std::vector<std::int64_t> small_shape = {4, 4}, big_shape = {64, 64};
  const auto ss = view(cpuinfer::ElementType::int64, {2}, small_shape);
  EXPECT_NO_THROW(limited.run({view(cpuinfer::ElementType::float32, {2, 4}, small), ss}));
  EXPECT_THAT(error_of([&] { limited.run({view(cpuinfer::ElementType::float32, {512, 4}, big), ss}); }),
              HasSubstr("input 'x': invalid tensor shape 512x4: its 4-byte elements take more than 4096 bytes"));
  EXPECT_THAT(error_of([&] { limited.run({view(cpuinfer::ElementType::float32, {2, 4}, small),
                                          view(cpuinfer::ElementType::int64, {2}, big_shape)}); }),
              HasSubstr("node 'fill' (ConstantOfShape): invalid tensor shape 64x64"));
  EXPECT_NO_THROW(free.run({view(cpuinfer::ElementType::float32, {512, 4}, big), view(cpuinfer::ElementType::int64, {2}, big_shape)}));
}

TEST_F(Library, TheCallersOpenMPThreadCountIsKept) {
  omp_set_num_threads(3);
  cpuinfer::Options o;
  o.threads = 1;
  cpuinfer::Session s(cpuinfer::Model(model(), o));
  EXPECT_EQ(omp_get_max_threads(), 3);
  const std::vector<float> x(8, 1.0f);
  const std::vector<std::int64_t> shape = {1, 1};
  s.run({view(cpuinfer::ElementType::float32, {2, 4}, x), view(cpuinfer::ElementType::int64, {2}, shape)});
  EXPECT_EQ(omp_get_max_threads(), 3);
}

}  // namespace

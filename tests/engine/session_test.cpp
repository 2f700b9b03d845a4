// Sessions: symbolic dimensions bound per run, constant folding, run-time errors naming the node
// or input, models from exporters other than torch (Constant nodes, older opsets).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "engine/onnx/import.h"
#include "engine/onnx_builder.h"
#include "engine/session.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

using test::OnnxBuilder;
using ::testing::HasSubstr;

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;

engine::Session session_of(const OnnxBuilder& b) { return engine::Session(engine::import_onnx_bytes(b.bytes(), "m"), {1}); }

Tensor floats(Shape shape, float start = 0.0f) {
  Tensor t(DType::f32, std::move(shape));
  float v = start;
  for (float& x : t.values<float>()) x = v++;
  return t;
}

std::string run_error(engine::Session& s, std::vector<Tensor> inputs) {
  try {
    s.run(inputs);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// y = x @ W + b over a symbolic batch and sequence: the shape of a Linear layer in BERT.
OnnxBuilder linear_model() {
  OnnxBuilder b;
  b.input("x", kFloat, {"batch", "sequence", "3"});
  b.initializer("W", {3, 2}, {1, 0, 0, 1, 1, 1});
  b.initializer("b", {2}, {0.5f, -0.5f});
  b.node("MatMul", {"x", "W"}, {"xw"});
  b.node("Add", {"xw", "b"}, {"y"});
  b.output("y");
  return b;
}

TEST(Session, OneLoadServesEveryBatchAndSequenceLength) {
  engine::Session s = session_of(linear_model());
  for (std::int64_t batch : {1, 3}) {
    for (std::int64_t seq : {1, 5}) {
      const Tensor x = floats({batch, seq, 3});
      const auto y = s.run(std::vector<Tensor>{x});
      ASSERT_EQ(y[0].shape(), (Shape{batch, seq, 2}));
      const auto in = x.values<float>();
      const auto out = y[0].values<float>();
      for (std::int64_t r = 0; r < batch * seq; ++r) {
        EXPECT_FLOAT_EQ(out[r * 2], in[r * 3] + in[r * 3 + 2] + 0.5f);
        EXPECT_FLOAT_EQ(out[r * 2 + 1], in[r * 3 + 1] + in[r * 3 + 2] - 0.5f);
      }
    }
  }
}

// A fused node counts every operator it carries out, a folded one counts at load, and an operator
// counts only once its kernel has run.
TEST(Session, OperatorsRunCountFusedAndFoldedNodes) {
  OnnxBuilder b = linear_model();  // MatMul + Add: one fused node
  b.int_initializer("shape", {2}, {2, 3});
  b.node("ConstantOfShape", {"shape"}, {"zeros"});  // folded at load
  b.output("zeros");
  engine::Session s = session_of(b);
  EXPECT_EQ(s.operators_run(), (std::set<std::string>{"ConstantOfShape"}));
  s.run(std::vector<Tensor>{floats({1, 2, 3})});
  EXPECT_EQ(s.operators_run(), (std::set<std::string>{"Add", "ConstantOfShape", "MatMul"}));
}

TEST(Session, ChecksInputsAgainstTheDeclaration) {
  engine::Session s = session_of(linear_model());
  EXPECT_THAT(run_error(s, {floats({2, 4, 5})}), HasSubstr("input 'x' must have shape batch x sequence x 3, got 2x4x5"));
  EXPECT_THAT(run_error(s, {Tensor(DType::i64, {2, 4, 3})}), HasSubstr("input 'x' must be float32, got int64"));
  EXPECT_THAT(run_error(s, {}), HasSubstr("the model takes 1 inputs, got 0"));
  EXPECT_THAT(run_error(s, {Tensor()}), HasSubstr("input 'x' is an empty Tensor (default-constructed: no shape, no storage)"));
}

// Sizes a model computes from its constants or inputs are checked before anything is allocated:
// repeats, pads and scales that overflow, a Range whose count is NaN.
TEST(Session, ShapeArithmeticFromTheModelIsChecked) {
  const auto error_of = [](const OnnxBuilder& b, std::vector<Tensor> inputs) -> std::string {
    try {
      engine::Session s = session_of(b);
      s.run(inputs);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  OnnxBuilder tile;
  tile.input("x", kFloat, {"2", "3"});
  tile.int_initializer("repeats", {2}, {std::int64_t{1} << 40, std::int64_t{1} << 40});
  tile.node("Tile", {"x", "repeats"}, {"y"}, "tile");
  tile.output("y");
  EXPECT_THAT(error_of(tile, {floats({2, 3})}), HasSubstr("larger than any tensor"));
  OnnxBuilder pad;
  pad.input("x", kFloat, {"2", "3"});
  pad.int_initializer("pads", {4}, {0, 0, 0, std::numeric_limits<std::int64_t>::max()});
  pad.node("Pad", {"x", "pads"}, {"y"}, "pad");
  pad.output("y");
  EXPECT_THAT(error_of(pad, {floats({2, 3})}), HasSubstr("larger than any tensor"));
  OnnxBuilder resize;
  resize.input("x", kFloat, {"1", "1", "2", "2"});
  resize.initializer("roi", {0}, {});
  resize.initializer("scales", {4}, {1, 1, std::numeric_limits<float>::infinity(), 1});
  resize.node("Resize", {"x", "roi", "scales"}, {"y"}, "resize");
  resize.output("y");
  EXPECT_THAT(error_of(resize, {floats({1, 1, 2, 2})}), HasSubstr("larger than any tensor"));
  OnnxBuilder range;
  range.input("limit", kFloat, {});
  range.initializer("start", {}, {0.0f});
  range.initializer("delta", {}, {1.0f});
  range.node("Range", {"start", "limit", "delta"}, {"y"}, "range");
  range.output("y");
  Tensor nan(DType::f32, {});
  nan.values<float>()[0] = std::nanf("");
  EXPECT_THAT(error_of(range, {nan}), HasSubstr("give no count of values"));
}

TEST(Session, ASymbolMustHaveOneSizeAcrossInputs) {
  OnnxBuilder b;
  b.input("ids", kFloat, {"batch", "sequence"});
  b.input("mask", kFloat, {"batch", "sequence"});
  b.node("Add", {"ids", "mask"}, {"y"});
  b.output("y");
  engine::Session s = session_of(b);
  EXPECT_EQ(s.run(std::vector<Tensor>{floats({2, 3}), floats({2, 3})})[0].shape(), (Shape{2, 3}));
  EXPECT_THAT(run_error(s, {floats({2, 3}), floats({2, 4})}),
              HasSubstr("input 'mask' has sequence = 4, input 'ids' has sequence = 3"));
}

TEST(Session, FoldsConstantsIdentityAndShapeArithmeticAtLoad) {
  OnnxBuilder b;
  b.input("x", kFloat, {"batch", "6"});
  b.initializer("w", {6}, {1, 1, 1, 1, 1, 1});
  b.node("Identity", {"w"}, {"w_copy"});                 // torch's Identity on weights
  b.node("Shape", {"w_copy"}, {"w_shape"});              // shape arithmetic on a constant
  auto& c = b.node("Constant", {}, {"minus_one"});
  auto* value = c.add_attribute();
  value->set_name("value_ints");
  value->set_type(onnx::AttributeProto::INTS);
  value->add_ints(-1);
  b.node("Concat", {"minus_one", "w_shape"}, {"target"});
  OnnxBuilder::attribute(b.model().mutable_graph()->mutable_node(3)[0], "axis", std::int64_t{0});
  b.node("Mul", {"x", "w_copy"}, {"scaled"});
  b.node("Reshape", {"scaled", "target"}, {"y"});
  b.output("y");
  engine::Session s = session_of(b);
  EXPECT_EQ(s.report().imported_nodes, 6u);
  EXPECT_EQ(s.report().folded_nodes, 4u);  // Identity, Shape, Constant, Concat
  EXPECT_EQ(s.node_count(), 2u);
  EXPECT_EQ(s.run(std::vector<Tensor>{floats({2, 6})})[0].shape(), (Shape{2, 6}));
}

TEST(Session, RunsModelsOfOtherExportersAndOlderOpsets) {
  // Opset 11: Unsqueeze and Squeeze take axes as attributes, Softmax flattens from its axis, and
  // constants are Constant nodes rather than initializers.
  OnnxBuilder b(11);
  b.input("x", kFloat, {"2", "3"});
  auto& c = b.node("Constant", {}, {"two"});
  auto* attr = c.add_attribute();
  attr->set_name("value");
  attr->set_type(onnx::AttributeProto::TENSOR);
  attr->mutable_t()->set_data_type(kFloat);
  attr->mutable_t()->add_float_data(2.0f);
  b.node("Mul", {"x", "two"}, {"doubled"});
  OnnxBuilder::attribute(b.node("Unsqueeze", {"doubled"}, {"u"}), "axes", std::vector<std::int64_t>{0});
  OnnxBuilder::attribute(b.node("Softmax", {"u"}, {"s"}), "axis", std::int64_t{1});
  OnnxBuilder::attribute(b.node("Squeeze", {"s"}, {"y"}), "axes", std::vector<std::int64_t>{0});
  b.output("y");
  engine::Session s = session_of(b);
  const auto y = s.run(std::vector<Tensor>{floats({2, 3})})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  // Opset-11 Softmax over axis 1 of 1x2x3 normalises all six values together.
  double sum = 0, expected_first = 0;
  for (int i = 0; i < 6; ++i) sum += std::exp(2.0 * i);
  expected_first = 1.0 / sum;
  EXPECT_NEAR(y.values<float>()[0], expected_first, 1e-9);
  EXPECT_NEAR(y.values<float>()[5], std::exp(10.0) / sum, 1e-6);
}

TEST(Session, RunTimeErrorsNameTheNode) {
  OnnxBuilder b;
  b.input("table", kFloat, {"4", "2"});
  b.input("ids", kInt64, {"n"});
  b.node("Gather", {"table", "ids"}, {"y"}, "embedding");
  b.output("y");
  engine::Session s = session_of(b);
  Tensor ids(DType::i64, {2});
  ids.values<std::int64_t>()[1] = 7;
  EXPECT_THAT(run_error(s, {floats({4, 2}), ids}),
              HasSubstr("node 'embedding' (Gather): index 7 is out of range for axis 0 of size 4"));
}

// An attribute value a kernel does not implement is refused at load as unsupported, naming the
// node and the attribute; so is an element type outside a kernel's list, at run.
TEST(Session, UnimplementedAttributeValuesAndTypesAreUnsupportedNamingTheNode) {
  OnnxBuilder b;
  b.input("x", kFloat, {"1", "1", "4", "4"});
  b.input("grid", kFloat, {"1", "2", "2", "2"});
  auto& sample = b.node("GridSample", {"x", "grid"}, {"y"}, "warp");
  auto* mode = sample.add_attribute();
  mode->set_name("mode");
  mode->set_type(onnx::AttributeProto::STRING);
  mode->set_s("lanczos");
  b.output("y");
  try {
    session_of(b);
    FAIL() << "loaded";
  } catch (const Unsupported& e) {
    EXPECT_STREQ(e.what(), "node 'warp' (GridSample): mode 'lanczos'");
  }
  OnnxBuilder bits;
  bits.input("a", onnx::TensorProto::INT32, {"3"});
  bits.input("n", onnx::TensorProto::INT32, {"3"});
  auto* direction = bits.node("BitShift", {"a", "n"}, {"y"}, "shift").add_attribute();
  direction->set_name("direction");
  direction->set_type(onnx::AttributeProto::STRING);
  direction->set_s("LEFT");
  bits.output("y", onnx::TensorProto::INT32);
  try {
    session_of(bits);
    FAIL() << "loaded";
  } catch (const Unsupported& e) {
    EXPECT_STREQ(e.what(), "node 'shift' (BitShift): BitShift on int32 is not supported (kernels for uint8, uint16, uint32, uint64)");
  }
}

TEST(Session, RefusesHostileSizesFromData) {
  OnnxBuilder b;
  b.input("shape", kInt64, {"2"});
  b.node("ConstantOfShape", {"shape"}, {"y"}, "fill");
  b.output("y");
  engine::Session s = session_of(b);
  Tensor shape(DType::i64, {2});
  shape.values<std::int64_t>()[0] = 1 << 20;
  shape.values<std::int64_t>()[1] = 1 << 20;
  EXPECT_THAT(run_error(s, {shape}), HasSubstr("node 'fill' (ConstantOfShape): invalid tensor shape 1048576x1048576: its 4-byte elements take more than 8 GiB (the limit for sizes that come from data)"));
  shape.values<std::int64_t>()[1] = -1;
  EXPECT_THAT(run_error(s, {shape}), HasSubstr("negative dimension"));
  // Empty, but with a dimension that would make loops over the others endless.
  shape.values<std::int64_t>()[0] = 0;
  shape.values<std::int64_t>()[1] = std::int64_t{1} << 62;
  EXPECT_THAT(run_error(s, {shape}), HasSubstr("is too large"));
}

TEST(Session, IntegerDivisionByZeroIsAnError) {
  OnnxBuilder b;
  b.input("a", kInt64, {"2"});
  b.input("b", kInt64, {"2"});
  b.node("Div", {"a", "b"}, {"y"}, "divide");
  b.output("y", kInt64);
  engine::Session s = session_of(b);
  EXPECT_THAT(run_error(s, {Tensor(DType::i64, {2}), Tensor(DType::i64, {2})}), HasSubstr("integer division by zero"));
}

// The reference: every node on its own, plain layout.
constexpr engine::SessionOptions kReference{.threads = 1, .fuse = false, .blocked_layout = false, .winograd = false};

// Optimized (fused, blocked layout where it applies) and reference sessions on the same inputs:
// max |difference| <= 1e-5 of the largest output.
void expect_fusion_agrees(const OnnxBuilder& b, const std::vector<Tensor>& inputs, std::size_t fused_nodes,
                          engine::SessionOptions optimized = {1}) {
  engine::Session fused(engine::import_onnx_bytes(b.bytes(), "m"), optimized);
  engine::Session plain(engine::import_onnx_bytes(b.bytes(), "m"), kReference);
  EXPECT_EQ(fused.report().fused_nodes, fused_nodes);
  EXPECT_EQ(plain.report().fused_nodes, 0u);
  const auto got = fused.run(inputs), want = plain.run(inputs);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    ASSERT_EQ(got[k].shape(), want[k].shape());
    double max_ref = 0;
    for (float v : want[k].values<float>()) max_ref = std::max(max_ref, std::fabs(double(v)));
    EXPECT_LE(testing::max_abs_difference(got[k].values<float>(), want[k].values<float>()), 1e-5 * max_ref) << "output " << k;
  }
}

Tensor waves(Shape shape, float phase) {
  Tensor t(DType::f32, std::move(shape));
  float i = phase;
  for (float& x : t.values<float>()) x = std::sin(i++ * 0.37f) * 2.0f;
  return t;
}

TEST(Session, FusesConvAddReluAsResNetDoes) {
  OnnxBuilder b;
  b.input("x", kFloat, {"N", "3", "6", "6"});
  b.input("residual", kFloat, {"N", "4", "6", "6"});
  std::vector<float> w(4 * 3 * 3 * 3);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::cos(static_cast<float>(i)) * 0.3f;
  b.initializer("w", {4, 3, 3, 3}, w);
  b.initializer("bias", {4}, {0.1f, -0.2f, 0.3f, 0.0f});
  OnnxBuilder::attribute(b.node("Conv", {"x", "w", "bias"}, {"c1"}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c1"}, {"r1"});                        // Conv + Relu: a oneDNN post-op
  OnnxBuilder::attribute(b.node("Conv", {"x", "w"}, {"c2"}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("Add", {"c2", "residual"}, {"sum"});            // Conv + Add + Relu: one pass after the Conv
  b.node("Relu", {"sum"}, {"r2"});
  b.node("Add", {"r1", "r2"}, {"y"});                   // r1 exists before c2: joins its epilogue
  b.output("y");
  expect_fusion_agrees(b, {waves({2, 3, 6, 6}, 0), waves({2, 4, 6, 6}, 5)}, 4);
}

// The graph of `build` with float16 inputs, weights and outputs runs in float32 at each operator
// (kernels/half_as_float.h): it agrees with the float32 graph on the same (half-rounded) values
// to half precision, and the weights are widened once, at load.
TEST(Session, Float16ModelsComputeInFloat32AtEachOperator) {
  constexpr int kHalf = onnx::TensorProto::FLOAT16;
  auto build = [](int type) {
    OnnxBuilder b;
    b.input("x", type, {"N", "3", "6", "6"});
    b.input("residual", type, {"N", "4", "6", "6"});
    std::vector<float> w(4 * 3 * 3 * 3);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(Float16(std::cos(static_cast<float>(i)) * 0.3f));
    onnx::TensorProto& weights = b.initializer("w", {4, 3, 3, 3}, w);
    if (type == onnx::TensorProto::FLOAT16) {  // float16 initializers keep their bits in int32_data
      weights.set_data_type(type);
      weights.clear_float_data();
      for (float v : w) weights.add_int32_data(Float16(v).bits);
    }
    OnnxBuilder::attribute(b.node("Conv", {"x", "w"}, {"c"}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
    b.node("Add", {"c", "residual"}, {"sum"});
    b.node("Relu", {"sum"}, {"r"});
    auto& pool = b.node("MaxPool", {"r"}, {"y"});
    OnnxBuilder::attribute(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
    b.output("y", type);
    return b;
  };
  const std::vector<Tensor> wide{cast(cast(waves({2, 3, 6, 6}, 0), DType::f16), DType::f32),
                                 cast(cast(waves({2, 4, 6, 6}, 5), DType::f16), DType::f32)};
  engine::Session f32 = session_of(build(kFloat));
  engine::Session f16 = session_of(build(kHalf));
  const Tensor want = f32.run(wide)[0];
  const std::vector<Tensor> halves{cast(wide[0], DType::f16), cast(wide[1], DType::f16)};
  const Tensor got = f16.run(halves)[0];
  ASSERT_EQ(got.dtype(), DType::f16);
  ASSERT_EQ(got.shape(), want.shape());
  const Tensor got32 = cast(got, DType::f32);
  // Each intermediate rounded to half once: a few half ulps of the operands' magnitude (about 4).
  for (std::size_t i = 0; i < want.numel(); ++i)
    EXPECT_NEAR(got32.values<float>()[i], want.values<float>()[i], 3 * 0x1p-11f * (std::abs(want.values<float>()[i]) + 8)) << i;
}

// A small ResNet: an image's 3 channels read plain, channel counts that fill no whole block (20),
// a 3x3 stride-1 convolution (Winograd where offered), max pooling, a residual Add + Relu, a
// per-channel constant Add, a plain value with many channels entering the blocked region, a
// blocked value read by a plain operator and a convolution that is a graph output.
OnnxBuilder small_resnet() {
  OnnxBuilder b;
  b.input("image", kFloat, {"N", "3", "20", "20"});  // 10x10 after the pooling: Winograd runs from 8x8
  b.input("side", kFloat, {"N", "20", "10", "10"});
  auto weights = [&](const std::string& name, std::int64_t out, std::int64_t in, std::int64_t k, float phase) {
    std::vector<float> w(static_cast<std::size_t>(out * in * k * k));
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i) * 0.37f + phase) / std::sqrt(float(in * k * k));
    b.initializer(name, {out, in, k, k}, w);
  };
  weights("w1", 20, 3, 3, 0.0f);
  weights("w2", 20, 20, 3, 1.0f);
  weights("w3", 20, 20, 1, 2.0f);
  weights("w4", 20, 20, 3, 3.0f);
  std::vector<float> shift(20);
  for (std::size_t i = 0; i < shift.size(); ++i) shift[i] = 0.05f * static_cast<float>(i) - 0.5f;
  b.initializer("shift", {1, 20, 1, 1}, shift);
  auto conv = [&](const std::string& x, const std::string& w, const std::string& y, std::int64_t pad) {
    OnnxBuilder::attribute(b.node("Conv", {x, w}, {y}), "pads", std::vector<std::int64_t>{pad, pad, pad, pad});
  };
  conv("image", "w1", "c1", 1);
  b.node("Relu", {"c1"}, {"r1"});
  auto& pool = b.node("MaxPool", {"r1"}, {"p1"});
  OnnxBuilder::attribute(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
  OnnxBuilder::attribute(pool, "strides", std::vector<std::int64_t>{2, 2});
  conv("p1", "w2", "c2", 1);                                // 3x3 stride 1
  b.node("Add", {"c2", "shift"}, {"s2"});                   // per-channel constant
  b.node("Relu", {"s2"}, {"r2"});
  conv("r2", "w3", "c3", 0);
  b.node("Add", {"c3", "p1"}, {"sum"});                     // residual
  b.node("Relu", {"sum"}, {"block"});
  conv("side", "w3", "c4", 0);                              // a plain input with 20 channels
  b.node("Add", {"c4", "block"}, {"both"});                 // two blocked values
  conv("both", "w4", "y", 1);                               // a graph output
  b.node("GlobalAveragePool", {"block"}, {"pooled"});        // a plain operator reads a blocked value
  b.output("y");
  b.output("pooled");
  return b;
}

TEST(Session, BlockedLayoutAgreesWithThePlainReference) {
  for (int batch : {1, 3}) {
    for (bool winograd : {false, true}) {
      SCOPED_TRACE(fmt::format("batch {}, winograd {}", batch, winograd));
      const OnnxBuilder b = small_resnet();
      engine::Session blocked(engine::import_onnx_bytes(b.bytes(), "m"), {.threads = 1, .winograd = winograd});
      // Five convolutions and the pooling.
      EXPECT_EQ(blocked.report().blocked_nodes, 6u);
      // Into the region: side; out of it: y and block (for the pooling); the image is read plain.
      EXPECT_EQ(blocked.report().reorders, 3u);
      // The file's order puts c4 after block: the Add of the two joins c4's epilogue.
      expect_fusion_agrees(b, {waves({batch, 3, 20, 20}, 0), waves({batch, 20, 10, 10}, 1)}, 6,
                           {.threads = 1, .winograd = winograd});
    }
  }
}

TEST(Session, WinogradAfterADirectShapeRepacksFromTheBlockedWeights) {
  // 6x6 runs direct (below Winograd's 8x8): the blocked weights become the only copy; 12x12 then
  // needs Winograd's layout, which oneDNN makes from plain weights only, and 6x6 again the blocked.
  OnnxBuilder b;
  b.input("x", kFloat, {"N", "16", "H", "W"});
  std::vector<float> w(16 * 16 * 9);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i) * 0.37f) / 12.0f;
  b.initializer("w", {16, 16, 3, 3}, w);
  OnnxBuilder::attribute(b.node("Conv", {"x", "w"}, {"c"}), "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c"}, {"y"});
  b.output("y");
  engine::Session optimized(engine::import_onnx_bytes(b.bytes(), "m"), {.threads = 1, .poison_storage = true});
  engine::Session plain(engine::import_onnx_bytes(b.bytes(), "m"), kReference);
  for (std::int64_t hw : {6, 12, 6, 12}) {
    SCOPED_TRACE(hw);
    const std::vector<Tensor> in{waves({2, 16, hw, hw}, 0)};
    const auto got = optimized.run(in), want = plain.run(in);
    EXPECT_LE(testing::max_abs_difference(got[0].values<float>(), want[0].values<float>()), 1e-4);
  }
}

TEST(Session, RunsOfASeenBindingTakeTheirIntermediatesFromTheArena) {
  const OnnxBuilder b = small_resnet();
  engine::Session s(engine::import_onnx_bytes(b.bytes(), "m"), {.threads = 1, .poison_storage = true});
  auto run = [&](std::int64_t batch) { return s.run(std::vector<Tensor>{waves({batch, 3, 20, 20}, 0), waves({batch, 20, 10, 10}, 1)}); };
  std::vector<Tensor> first = run(2);  // recorded
  const auto recorded = s.memory_stats();
  EXPECT_EQ(recorded.recorded_runs, 1u);
  EXPECT_GT(recorded.pool.heap_allocations, 3u);
  std::vector<Tensor> second = run(2);  // planned; the first run's outputs are still held
  const auto planned = s.memory_stats();
  EXPECT_EQ(planned.planned_runs, 1u);
  EXPECT_EQ(planned.arena_allocations, 1u);
  EXPECT_GT(planned.arena_bytes, 0u);
  // Only the two outputs the caller still holds need new blocks.
  EXPECT_LE(planned.pool.heap_allocations, recorded.pool.heap_allocations + 2);
  for (std::size_t k = 0; k < first.size(); ++k) {  // held outputs are not overwritten, and agree
    EXPECT_NE(first[k].data(), second[k].data());
    EXPECT_EQ(testing::max_abs_difference(first[k].values<float>(), second[k].values<float>()), 0.0);
  }
  std::vector<Tensor> third = run(2);  // outputs of a planned run survive the next planned run
  std::vector<Tensor> fourth = run(2);
  for (std::size_t k = 0; k < third.size(); ++k) {
    EXPECT_NE(third[k].data(), fourth[k].data());
    EXPECT_EQ(testing::max_abs_difference(first[k].values<float>(), third[k].values<float>()), 0.0);
  }
  first.clear();
  second.clear();
  third.clear();
  fourth.clear();
  const auto released = s.memory_stats();
  run(2);
  EXPECT_EQ(s.memory_stats().pool.heap_allocations, released.pool.heap_allocations);  // nothing from the heap
  EXPECT_EQ(s.memory_stats().arena_allocations, 1u);
  // The residual Add fused into c3's convolution sums into p1's place.
  EXPECT_GE(s.memory_stats().last_in_place, 1u);
  // Another binding is recorded, then planned; the arena grows to the larger plan once.
  run(5);
  EXPECT_EQ(s.memory_stats().recorded_runs, 2u);
  const std::vector<Tensor> five = run(5);
  EXPECT_EQ(s.memory_stats().arena_allocations, 2u);
  EXPECT_GT(s.memory_stats().last_plan_bytes, released.last_plan_bytes);
  run(2);
  EXPECT_EQ(s.memory_stats().arena_allocations, 2u);
  EXPECT_EQ(s.memory_stats().planned_runs, 6u);
}

TEST(Session, ElementwiseOutputsTakeThePlaceOfTheInputTheyOverwrite) {
  OnnxBuilder b;
  b.input("x", kFloat, {"n", "5"});
  b.input("y", kFloat, {"n", "5"});
  b.initializer("row", {5}, {1, -2, 3, -4, 5});
  b.node("Mul", {"x", "y"}, {"p"});
  b.node("Add", {"p", "row"}, {"q"});   // over p
  b.node("Relu", {"q"}, {"r"});          // over q
  b.node("Sub", {"r", "x"}, {"d"});      // over r (x is an input of the run, not ours)
  b.node("Tanh", {"d"}, {"out"});        // over d: the run's result, so that block never comes from the arena
  b.output("out");
  engine::Session s(engine::import_onnx_bytes(b.bytes(), "m"), {.threads = 1, .fuse = false, .poison_storage = true});
  const std::vector<Tensor> in{waves({3, 5}, 0), waves({3, 5}, 1)};
  const std::vector<Tensor> recorded = s.run(in);
  const std::vector<Tensor> planned = s.run(in);
  // Mul's block becomes Add's, Relu's, Sub's and Tanh's.
  EXPECT_EQ(s.memory_stats().last_in_place, 4u);
  EXPECT_EQ(testing::max_abs_difference(recorded[0].values<float>(), planned[0].values<float>()), 0.0);
  const auto x = in[0].values<float>(), y = in[1].values<float>(), out = planned[0].values<float>();
  const float row[5] = {1, -2, 3, -4, 5};
  for (std::size_t i = 0; i < out.size(); ++i)
    EXPECT_FLOAT_EQ(out[i], std::tanh(std::max(x[i] * y[i] + row[i % 5], 0.0f) - x[i])) << i;
}

TEST(Session, AnInputSharedWithAViewIsNotOverwritten) {
  OnnxBuilder b;
  b.input("x", kFloat, {"2", "6"});
  b.int_initializer("shape", {2}, {3, 4});
  b.node("Mul", {"x", "x"}, {"p"});
  b.node("Reshape", {"p", "shape"}, {"view"});  // the same block as p
  b.node("Neg", {"p"}, {"n"});                   // p dies here, but view still holds its block
  b.node("Neg", {"x"}, {"m"});                   // x is the caller's
  b.output("view");
  b.output("n");
  b.output("m");
  engine::Session s(engine::import_onnx_bytes(b.bytes(), "m"), {.threads = 1, .fuse = false, .poison_storage = true});
  const Tensor x = waves({2, 6}, 0);
  const std::vector<float> before(x.values<float>().begin(), x.values<float>().end());
  for (int run = 0; run < 2; ++run) {
    const auto out = s.run(std::vector<Tensor>{x});
    EXPECT_EQ(s.memory_stats().last_in_place, 0u);
    for (std::size_t i = 0; i < 12; ++i) {
      EXPECT_FLOAT_EQ(out[0].values<float>()[i], before[i] * before[i]);
      EXPECT_FLOAT_EQ(out[1].values<float>()[i], -before[i] * before[i]);
      EXPECT_FLOAT_EQ(out[2].values<float>()[i], -before[i]);
      EXPECT_EQ(x.values<float>()[i], before[i]);
    }
  }
}

TEST(Session, FusesMatMulBiasGeluAndResidualAsBertDoes) {
  OnnxBuilder b;
  b.input("x", kFloat, {"batch", "sequence", "4"});
  b.input("residual", kFloat, {"batch", "sequence", "6"});
  std::vector<float> w(4 * 6);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i)) * 0.8f;
  b.initializer("W", {4, 6}, w);
  b.initializer("bias", {6}, {0.5f, -0.5f, 0.25f, 0, 1, -1});
  b.initializer("sqrt2", {}, {1.4142135f});
  b.initializer("one", {}, {1.0f});
  b.initializer("half", {}, {0.5f});
  b.initializer("W2", {6, 6}, std::vector<float>(36, 0.1f));
  b.node("MatMul", {"x", "W"}, {"xw"});
  b.node("Add", {"bias", "xw"}, {"h"});                  // bias first, as torch exports it
  b.node("Div", {"h", "sqrt2"}, {"d"});
  b.node("Erf", {"d"}, {"e"});
  b.node("Add", {"e", "one"}, {"e1"});
  b.node("Mul", {"h", "e1"}, {"m"});
  b.node("Mul", {"m", "half"}, {"gelu"});
  b.node("MatMul", {"gelu", "W2"}, {"g2"});
  b.node("Add", {"g2", "residual"}, {"y"});              // a residual: after the product, in one pass
  b.output("y");
  b.output("h");                                         // a graph output mid-chain stops fusion there
  expect_fusion_agrees(b, {waves({2, 3, 4}, 1), waves({2, 3, 6}, 2)}, 2);

  OnnxBuilder hidden = b;
  hidden.model().mutable_graph()->mutable_output()->DeleteSubrange(1, 1);  // only y: bias, Gelu and residual fuse
  expect_fusion_agrees(hidden, {waves({2, 3, 4}, 1), waves({2, 3, 6}, 2)}, 7);
}

TEST(Session, FusesAttentionScaleAndMask) {
  // scores = Q K^T / 8 + mask, softmax: BERT's attention, batched over heads.
  OnnxBuilder b;
  b.input("q", kFloat, {"batch", "2", "sequence", "4"});
  b.input("kt", kFloat, {"batch", "2", "4", "sequence"});
  b.input("mask", kFloat, {"batch", "1", "1", "sequence"});
  b.initializer("eight", {}, {8.0f});
  b.node("MatMul", {"q", "kt"}, {"s"});
  b.node("Div", {"s", "eight"}, {"scaled"});
  b.node("Add", {"scaled", "mask"}, {"masked"});
  OnnxBuilder::attribute(b.node("Softmax", {"masked"}, {"p"}), "axis", std::int64_t{-1});
  b.output("p");
  expect_fusion_agrees(b, {waves({3, 2, 5, 4}, 0), waves({3, 2, 4, 5}, 1), waves({3, 1, 1, 5}, 2)}, 2);
}

TEST(Session, FusedAddThatBroadcastsToALargerShapeStillAgrees) {
  OnnxBuilder b;
  b.input("x", kFloat, {"1", "3"});
  b.input("other", kFloat, {"5", "2"});
  b.initializer("W", {3, 2}, {1, 2, 3, 4, 5, 6});
  b.node("MatMul", {"x", "W"}, {"xw"});
  b.node("Add", {"xw", "other"}, {"y"});                 // 1x2 + 5x2 -> 5x2
  b.node("Relu", {"y"}, {"z"});
  b.output("z");
  expect_fusion_agrees(b, {waves({1, 3}, 0), waves({5, 2}, 3)}, 2);
}

TEST(Session, OneElementFactorOfHigherRankIsNotFusedAsAScalar) {
  // [2,3] * [1,1,1] is [1,2,3]: fusing the factor as a scalar would drop the leading dimension.
  OnnxBuilder b;
  b.input("x", kFloat, {"2", "4"});
  b.initializer("W", {4, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  b.initializer("factor", {1, 1, 1}, {0.5f});
  b.initializer("two", {1}, {2.0f});
  b.node("MatMul", {"x", "W"}, {"xw"});
  b.node("Mul", {"xw", "two"}, {"doubled"});            // rank 1 <= the output's rank 2: fused
  b.node("Mul", {"doubled", "factor"}, {"y"});          // rank 3 > 2: stays a Mul
  b.output("y");
  expect_fusion_agrees(b, {waves({2, 4}, 0)}, 1);
  engine::Session fused(engine::import_onnx_bytes(b.bytes(), "m"), {1, true});
  EXPECT_EQ(fused.run(std::vector<Tensor>{waves({2, 4}, 0)})[0].shape(), (Shape{1, 2, 3}));
}

TEST(Session, ProfilesEveryNode) {
  for (bool fuse : {false, true}) {
    SCOPED_TRACE(fuse ? "fused" : "unfused");
    engine::Session s(engine::import_onnx_bytes(linear_model().bytes(), "m"), {1, fuse});
    engine::Profile profile;
    for (int i = 0; i < 3; ++i) s.run(std::vector<Tensor>{floats({2, 4, 3})}, &profile);
    EXPECT_EQ(profile.runs, 3u);
    ASSERT_EQ(profile.nodes.size(), fuse ? 1u : 2u);
    EXPECT_EQ(profile.nodes[0].op_type, fuse ? "MatMul+Add" : "MatMul");  // fused steps are named
    EXPECT_EQ(profile.nodes.back().calls, 3u);
    const auto summary = engine::summarize_profile(profile);
    double shares = 0;
    for (const auto& t : summary.op_types) shares += t.share;
    EXPECT_NEAR(shares, 1.0, 1e-9);
  }
}

}  // namespace
}  // namespace cpuinfer

// int8 in the engine: quantized models' patterns on int8 kernels against the reference kernels
// (kernels/quantization.cpp, every ONNX node on its own) on the same inputs.
// Dynamic int8 Linear layers (passes/dynamic_int8.h) on small BERT encoders whose Linear layers
// are written as ONNX Runtime's quantize_dynamic writes them. Without padding both paths quantize
// the same rows with the same scale, so they differ only in the order of float32 sums: tolerance
// max |int8 kernels - reference| <= 1e-4 * max(1, max |reference|).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>

#include "core/error.h"
#include "engine/isa.h"
#include "engine/onnx/import.h"
#include "engine/session.h"
#include "engine/tiny_bert.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

using test::Config;
using test::TinyBert;

// Packing off: it computes the last layer for first tokens only, which the int8 kernels would then
// quantize with a scale of their own.
engine::Session tiny_bert_session(const Config& c, bool int8_kernels) {
  engine::SessionOptions o;
  o.threads = 2;
  o.int8 = int8_kernels;
  o.fuse = int8_kernels;
  o.pack_tokens = false;
  return engine::Session(engine::import_onnx_bytes(TinyBert(c).bytes(), "tiny-bert-int8"), o);
}

double tolerance(const Tensor& reference, double relative) {
  double scale = 1.0;
  for (float v : reference.values<float>()) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  return relative * scale;
}

TEST(DynamicInt8, LinearLayersRunAsInt8ProductsAndMatchTheReferenceKernels) {
  for (const auto& [hidden, heads, layers] : {std::tuple{16, 2, 1}, std::tuple{32, 4, 2}, std::tuple{64, 8, 1}}) {
    Config c(hidden, heads, layers, 17);
    c.int8 = true;
    c.int8_weight_limit = engine::exact_int8_weight_limit();
    engine::Session fast = tiny_bert_session(c, true), reference = tiny_bert_session(c, false);
    // Q, K, V, the output projection and the two feed-forward layers of every layer.
    EXPECT_EQ(fast.report().int8_nodes, static_cast<std::size_t>(6 * layers)) << c.label();
    EXPECT_EQ(fast.report().attention_nodes, static_cast<std::size_t>(layers)) << c.label();
    EXPECT_TRUE(fast.operators_run().empty() || !fast.operators_run().count("MatMulInteger")) << c.label();
    // 65 rows: two blocks of 32 and one padded row (kernels/matmul.cpp's row blocks).
    const std::vector<Tensor> inputs = {test::hidden_states(5, 13, hidden, 5), test::right_padded({13, 13, 13, 13, 13}, 13)};
    const Tensor want = reference.run(inputs).at(0), got = fast.run(inputs).at(0);
    ASSERT_EQ(got.shape(), want.shape()) << c.label();
    EXPECT_LE(testing::max_abs_difference(got.values<float>(), want.values<float>()), tolerance(want, 1e-4)) << c.label();
    EXPECT_TRUE(reference.operators_run().count("MatMulInteger")) << c.label();
    EXPECT_TRUE(fast.operators_run().count("MatMulInteger")) << c.label() << ": the int8 product says what it computes";
  }
}

// Float products by constant weights run in row blocks of 256 and 32, the rest padded: 300 rows
// (256 + 32 + 12) with the residual Add and GELU as post-ops against every node on its own.
TEST(RowBlocks, AProductInBlocksEqualsTheWholeProduct) {
  Config c(32, 4, 2, 17);
  engine::SessionOptions o;
  o.threads = 2;
  o.pack_tokens = false;
  engine::Session blocked(engine::import_onnx_bytes(TinyBert(c).bytes(), "tiny-bert"), o);
  o.fuse = false;
  engine::Session reference(engine::import_onnx_bytes(TinyBert(c).bytes(), "tiny-bert"), o);
  const std::vector<Tensor> inputs = {test::hidden_states(4, 75, 32, 3), test::right_padded({75, 75, 75, 75}, 75)};
  const Tensor want = reference.run(inputs).at(0), got = blocked.run(inputs).at(0);
  EXPECT_LE(testing::max_abs_difference(got.values<float>(), want.values<float>()), tolerance(want, 1e-5));
}

// Weights of 8 bits where oneDNN's products are exact only to 7 (no VNNI) stay on the reference kernels.
TEST(DynamicInt8, WeightsBeyondTheExactLimitStayOnTheReferenceKernels) {
  Config c(16, 2, 1, 17);
  c.int8 = true;
  c.int8_weight_limit = 127;
  const engine::Session s = tiny_bert_session(c, true);
  EXPECT_EQ(s.report().int8_nodes, engine::exact_int8_weight_limit() == 127 ? 6u : 0u) << engine::engine_isa_description();
}

// Padded batches, packed: the int8 kernels quantize the real tokens only (ONNX Runtime every padded
// row); the result stays within int8's error of the float model, 5e-2 x max(1, max |float|).
TEST(DynamicInt8, PaddedBatchesStayWithinInt8ErrorOfTheFloatModel) {
  Config c(32, 4, 2, 17);
  Config f = c;
  c.int8 = true;
  c.int8_weight_limit = engine::exact_int8_weight_limit();
  engine::SessionOptions o;
  o.threads = 2;
  engine::Session fast(engine::import_onnx_bytes(TinyBert(c).bytes(), "tiny-bert-int8"), o);
  EXPECT_TRUE(fast.report().packed_tokens);
  engine::Session float_model(engine::import_onnx_bytes(TinyBert(f).bytes(), "tiny-bert"), o);
  const std::vector<Tensor> inputs = {test::hidden_states(4, 11, 32, 9), test::right_padded({11, 3, 7, 1}, 11)};
  const Tensor want = float_model.run(inputs).at(0), got = fast.run(inputs).at(0);
  EXPECT_LE(testing::max_abs_difference(got.values<float>(), want.values<float>()), tolerance(want, 5e-2));
}


// Static int8 regions (passes/int8_regions.h) on a small CNN in ONNX Runtime's QDQ form: a
// convolution with a folded Relu (zero point 0), one without, a residual Add with a Relu (merged
// into the convolution before it; or, where a second output reads that convolution too, on its
// own kernel), a max pooling whose output has a scale of its own, a grouped 1x1 convolution, global
// average pooling after the region. The reference computes in float32 between QuantizeLinear and
// DequantizeLinear, the int8 kernels in int32 sums: a sum lying near a rounding boundary may land
// one step apart and move what follows by a step or two. Tolerance: 3 steps of the last
// quantization (max |int8 kernels - reference| <= 3 x its scale).
class QdqCnn {
 public:
  static constexpr float kLastScale = 0.05f;

  QdqCnn(unsigned seed, bool conv_read_twice) : random_(seed) {
    b_.input("x", test::kFloat, {"batch", "3", "8", "8"});
    quantize("x", "x", 0.02f, 128);
    conv("x_dq", "c1", 3, 8, 3, 1, 0.03f, 0, 1);         // Conv + folded Relu
    conv("c1_dq", "c2", 8, 8, 3, 1, 0.04f, 120, 1);      // no Relu: zero point 120
    b_.node("Add", {"c2_dq", "c1_dq"}, {"sum"});
    b_.node("Relu", {"sum"}, {"sum_relu"});
    quantize("sum_relu", "s", 0.05f, 0);
    auto& pool = b_.node("MaxPool", {"s_dq"}, {"pooled"});
    test::OnnxBuilder::attribute(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
    test::OnnxBuilder::attribute(pool, "strides", std::vector<std::int64_t>{2, 2});
    quantize("pooled", "p", 0.045f, 0);                  // a scale of its own: requantized
    conv("p_dq", "c3", 8, 4, 1, 2, kLastScale, 100, 1);  // grouped 1x1
    b_.node("GlobalAveragePool", {"c3_dq"}, {"y"});
    b_.output("y");
    if (conv_read_twice) {
      b_.node("GlobalAveragePool", {"c2_dq"}, {"y2"});
      b_.output("y2");
    }
  }
  std::string bytes() const { return b_.bytes(); }

 private:
  void quantize(const std::string& x, const std::string& name, float scale, std::uint8_t zero) {
    b_.initializer(name + "_scale", {}, {scale});
    b_.raw_initializer(name + "_zero", {}, onnx::TensorProto::UINT8, std::string(1, static_cast<char>(zero)));
    b_.node("QuantizeLinear", {x, name + "_scale", name + "_zero"}, {name + "_q"});
    b_.node("DequantizeLinear", {name + "_q", name + "_scale", name + "_zero"}, {name + "_dq"});
  }

  // x -> Conv(int8 weights per map, int32 bias) -> QDQ(scale, zero) as `name`_dq.
  void conv(const std::string& x, const std::string& name, std::int64_t in, std::int64_t maps, std::int64_t k, std::int64_t group,
            float scale, std::uint8_t zero, float x_scale) {
    (void)x_scale;
    const int limit = engine::exact_int8_weight_limit();
    std::uniform_int_distribution<int> weight(-limit, limit), bias(-300, 300);
    std::uniform_real_distribution<float> w_scale(0.002f, 0.01f);
    const std::int64_t per_map = in / group * k * k;
    std::string w(static_cast<std::size_t>(maps * per_map), '\0');
    for (char& c : w) c = static_cast<char>(static_cast<std::int8_t>(weight(random_)));
    std::vector<float> scales(static_cast<std::size_t>(maps)), bias_scales;
    for (float& s : scales) s = w_scale(random_);
    std::string b(static_cast<std::size_t>(maps) * 4, '\0');
    for (std::int64_t m = 0; m < maps; ++m) {
      const std::int32_t v = bias(random_);
      std::memcpy(b.data() + m * 4, &v, 4);
      bias_scales.push_back(scales[static_cast<std::size_t>(m)] * 0.02f);
    }
    b_.raw_initializer(name + "_w", {maps, in / group, k, k}, onnx::TensorProto::INT8, w);
    b_.initializer(name + "_w_scale", {maps}, scales);
    b_.raw_initializer(name + "_w_zero", {maps}, onnx::TensorProto::INT8, std::string(static_cast<std::size_t>(maps), '\0'));
    auto& dqw = b_.node("DequantizeLinear", {name + "_w", name + "_w_scale", name + "_w_zero"}, {name + "_wf"});
    test::OnnxBuilder::attribute(dqw, "axis", std::int64_t{0});
    b_.raw_initializer(name + "_b", {maps}, onnx::TensorProto::INT32, b);
    b_.initializer(name + "_b_scale", {maps}, bias_scales);
    auto& dqb = b_.node("DequantizeLinear", {name + "_b", name + "_b_scale"}, {name + "_bf"});
    test::OnnxBuilder::attribute(dqb, "axis", std::int64_t{0});
    auto& c = b_.node("Conv", {x, name + "_wf", name + "_bf"}, {name + "_out"});
    test::OnnxBuilder::attribute(c, "pads", std::vector<std::int64_t>(4, k / 2));
    test::OnnxBuilder::attribute(c, "group", group);
    quantize(name + "_out", name, scale, zero);
  }

  test::OnnxBuilder b_;
  std::mt19937 random_;
};

Tensor images(std::int64_t batch, unsigned seed) {
  Tensor t(DType::f32, {batch, 3, 8, 8});
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> u(-2.5f, 2.5f);
  for (float& v : t.values<float>()) v = u(random);
  return t;
}

TEST(Int8Regions, QdqConvolutionsRunOnInt8KernelsAndMatchTheReferenceKernels) {
  for (const auto& [seed, twice] : {std::pair{1u, false}, std::pair{2u, false}, std::pair{3u, true}, std::pair{4u, true}}) {
    engine::SessionOptions o;
    o.threads = 2;
    engine::Session fast(engine::import_onnx_bytes(QdqCnn(seed, twice).bytes(), "qdq-cnn"), o);
    o.int8 = false;
    engine::Session reference(engine::import_onnx_bytes(QdqCnn(seed, twice).bytes(), "qdq-cnn"), o);
    EXPECT_EQ(fast.report().int8_nodes, 5u) << "three Conv, the Add, the MaxPool";
    EXPECT_EQ(reference.report().int8_nodes, 0u);
    for (std::int64_t batch : {1, 3}) {
      const std::vector<Tensor> inputs = {images(batch, seed * 10 + static_cast<unsigned>(batch))};
      const Tensor want = reference.run(inputs).at(0), got = fast.run(inputs).at(0);
      ASSERT_EQ(got.shape(), want.shape());
      if (twice) {
        const Tensor want2 = reference.run(inputs).at(1), got2 = fast.run(inputs).at(1);
        EXPECT_LE(testing::max_abs_difference(got2.values<float>(), want2.values<float>()), 3 * 0.04f);
      }
      const auto [lo, hi] = std::ranges::minmax(want.values<float>());
      EXPECT_GT(hi - lo, 20 * QdqCnn::kLastScale) << "the outputs must vary for the comparison to mean something";
      EXPECT_LE(testing::max_abs_difference(got.values<float>(), want.values<float>()), 3 * QdqCnn::kLastScale)
          << "seed " << seed << " batch " << batch;
    }
    for (const char* op : {"QuantizeLinear", "DequantizeLinear", "Conv", "Add", "Relu", "MaxPool"})
      EXPECT_TRUE(fast.operators_run().count(op)) << op;
  }
}

// A broken QDQ model is an error naming the node and the culprit, at load (constants) or at the
// first run (activations): a zero or negative scale, per-channel scales of the wrong length, a
// zero point of another type than its data or a non-zero one for int32 data.
TEST(QdqModels, BrokenQuantizationParametersAreOneLineErrors) {
  struct Case {
    const char* what;
    std::function<void(test::OnnxBuilder&)> build;
    const char* message;
  };
  auto scalar_u8 = [](test::OnnxBuilder& b, const std::string& name, std::uint8_t v) {
    b.raw_initializer(name, {}, onnx::TensorProto::UINT8, std::string(1, static_cast<char>(v)));
  };
  const std::vector<Case> cases = {
      {"zero scale",
       [&](test::OnnxBuilder& b) {
         b.initializer("s", {}, {0.0f});
         scalar_u8(b, "z", 0);
         b.node("QuantizeLinear", {"x", "s", "z"}, {"q"});
         b.node("DequantizeLinear", {"q", "s", "z"}, {"y"});
       },
       "y_scale 0 is not a positive number"},
      {"per-channel scales of the wrong length",
       [&](test::OnnxBuilder& b) {
         b.raw_initializer("w", {4, 4, 1, 1}, onnx::TensorProto::INT8, std::string(16, '\1'));
         b.initializer("ws", {3}, {1.0f, 1.0f, 1.0f});
         auto& dq = b.node("DequantizeLinear", {"w", "ws"}, {"wf"});
         test::OnnxBuilder::attribute(dq, "axis", std::int64_t{0});
         b.node("Conv", {"x", "wf"}, {"y"});
       },
       "x_scale has 3 values, x has 4 along axis 0"},
      {"zero point of another type",
       [&](test::OnnxBuilder& b) {
         b.initializer("s", {}, {0.1f});
         scalar_u8(b, "z", 0);
         b.raw_initializer("z8", {}, onnx::TensorProto::INT8, std::string(1, '\3'));
         b.node("QuantizeLinear", {"x", "s", "z"}, {"q"});
         b.node("DequantizeLinear", {"q", "s", "z8"}, {"y"});
       },
       "x_zero_point is int8, x is uint8"},
      {"non-zero zero point of int32 data",
       [&](test::OnnxBuilder& b) {
         std::string bias(16, '\0');
         b.raw_initializer("b", {4}, onnx::TensorProto::INT32, bias);
         b.initializer("bs", {}, {0.1f});
         b.raw_initializer("bz", {}, onnx::TensorProto::INT32, std::string("\5\0\0\0", 4));
         b.node("DequantizeLinear", {"b", "bs", "bz"}, {"bf"});
         b.node("Add", {"x", "bf"}, {"y"});
       },
       "x_zero_point of an int32 x must be 0, got 5"},
  };
  for (const Case& c : cases) {
    test::OnnxBuilder b;
    b.input("x", test::kFloat, {"1", "4", "2", "2"});
    c.build(b);
    b.output("y");
    std::string message;
    try {
      engine::SessionOptions o;
      engine::Session s(engine::import_onnx_bytes(b.bytes(), "broken-qdq"), o);
      Tensor x(DType::f32, {1, 4, 2, 2});
      s.run(std::vector<Tensor>{x});
    } catch (const Error& e) {
      message = e.what();
    }
    EXPECT_THAT(message, ::testing::HasSubstr(c.message)) << c.what;
    EXPECT_EQ(message.find('\n'), std::string::npos) << c.what;
  }
}

// The int8 passes look at every node before any kernel checks it: a node without its inputs (the
// fuzzer's find: a MaxPool with none) is left to the kernel's own error, read by no pattern.
TEST(Int8Regions, ANodeWithoutInputsIsAnErrorOfItsOwn) {
  test::OnnxBuilder b;
  b.input("x", test::kFloat, {"1", "1", "4", "4"});
  auto& pool = b.node("MaxPool", {}, {"y"});
  test::OnnxBuilder::attribute(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
  b.output("y");
  EXPECT_THROW(
      {
        engine::Session s(engine::import_onnx_bytes(b.bytes(), "no-inputs"), engine::SessionOptions{});
        s.run(std::vector<Tensor>{Tensor(DType::f32, {1, 1, 4, 4})});
      },
      Error);
}

}  // namespace
}  // namespace cpuinfer

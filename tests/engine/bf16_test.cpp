// bfloat16 compute (passes/bf16_compute.h) against float32 on the same inputs: a small BERT
// encoder's products (its Linear layers and fused attention's projection and head products), and a small CNN whose blocked convolutions keep their activations in
// bfloat16 between them. Tolerance: bfloat16's 8 significant bits over a few layers,
// max |bf16 - f32| <= 2e-2 (BERT), 3e-2 (CNN) x max(1, max |f32|). Skipped, saying why, where the CPU
// lacks AVX512_BF16.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "engine/onnx/import.h"
#include "engine/passes/bf16_compute.h"
#include "engine/session.h"
#include "engine/tiny_bert.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

using test::Config;
using test::OnnxBuilder;
using test::TinyBert;
using test::hidden_states;
using test::right_padded;
using ::testing::HasSubstr;

TEST(Bf16Compute, ProductsInBfloat16AgreeToItsPrecision) {
  if (const std::string why = engine::bf16_unsupported_reason(); !why.empty()) GTEST_SKIP() << "unsupported: " << why;
  const Config c{32, 4, 2, 17};
  engine::SessionOptions o;
  o.threads = 2;
  o.bf16 = true;
  engine::Session bf16(engine::import_onnx_bytes(TinyBert(c).bytes(), "tiny-bert"), o);
  engine::SessionOptions f32;
  f32.threads = 2;
  f32.fuse = false;
  engine::Session plain(engine::import_onnx_bytes(TinyBert(c).bytes(), "tiny-bert"), f32);
  EXPECT_EQ(bf16.report().bf16_nodes, 2u * 4u);  // per layer: attention, output, up and down projections
  const Tensor x = hidden_states(3, 9, 32, 9), mask = right_padded({9, 4, 1}, 9);
  const Tensor got = bf16.run(std::vector<Tensor>{x, mask})[0], want = plain.run(std::vector<Tensor>{x, mask})[0];
  double scale = 1.0;
  for (float v : want.values<float>()) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  const double diff = testing::max_abs_difference(got.values<float>(), want.values<float>());
  EXPECT_LE(diff, 2e-2 * scale);
  EXPECT_GT(diff, 0.0);  // bfloat16 really ran
}

TEST(Bf16Compute, ACpuWithoutAvx512Bf16SaysSo) {
  if (engine::bf16_unsupported_reason().empty()) GTEST_SKIP() << "this CPU has AVX512_BF16";
  engine::SessionOptions o;
  o.bf16 = true;
  try {
    engine::Session s(engine::import_onnx_bytes(TinyBert({16, 2, 1, 17}).bytes(), "tiny-bert"), o);
    ADD_FAILURE() << "a bf16 session loaded";
  } catch (const Unsupported& e) {
    EXPECT_THAT(e.what(), HasSubstr("AVX512_BF16"));
  }
}

// Conv+Relu, Conv + residual Add + Relu, MaxPool, a 1x1 Conv+Relu, GlobalAveragePool: every
// convolution blocked (16 channels), each output read only by bfloat16 consumers (the next
// convolution, the pooling, the ToPlain before the global pooling).
std::string small_cnn() {
  OnnxBuilder b;
  std::mt19937 random(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto weights = [&](const std::string& name, std::vector<std::int64_t> dims) {
    std::int64_t n = 1, fan_in = dims[1] * dims[2] * dims[3];
    for (auto d : dims) n *= d;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = normal(random) * std::sqrt(2.0f / static_cast<float>(fan_in));
    b.initializer(name, dims, v);
    return name;
  };
  auto conv = [&](const std::string& x, const std::string& out, std::int64_t in, std::int64_t maps, std::int64_t k) {
    auto& n = b.node("Conv", {x, weights(out + "_w", {maps, in, k, k})}, {out});
    OnnxBuilder::attribute(n, "pads", std::vector<std::int64_t>(4, k / 2));
  };
  b.input("x", test::kFloat, {"batch", "16", "8", "8"});
  conv("x", "c1", 16, 16, 3);
  b.node("Relu", {"c1"}, {"r1"});
  conv("r1", "c2", 16, 16, 3);
  b.node("Add", {"c2", "r1"}, {"sum"});
  b.node("Relu", {"sum"}, {"r2"});
  auto& pool = b.node("MaxPool", {"r2"}, {"p"});
  OnnxBuilder::attribute(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
  OnnxBuilder::attribute(pool, "strides", std::vector<std::int64_t>{2, 2});
  conv("p", "c3", 16, 32, 1);
  b.node("Relu", {"c3"}, {"r3"});
  b.node("GlobalAveragePool", {"r3"}, {"y"});
  b.output("y");
  return b.bytes();
}

TEST(Bf16Compute, ConvolutionsKeepBfloat16ActivationsBetweenThem) {
  if (const std::string why = engine::bf16_unsupported_reason(); !why.empty()) GTEST_SKIP() << "unsupported: " << why;
  engine::SessionOptions o;
  o.threads = 2;
  engine::Session f32(engine::import_onnx_bytes(small_cnn(), "small-cnn"), o);
  o.bf16 = true;
  engine::Session bf16(engine::import_onnx_bytes(small_cnn(), "small-cnn"), o);
  EXPECT_EQ(bf16.report().bf16_nodes, 3u);
  EXPECT_EQ(bf16.report().bf16_outputs, 3u);
  for (std::int64_t batch : {1, 3}) {
    Tensor x(DType::f32, {batch, 16, 8, 8});
    std::mt19937 random(static_cast<unsigned>(batch));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x.values<float>()) v = normal(random);
    const Tensor want = f32.run(std::vector<Tensor>{x})[0], got = bf16.run(std::vector<Tensor>{x})[0];
    ASSERT_EQ(got.dtype(), DType::f32);
    ASSERT_EQ(got.shape(), want.shape());
    double scale = 1.0;
    for (float v : want.values<float>()) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    const double diff = testing::max_abs_difference(got.values<float>(), want.values<float>());
    EXPECT_LE(diff, 3e-2 * scale) << "batch " << batch;
    EXPECT_GT(diff, 0.0);
  }
}

}  // namespace
}  // namespace cpuinfer

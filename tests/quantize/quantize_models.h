// Small models and seeded data for the quantizer's tests, built in memory (engine/onnx_builder.h):
// a CNN with every operator static quantization covers, and a Linear layer as BERT exports it.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/onnx_builder.h"

namespace cpuinfer::test {

inline std::vector<float> seeded_values(std::size_t n, std::uint32_t seed, float stddev) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline Tensor seeded_tensor(const Shape& shape, std::uint32_t seed, float stddev = 1.0f) {
  Tensor t(DType::f32, shape);
  const auto v = seeded_values(t.numel(), seed, stddev);
  std::ranges::copy(v, t.values<float>().begin());
  return t;
}

// image [N, 3, 8, 8] -> Conv(8, 3x3, pad 1) + Relu -> Conv(8, 3x3, pad 1) -> Add(residual) -> Relu
// -> MaxPool(2x2) -> GlobalAveragePool -> Flatten -> Gemm(transB=1) -> logits [N, 5]. The second
// Conv's weight is read through an Identity, as torch 1.13 exports deduplicated weights.
inline OnnxBuilder tiny_cnn(std::int64_t opset = 17) {
  constexpr int kFloat = onnx::TensorProto::FLOAT;
  OnnxBuilder b(opset);
  b.input("image", kFloat, {"N", "3", "8", "8"});
  b.initializer("w1", {8, 3, 3, 3}, seeded_values(8 * 3 * 3 * 3, 1, 0.3f));
  b.initializer("b1", {8}, seeded_values(8, 2, 0.1f));
  b.initializer("w2_stored", {8, 8, 3, 3}, seeded_values(8 * 8 * 3 * 3, 3, 0.15f));
  b.initializer("b2", {8}, seeded_values(8, 4, 0.1f));
  b.initializer("fc", {5, 8}, seeded_values(5 * 8, 5, 0.5f));
  b.initializer("fc_bias", {5}, seeded_values(5, 6, 0.1f));
  const std::vector<std::int64_t> pads{1, 1, 1, 1};
  OnnxBuilder::attribute(b.node("Conv", {"image", "w1", "b1"}, {"c1"}, "conv1"), "pads", pads);
  b.node("Relu", {"c1"}, {"r1"}, "relu1");
  b.node("Identity", {"w2_stored"}, {"w2"}, "w2_identity");
  OnnxBuilder::attribute(b.node("Conv", {"r1", "w2", "b2"}, {"c2"}, "conv2"), "pads", pads);
  b.node("Add", {"c2", "r1"}, {"sum"}, "residual");
  b.node("Relu", {"sum"}, {"r2"}, "relu2");
  auto& pool = b.node("MaxPool", {"r2"}, {"pooled"}, "maxpool");
  OnnxBuilder::attribute(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
  OnnxBuilder::attribute(pool, "strides", std::vector<std::int64_t>{2, 2});
  b.node("GlobalAveragePool", {"pooled"}, {"gap"}, "gap");
  b.node("Flatten", {"gap"}, {"flat"}, "flatten");
  OnnxBuilder::attribute(b.node("Gemm", {"flat", "fc", "fc_bias"}, {"logits"}, "fc"), "transB", std::int64_t{1});
  b.output("logits");
  return b;
}

// x [B, L, 16] @ W [16, 8] + bias -> y: a Linear layer of BERT's shape. With `through_identity`,
// the MatMul reads W through an Identity of the initializer.
inline OnnxBuilder tiny_matmul(bool through_identity) {
  constexpr int kFloat = onnx::TensorProto::FLOAT;
  OnnxBuilder b;
  b.input("x", kFloat, {"B", "L", "16"});
  b.initializer("W", {16, 8}, seeded_values(16 * 8, 7, 0.25f));
  b.initializer("bias", {8}, seeded_values(8, 8, 0.1f));
  std::string weight = "W";
  if (through_identity) {
    b.node("Identity", {"W"}, {"onnx::MatMul_9"}, "Identity_0");
    weight = "onnx::MatMul_9";
  }
  b.node("MatMul", {"x", weight}, {"xw"}, "/dense/MatMul");
  b.node("Add", {"xw", "bias"}, {"y"}, "/dense/Add");
  b.output("y");
  return b;
}

}  // namespace cpuinfer::test

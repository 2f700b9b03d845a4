// The quantizer on small models built in memory: the QDQ and dynamic forms it writes (node counts,
// folded Relus, int8 per-channel weights, int32 biases), outputs close to float32 on the native
// engine, ONNX Runtime loading, fusing and running every model written and agreeing with the native
// engine, and one-line errors naming the culprit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>
#include <onnxruntime_cxx_api.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "core/error.h"
#include "engine/session.h"
#include "engine/isa.h"
#include "quantize/graph_index.h"
#include "quantize/calibration.h"
#include "quantize/calibration_data.h"
#include "quantize/linear_quantization.h"
#include "quantize/quantize_model.h"
#include "quantize_models.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

using quant::CalibrationMethod;
using quant::QuantizeMode;
using quant::QuantizeOptions;
using test::OnnxBuilder;
using ::testing::HasSubstr;

// The widest int8 weights this CPU's integer kernels, ONNX Runtime's as oneDNN's, multiply exactly
// (7 bits without AVX512_VNNI): the quantized models are compared with ORT.
int exact_weights() { return engine::exact_int8_weight_limit(); }

// --- helpers: model files, their nodes and initializers, runs on both engines ---

onnx::ModelProto load(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromIstream(&in)) << file;
  return m;
}

std::map<std::string, int> op_counts(const onnx::ModelProto& m) {
  std::map<std::string, int> counts;
  for (const auto& n : m.graph().node()) ++counts[n.op_type()];
  return counts;
}

const onnx::TensorProto* initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return &t;
  return nullptr;
}

const onnx::NodeProto* node_producing(const onnx::ModelProto& m, const std::string& tensor) {
  for (const auto& n : m.graph().node())
    for (const auto& o : n.output())
      if (o == tensor) return &n;
  return nullptr;
}

std::int64_t int_attribute(const onnx::NodeProto& n, const std::string& name, std::int64_t fallback) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return fallback;
}

// Every node reads only graph inputs, initializers and outputs of nodes before it.
void expect_topological(const onnx::ModelProto& m) {
  std::set<std::string> known;
  for (const auto& v : m.graph().input()) known.insert(v.name());
  for (const auto& t : m.graph().initializer()) known.insert(t.name());
  for (const auto& n : m.graph().node()) {
    for (const auto& i : n.input()) EXPECT_TRUE(i.empty() || known.count(i)) << n.name() << " reads '" << i << "' before it is made";
    for (const auto& o : n.output()) known.insert(o);
  }
}

Shape dims_of(const onnx::TensorProto& t) { return Shape(t.dims().begin(), t.dims().end()); }

// A scalar or vector initializer's values, as raw data holds them.
template <typename T> std::vector<T> raw_values(const onnx::TensorProto& t) {
  std::vector<T> v(t.raw_data().size() / sizeof(T));
  std::memcpy(v.data(), t.raw_data().data(), v.size() * sizeof(T));
  return v;
}

std::vector<Tensor> run_native(const fs::path& model, const std::vector<Tensor>& inputs) {
  auto session = engine::load_onnx_session(model, {.threads = 1});
  return session->run(inputs);
}

Ort::Env& ort_env() {
  static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "cpuinfer_quantize_tests");
  return env;
}

// ONNX Runtime at level ALL, one thread; with `optimized`, ORT writes the graph it optimized there.
std::vector<Tensor> run_ort(const fs::path& model, const std::vector<Tensor>& inputs, const fs::path& optimized = {}) {
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(1);
  options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  if (!optimized.empty()) options.SetOptimizedModelFilePath(optimized.c_str());
  Ort::Session session(ort_env(), model.c_str(), options);
  Ort::AllocatorWithDefaultOptions allocator;
  std::vector<std::string> in_names, out_names;
  for (std::size_t i = 0; i < session.GetInputCount(); ++i) in_names.emplace_back(session.GetInputNameAllocated(i, allocator).get());
  for (std::size_t i = 0; i < session.GetOutputCount(); ++i) out_names.emplace_back(session.GetOutputNameAllocated(i, allocator).get());
  auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<Ort::Value> values;
  for (const Tensor& t : inputs) {
    EXPECT_EQ(t.dtype(), DType::f32);
    values.push_back(Ort::Value::CreateTensor(memory, const_cast<void*>(t.data()), t.nbytes(), t.shape().data(),
                                              t.shape().size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT));
  }
  std::vector<const char*> in_ptrs, out_ptrs;
  for (const auto& n : in_names) in_ptrs.push_back(n.c_str());
  for (const auto& n : out_names) out_ptrs.push_back(n.c_str());
  auto outputs = session.Run(Ort::RunOptions{nullptr}, in_ptrs.data(), values.data(), values.size(), out_ptrs.data(),
                             out_ptrs.size());
  std::vector<Tensor> result;
  for (auto& out : outputs) {
    auto info = out.GetTensorTypeAndShapeInfo();
    EXPECT_EQ(info.GetElementType(), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT);
    Tensor t(DType::f32, info.GetShape());
    std::memcpy(t.data(), out.GetTensorRawData(), t.nbytes());
    result.push_back(std::move(t));
  }
  return result;
}

// max |a - b| relative to max |reference|.
double relative_difference(const Tensor& a, const Tensor& reference) {
  EXPECT_EQ(a.shape(), reference.shape());
  double scale = 0.0;
  for (float v : reference.values<float>()) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  return testing::max_abs_difference(a.values<float>(), reference.values<float>()) / std::max(scale, 1e-30);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

class Quantize : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const OnnxBuilder& b) {
    const fs::path file = tmp_.path() / name;
    std::ofstream(file, std::ios::binary) << b.bytes();
    return file;
  }
  fs::path path(const std::string& name) const { return tmp_.path() / name; }
  // Files in the folder: an error must leave no output and no temporary file behind.
  std::size_t files() const { return static_cast<std::size_t>(std::distance(fs::directory_iterator(tmp_.path()), {})); }

  // Three calibration batches of 4 images, and a held-out batch of 3.
  static std::vector<std::vector<Tensor>> image_batches() {
    std::vector<std::vector<Tensor>> batches;
    for (std::uint32_t b = 0; b < 3; ++b) batches.push_back({test::seeded_tensor({4, 3, 8, 8}, 100 + b)});
    return batches;
  }
  static std::vector<Tensor> held_out_images() { return {test::seeded_tensor({3, 3, 8, 8}, 999)}; }

  testing::TempDir tmp_;
};

// --- the arithmetic ---

TEST(LinearQuantization, ActivationRangeHoldsZeroAndScaleIsNeverZero) {
  auto q = quant::uint8_quantization(-1.0, 3.0);
  EXPECT_FLOAT_EQ(q.scale, 4.0f / 255.0f);
  EXPECT_EQ(q.zero_point, 64);  // round(1 / (4/255)) = round(63.75)
  q = quant::uint8_quantization(0.5, 2.0);  // widened to [0, 2]
  EXPECT_FLOAT_EQ(q.scale, 2.0f / 255.0f);
  EXPECT_EQ(q.zero_point, 0);
  q = quant::uint8_quantization(-2.0, -1.0);  // widened to [-2, 0]
  EXPECT_EQ(q.zero_point, 255);
  q = quant::uint8_quantization(0.0, 0.0);
  EXPECT_EQ(q.scale, 1.0f);
  EXPECT_EQ(q.zero_point, 0);
}

TEST(LinearQuantization, WeightsSymmetricPerChannelRoundingHalfToEven) {
  // Channels along axis 1 of [2, 3]: max |.| 2.54, 0 (all zeros), 1.27.
  Tensor w(DType::f32, {2, 3});
  std::ranges::copy(std::vector<float>{2.54f, 0.0f, 0.025f, -0.05f, 0.0f, -1.27f}, w.values<float>().begin());
  const auto q = quant::int8_per_channel(w, 1, "w");
  ASSERT_EQ(q.scales.size(), 3u);
  EXPECT_FLOAT_EQ(q.scales[0], 0.02f);
  EXPECT_EQ(q.scales[1], 1.0f);  // a channel of zeros
  EXPECT_FLOAT_EQ(q.scales[2], 0.01f);
  const auto v = q.values.values<std::int8_t>();
  EXPECT_EQ(v[0], 127);
  EXPECT_EQ(v[3], -2);   // -0.05 / 0.02 = -2.5: half to even
  EXPECT_EQ(v[2], 2);    // 0.025 / 0.01 = 2.5: half to even
  EXPECT_EQ(v[5], -127);
  // Reduced range: 7-bit weights, |q| <= 64.
  const auto reduced = quant::int8_per_channel(w, 1, "w", 64);
  EXPECT_FLOAT_EQ(reduced.scales[0], 2.54f / 64.0f);
  EXPECT_EQ(reduced.values.values<std::int8_t>()[0], 64);
  EXPECT_EQ(reduced.values.values<std::int8_t>()[5], -64);
  Tensor bad(DType::f32, {1, 1});
  bad.values<float>()[0] = NAN;
  EXPECT_THAT(error_of([&] { quant::int8_per_channel(bad, 0, "weight 'w' of Conv 'c'"); }),
              HasSubstr("weight 'w' of Conv 'c' holds a non-finite value"));
}

TEST(LinearQuantization, BiasInTheProductsScale) {
  Tensor b(DType::f32, {2});
  std::ranges::copy(std::vector<float>{1.0f, -0.3f}, b.values<float>().begin());
  const std::vector<float> w_scales{0.5f, 0.1f};
  const auto q = quant::int32_bias(b, 0.02f, w_scales, "bias");
  EXPECT_FLOAT_EQ(q.scales[0], 0.01f);
  EXPECT_FLOAT_EQ(q.scales[1], 0.002f);
  EXPECT_EQ(q.values.values<std::int32_t>()[0], 100);
  EXPECT_EQ(q.values.values<std::int32_t>()[1], -150);
}

TEST(Calibration, PercentileClipsBothTails) {
  // 1000 values over [0, 10) in 10 bins; one outlier in each end bin.
  std::vector<std::uint64_t> bins{1, 0, 100, 200, 200, 200, 200, 98, 0, 1};
  auto [low, high] = quant::percentile_range(bins, 0.0, 10.0, 99.8);  // 2 values per tail may go
  EXPECT_DOUBLE_EQ(low, 2.0);
  EXPECT_DOUBLE_EQ(high, 8.0);
  std::tie(low, high) = quant::percentile_range(bins, 0.0, 10.0, 100.0);
  EXPECT_DOUBLE_EQ(low, 0.0);
  EXPECT_DOUBLE_EQ(high, 10.0);
}

TEST(CalibrationData, ChecksWholeSetsAndCutsThemIntoBatches) {
  const std::vector<engine::TensorSpec> inputs{
      {"ids", DType::f32, std::vector<engine::Dim>{{-1, "batch"}, {4, ""}}}};
  Tensor ids(DType::f32, {10, 4});
  for (std::size_t i = 0; i < ids.numel(); ++i) ids.values<float>()[i] = static_cast<float>(i);
  EXPECT_EQ(quant::check_calibration_inputs(inputs, std::vector<Tensor>{ids}, "calibration data", true), 10u);
  const auto batches = quant::split_into_batches(inputs, {ids}, 4);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2][0].shape(), (Shape{2, 4}));
  EXPECT_EQ(batches[2][0].values<float>()[0], 32.0f);
  EXPECT_THAT(error_of([&] {
                quant::check_calibration_inputs(inputs, std::vector<Tensor>{Tensor(DType::f32, {10, 5})}, "calibration data", true);
              }),
              HasSubstr("calibration data for input 'ids' has shape 10x5, the model declares batch x 4"));
  EXPECT_THAT(error_of([&] {
                quant::check_calibration_inputs(inputs, std::vector<Tensor>{Tensor(DType::f32, {0, 4})}, "calibration data", true);
              }),
              HasSubstr("calibration data for input 'ids' has no samples"));
  // A static first dimension takes whole batches of it.
  const std::vector<engine::TensorSpec> fixed{{"x", DType::f32, std::vector<engine::Dim>{{2, ""}, {4, ""}}}};
  EXPECT_EQ(quant::split_into_batches(fixed, {ids}, 8).size(), 5u);
  EXPECT_THAT(error_of([&] {
                quant::check_calibration_inputs(fixed, std::vector<Tensor>{Tensor(DType::f32, {3, 4})}, "calibration data", true);
              }),
              HasSubstr("has shape 3x4, the model declares 2 x 4 (whole batches of 2 samples)"));
  // Equal sample counts across inputs.
  const std::vector<engine::TensorSpec> two{{"a", DType::f32, std::nullopt}, {"b", DType::f32, std::nullopt}};
  EXPECT_THAT(error_of([&] {
                quant::check_calibration_inputs(two, std::vector<Tensor>{Tensor(DType::f32, {3, 4}), Tensor(DType::f32, {2, 4})},
                                                "calibration data", true);
              }),
              HasSubstr("calibration data for input 'b' has 2 samples, for input 'a' 3"));
}

// --- static QDQ ---

TEST_F(Quantize, StaticCnnHasTheQdqFormWithReluFolded) {
  const fs::path in = write("cnn.onnx", test::tiny_cnn()), out = path("cnn.int8.onnx");
  const auto report = quant::quantize_model(in, out, image_batches(), {.mode = QuantizeMode::static_qdq, .weight_limit = exact_weights()});
  EXPECT_EQ(report.mode, "static");
  EXPECT_EQ(report.quantized_nodes, 6u);  // conv1, conv2, residual, maxpool, gap, fc
  EXPECT_EQ(report.quantized_weights, 3u);
  EXPECT_EQ(report.calibration_samples, 12u);
  EXPECT_TRUE(report.skipped.empty()) << report.skipped.front();

  const onnx::ModelProto m = load(out);
  expect_topological(m);
  auto counts = op_counts(m);
  EXPECT_EQ(counts["Relu"], 0);  // both folded: conv1's and the residual Add's
  EXPECT_EQ(counts["Identity"], 0);
  // image, c1 (for r1), c2, sum (for r2), pooled, gap, flat
  EXPECT_EQ(counts["QuantizeLinear"], 7);
  EXPECT_EQ(counts["DequantizeLinear"], 7 + 3 + 3);  // activations, weights, biases
  EXPECT_EQ(counts["Conv"], 2);
  EXPECT_EQ(counts["Gemm"], 1);
  for (const char* gone : {"w1", "w2_stored", "b1", "b2", "fc", "fc_bias"}) EXPECT_EQ(initializer(m, gone), nullptr) << gone;

  // Folded Relus: their op's output quantized from 0 up, zero point 0; readers of r1 read c1's.
  EXPECT_EQ(raw_values<std::uint8_t>(*initializer(m, "c1_zero_point")), std::vector<std::uint8_t>{0});
  EXPECT_EQ(raw_values<std::uint8_t>(*initializer(m, "sum_zero_point")), std::vector<std::uint8_t>{0});
  EXPECT_EQ(node_producing(m, "r1"), nullptr);
  const onnx::NodeProto* residual = node_producing(m, "sum");
  ASSERT_NE(residual, nullptr);
  EXPECT_EQ(residual->input(0), "c2_dequantized");
  EXPECT_EQ(residual->input(1), "c1_dequantized");
  EXPECT_EQ(node_producing(m, "c2_dequantized")->op_type(), "DequantizeLinear");

  // Weights: int8 per output channel, zero points int8 zeros, read through DequantizeLinear(axis).
  const onnx::TensorProto* w1 = initializer(m, "w1_quantized");
  ASSERT_NE(w1, nullptr);
  EXPECT_EQ(w1->data_type(), onnx::TensorProto::INT8);
  EXPECT_EQ(dims_of(*w1), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(dims_of(*initializer(m, "w1_scale")), (Shape{8}));
  EXPECT_EQ(initializer(m, "w1_zero_point")->data_type(), onnx::TensorProto::INT8);
  EXPECT_EQ(raw_values<std::int8_t>(*initializer(m, "w1_zero_point")), std::vector<std::int8_t>(8, 0));
  ASSERT_NE(initializer(m, "w2_stored_quantized"), nullptr);  // through the Identity
  EXPECT_EQ(node_producing(m, "c2")->input(1), "w2_stored_dequantized");
  EXPECT_EQ(dims_of(*initializer(m, "fc_scale")), (Shape{5}));  // Gemm transB=1: axis 0
  EXPECT_EQ(int_attribute(*node_producing(m, "fc_dequantized"), "axis", 1), 0);
  // Biases: int32 in the scale image_scale * w1_scale.
  const onnx::TensorProto* b1 = initializer(m, "b1_quantized");
  ASSERT_NE(b1, nullptr);
  EXPECT_EQ(b1->data_type(), onnx::TensorProto::INT32);
  EXPECT_EQ(initializer(m, "b1_zero_point")->data_type(), onnx::TensorProto::INT32);
  const float image_scale = raw_values<float>(*initializer(m, "image_scale"))[0];
  const auto w1_scales = raw_values<float>(*initializer(m, "w1_scale"));
  const auto b1_scales = raw_values<float>(*initializer(m, "b1_scale"));
  ASSERT_EQ(b1_scales.size(), 8u);
  for (std::size_t c = 0; c < 8; ++c) EXPECT_FLOAT_EQ(b1_scales[c], image_scale * w1_scales[c]);
  EXPECT_EQ(node_producing(m, "fc_bias_dequantized")->input(0), "fc_bias_quantized");
  // Graph outputs stay float and keep their names.
  EXPECT_EQ(node_producing(m, "logits")->op_type(), "Gemm");
}

// Static QDQ with each calibration method: close to float32 on the native engine, and ONNX Runtime
// fuses the whole graph into integer operators and agrees with the native engine.
class StaticCnn : public Quantize, public ::testing::WithParamInterface<CalibrationMethod> {};

TEST_P(StaticCnn, CloseToFloatAndOrtAgrees) {
  const fs::path in = write("cnn.onnx", test::tiny_cnn()), out = path("cnn.int8.onnx");
  quant::quantize_model(in, out, image_batches(), {.mode = QuantizeMode::static_qdq, .method = GetParam(), .weight_limit = exact_weights()});
  for (const auto& inputs : {image_batches()[0], held_out_images()}) {
    const Tensor reference = run_native(in, inputs).at(0);
    const Tensor native = run_native(out, inputs).at(0);
    const Tensor ort = run_ort(out, inputs, path("cnn.ort.onnx")).at(0);
    // int8 against float32: within 3% of the largest logit (measured 0.5% on a calibration batch,
    // 1.0% on the held-out one, with either method).
    EXPECT_LT(relative_difference(native, reference), 0.03);
    // ORT's integer kernels (QLinearConv, ...) against the native engine's float reference kernels
    // on the same QDQ model: within 1%, about two uint8 steps of an intermediate (measured 8e-8).
    EXPECT_LT(relative_difference(ort, native), 0.01);
  }
  const auto fused = op_counts(load(path("cnn.ort.onnx")));
  EXPECT_EQ(fused.count("QLinearConv") ? fused.at("QLinearConv") : 0, 2) << "ORT did not fuse the QDQ convolutions";
  EXPECT_EQ(fused.count("QLinearAdd") ? fused.at("QLinearAdd") : 0, 1);
  EXPECT_EQ(fused.count("DequantizeLinear") ? fused.at("DequantizeLinear") : 0, 0);
}

INSTANTIATE_TEST_SUITE_P(Methods, StaticCnn, ::testing::Values(CalibrationMethod::minmax, CalibrationMethod::percentile),
                         [](const auto& info) { return info.param == CalibrationMethod::minmax ? "minmax" : "percentile"; });

TEST_F(Quantize, PercentileNarrowsRangesWithOutliers) {
  const fs::path in = write("cnn.onnx", test::tiny_cnn());
  auto batches = image_batches();
  batches[1][0].values<float>()[17] = 40.0f;  // one outlier pixel
  quant::quantize_model(in, path("minmax.onnx"), batches, {.mode = QuantizeMode::static_qdq});
  // 2304 pixels: 99.9 lets 2.3 of them go at each end, the outlier among them.
  quant::quantize_model(in, path("percentile.onnx"), batches,
                        {.mode = QuantizeMode::static_qdq, .method = CalibrationMethod::percentile, .percentile = 99.9});
  const float minmax = raw_values<float>(*initializer(load(path("minmax.onnx")), "image_scale"))[0];
  const float clipped = raw_values<float>(*initializer(load(path("percentile.onnx")), "image_scale"))[0];
  EXPECT_GT(minmax, 40.0f / 255.0f);
  EXPECT_LT(clipped, 8.0f / 255.0f);  // the images' own range, about [-3.5, 3.5]
}

TEST_F(Quantize, StaticMatMulQuantizesByColumn) {
  const fs::path in = write("linear.onnx", test::tiny_matmul(true)), out = path("linear.int8.onnx");
  const std::vector<std::vector<Tensor>> batches{{test::seeded_tensor({8, 8, 16}, 11)}, {test::seeded_tensor({4, 7, 16}, 12)}};
  const auto report = quant::quantize_model(in, out, batches, {.mode = QuantizeMode::static_qdq, .weight_limit = exact_weights()});
  EXPECT_EQ(report.quantized_nodes, 1u);
  EXPECT_EQ(report.calibration_samples, 12u);
  const onnx::ModelProto m = load(out);
  EXPECT_EQ(op_counts(m)["QuantizeLinear"], 2);  // x and xw; the Add of a constant bias stays float
  EXPECT_EQ(int_attribute(*node_producing(m, "W_dequantized"), "axis", 1), 1);
  EXPECT_EQ(dims_of(*initializer(m, "W_scale")), (Shape{8}));
  // On calibrated data (unseen data may leave the calibrated ranges and saturate).
  const std::vector<Tensor>& x = batches[1];
  const Tensor reference = run_native(in, x).at(0), native = run_native(out, x).at(0);
  EXPECT_LT(relative_difference(native, reference), 0.03);         // measured 1.0%
  EXPECT_LT(relative_difference(run_ort(out, x).at(0), native), 0.01);  // measured 0
}

// --- dynamic ---

class DynamicMatMul : public Quantize, public ::testing::WithParamInterface<bool> {};

TEST_P(DynamicMatMul, FormCloseToFloatAndOrtFusesIt) {
  const fs::path in = write("linear.onnx", test::tiny_matmul(GetParam())), out = path("linear.int8.onnx");
  const auto report = quant::quantize_model(in, out, {}, {.mode = QuantizeMode::automatic, .weight_limit = exact_weights()});
  EXPECT_EQ(report.mode, "dynamic");
  EXPECT_EQ(report.quantized_nodes, 1u);
  EXPECT_EQ(report.quantized_weights, 1u);
  EXPECT_EQ(report.calibration_samples, 0u);

  const onnx::ModelProto m = load(out);
  expect_topological(m);
  auto counts = op_counts(m);
  EXPECT_EQ(counts["DynamicQuantizeLinear"], 1);
  EXPECT_EQ(counts["MatMulInteger"], 1);
  EXPECT_EQ(counts["Cast"], 1);
  EXPECT_EQ(counts["Mul"], 2);
  EXPECT_EQ(counts["MatMul"], 0);
  EXPECT_EQ(counts["Identity"], 0);
  EXPECT_EQ(initializer(m, "W"), nullptr);
  const onnx::TensorProto* w = initializer(m, "W_quantized");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->data_type(), onnx::TensorProto::INT8);
  EXPECT_EQ(dims_of(*w), (Shape{16, 8}));
  EXPECT_EQ(dims_of(*initializer(m, "W_scale")), (Shape{8}));
  EXPECT_EQ(raw_values<std::int8_t>(*initializer(m, "W_zero_point")), std::vector<std::int8_t>(8, 0));
  const onnx::NodeProto* product = node_producing(m, "xw");
  ASSERT_NE(product, nullptr);
  EXPECT_EQ(product->op_type(), "Mul");

  for (const Shape& shape : {Shape{2, 5, 16}, Shape{1, 9, 16}}) {
    const std::vector<Tensor> x{test::seeded_tensor(shape, 21)};
    const Tensor reference = run_native(in, x).at(0), native = run_native(out, x).at(0);
    EXPECT_LT(relative_difference(native, reference), 0.03);  // measured 0.7% and 1.0%
    // Both compute the same integer products; only float rounding differs (measured 9e-8).
    EXPECT_LT(relative_difference(run_ort(out, x, path("linear.ort.onnx")).at(0), native), 1e-5);
  }
  auto fused = op_counts(load(path("linear.ort.onnx")));
  EXPECT_EQ(fused["DynamicQuantizeMatMul"], 1) << "ORT did not fuse the dynamic MatMul";
  EXPECT_EQ(fused["MatMulInteger"], 0);
}

TEST_F(Quantize, ReducedRangeKeepsWeightsWithinSevenBits) {
  const fs::path in = write("linear.onnx", test::tiny_matmul(false)), out = path("linear.int8.onnx");
  quant::quantize_model(in, out, {}, {.mode = QuantizeMode::dynamic, .weight_limit = 64});
  const auto w = raw_values<std::int8_t>(*initializer(load(out), "W_quantized"));
  int largest = 0;
  for (std::int8_t v : w) largest = std::max(largest, std::abs(static_cast<int>(v)));
  EXPECT_EQ(largest, 64);  // each column's largest |W| maps to 64
  const std::vector<Tensor> x{test::seeded_tensor({2, 5, 16}, 21)};
  EXPECT_LT(relative_difference(run_native(out, x).at(0), run_native(in, x).at(0)), 0.03);
  EXPECT_THAT(error_of([&] { quant::quantize_model(in, out, {}, {.weight_limit = 200}); }),
              HasSubstr("int8 weight limit 200 is not in [1, 127]"));
}

INSTANTIATE_TEST_SUITE_P(Weight, DynamicMatMul, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "ThroughIdentity" : "Initializer"; });

TEST_F(Quantize, DynamicQuantizesASharedActivationOnceAndSkipsTheRest) {
  OnnxBuilder b;
  b.input("x", onnx::TensorProto::FLOAT, {"B", "16"});
  b.initializer("W1", {16, 4}, test::seeded_values(64, 31, 0.3f));
  b.initializer("G", {4, 4}, test::seeded_values(16, 33, 0.3f));
  // W2 from a Constant node, as other exporters write weights.
  onnx::TensorProto w2;
  w2.set_data_type(onnx::TensorProto::FLOAT);
  for (std::int64_t d : {16, 4}) w2.add_dims(d);
  for (float v : test::seeded_values(64, 32, 0.3f)) w2.add_float_data(v);
  auto* value = b.node("Constant", {}, {"W2"}, "w2_constant").add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  *value->mutable_t() = w2;
  b.node("MatMul", {"x", "W1"}, {"q"}, "q_proj");
  b.node("MatMul", {"x", "W2"}, {"k"}, "k_proj");
  b.node("Transpose", {"k"}, {"kt"}, "transpose");
  b.node("MatMul", {"kt", "q"}, {"scores"}, "scores");  // [4, B] @ [B, 4]
  b.node("Gemm", {"scores", "G"}, {"y"}, "head");
  b.output("y");
  const fs::path in = write("shared.onnx", b), out = path("shared.int8.onnx");
  const auto report = quant::quantize_model(in, out, {}, {.mode = QuantizeMode::dynamic, .weight_limit = exact_weights()});
  EXPECT_EQ(report.quantized_nodes, 2u);
  EXPECT_THAT(report.skipped, ::testing::ElementsAre("MatMul 'scores': weight is not a constant",
                                                     "Gemm 'head': Gemm stays float in dynamic mode"));
  const onnx::ModelProto m = load(out);
  expect_topological(m);
  auto counts = op_counts(m);
  EXPECT_EQ(counts["DynamicQuantizeLinear"], 1);
  EXPECT_EQ(counts["MatMulInteger"], 2);
  EXPECT_EQ(counts["Constant"], 0);
  EXPECT_NE(initializer(m, "W2_quantized"), nullptr);
  const std::vector<Tensor> x{test::seeded_tensor({3, 16}, 34)};
  EXPECT_LT(relative_difference(run_ort(out, x).at(0), run_native(out, x).at(0)), 1e-5);
}

TEST_F(Quantize, AutomaticChoosesStaticForAConv) {
  const fs::path in = write("cnn.onnx", test::tiny_cnn());
  EXPECT_EQ(quant::quantize_model(in, path("cnn.int8.onnx"), image_batches(), {.weight_limit = exact_weights()}).mode, "static");
  // The same model in dynamic mode: no Conv touched, said so.
  const auto report = quant::quantize_model(in, path("cnn.dyn.onnx"), {}, {.mode = QuantizeMode::dynamic, .weight_limit = exact_weights()});
  EXPECT_EQ(report.quantized_nodes, 0u);
  EXPECT_THAT(report.skipped, ::testing::Contains("2 Conv nodes: dynamic mode quantizes MatMul only"));
  EXPECT_NO_THROW(run_ort(path("cnn.dyn.onnx"), held_out_images()));
}

// --- errors: one line naming the culprit, and no file written ---

TEST_F(Quantize, BadInputsGiveOneLineErrorsAndWriteNothing) {
  const fs::path cnn = write("cnn.onnx", test::tiny_cnn()), out = path("out.onnx");
  const std::size_t before = files();
  auto error = [&](const fs::path& model, std::vector<std::vector<Tensor>> batches, QuantizeOptions options) {
    const std::string message = error_of([&] { quant::quantize_model(model, out, batches, options); });
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  };
  const QuantizeOptions static_mode{.mode = QuantizeMode::static_qdq};
  EXPECT_THAT(error(cnn, {{test::seeded_tensor({4, 3, 6, 6}, 1)}}, static_mode),
              HasSubstr("calibration data for input 'image' has shape 4x3x6x6, the model declares N x 3 x 8 x 8"));
  EXPECT_THAT(error(cnn, {{Tensor(DType::i64, {4, 3, 8, 8})}}, static_mode),
              HasSubstr("calibration data for input 'image' is int64, the model declares float32"));
  EXPECT_THAT(error(cnn, {{test::seeded_tensor({4, 3, 8, 8}, 1)}, {test::seeded_tensor({4, 3, 8, 7}, 1)}}, static_mode),
              HasSubstr("calibration batch 2 for input 'image' has shape 4x3x8x7"));
  EXPECT_THAT(error(cnn, {}, static_mode), HasSubstr("static quantization needs calibration data"));
  EXPECT_THAT(error(cnn, {}, {}), HasSubstr("automatic mode chose static: the model has Conv nodes"));
  EXPECT_THAT(error(cnn, image_batches(), {.mode = QuantizeMode::static_qdq, .method = CalibrationMethod::percentile,
                                           .percentile = 30}),
              HasSubstr("percentile 30 is not in (50, 100]"));

  OnnxBuilder two;
  two.input("a", onnx::TensorProto::FLOAT, {"N", "4"});
  two.input("b", onnx::TensorProto::FLOAT, {"N", "4"});
  two.node("Add", {"a", "b"}, {"y"}, "add");
  two.output("y");
  EXPECT_THAT(error(write("two.onnx", two), {{test::seeded_tensor({2, 4}, 1)}}, static_mode),
              HasSubstr("calibration data holds 1 tensors, the model has 2 inputs (a, b)"));

  EXPECT_THAT(error(path("missing.onnx"), {}, {}), HasSubstr("cannot open model"));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(files(), before + 1);  // two.onnx, nothing else
}

// An opset below 13 (per-channel QuantizeLinear) is upgraded with ONNX's version converter first;
// the calibration's temporary model is gone afterwards.
TEST_F(Quantize, OlderOpsetsAreUpgradedFirst) {
  const fs::path in = write("old.onnx", test::tiny_cnn(12)), out = path("old.int8.onnx");
  const auto report = quant::quantize_model(in, out, image_batches(), {.mode = QuantizeMode::static_qdq, .weight_limit = exact_weights()});
  EXPECT_EQ(report.upgraded_from_opset, 12);
  EXPECT_GT(report.quantized_nodes, 0u);
  EXPECT_EQ(quant::GraphIndex::default_opset(load(out)), 13);
  EXPECT_FALSE(fs::exists(path("old.int8.onnx.upgraded.tmp")));
}

}  // namespace
}  // namespace cpuinfer

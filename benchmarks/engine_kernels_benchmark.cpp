// Google Benchmark micro-benchmarks of the engine's main kernels at the engine's ISA
// (CPUINFER_MAX_ISA caps it), each through a small session as `cpuinfer bench` runs them (plans
// cached, memory planned, threads as --threads 0: every usable core):
//  - ResNet-101's convolutions in the blocked layout: a 3x3 stage with and without Winograd, a 1x1;
//  - BERT-base's products with their fused steps (bias + GELU, bias + residual);
//  - LayerNorm and Softmax over BERT's rows;
//  - the per-ISA vector loops (kernels/vector) at every level the CPU has.
// Counters (per second): GFLOP for products (Winograd counted as the direct convolution it replaces),
// GB read and written for the memory-bound ones.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <vector>

#include "../tests/engine/onnx_builder.h"
#include "core/machine.h"
#include "engine/isa.h"
#include "engine/kernels/vector/vector_loops.h"
#include "engine/onnx/import.h"
#include "engine/session.h"

namespace {

using cpuinfer::DType;
using cpuinfer::Tensor;
using cpuinfer::test::OnnxBuilder;
namespace engine = cpuinfer::engine;

constexpr int kFloat = onnx::TensorProto::FLOAT;

std::vector<float> waves(std::size_t n, float phase) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<float>(i) * 0.37f + phase) * 0.1f;
  return v;
}

Tensor tensor(cpuinfer::Shape shape, float phase) {
  Tensor t(DType::f32, std::move(shape));
  const auto v = waves(t.numel(), phase);
  std::copy(v.begin(), v.end(), t.values<float>().begin());
  return t;
}

std::unique_ptr<engine::Session> session(const OnnxBuilder& b, bool winograd = true) {
  static const int threads = cpuinfer::read_machine_info().usable_cores;
  return std::make_unique<engine::Session>(engine::import_onnx_bytes(b.bytes(), "benchmark"),
                                           engine::SessionOptions{.threads = threads, .winograd = winograd});
}

// Runs the session once untimed (recording its memory plan, making its kernels' plans), then times runs.
void time_runs(benchmark::State& state, engine::Session& s, const std::vector<Tensor>& inputs, double flops,
               double bytes) {
  s.run(inputs);
  for (auto _ : state) benchmark::DoNotOptimize(s.run(inputs));
  if (flops > 0) state.counters["GFLOP"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (bytes > 0) state.counters["GB"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(engine::engine_isa_description());
}

// Four chained convolutions (+ bias + Relu) of `channels` maps at hw x hw: the blocked region's
// reorders at its two ends are shared by four.
void conv_chain(benchmark::State& state, std::int64_t kernel, bool winograd) {
  const std::int64_t channels = state.range(0), hw = state.range(1), batch = state.range(2);
  OnnxBuilder b;
  b.input("x", kFloat, {std::to_string(batch), std::to_string(channels), std::to_string(hw), std::to_string(hw)});
  std::string value = "x";
  for (int k = 0; k < 4; ++k) {
    const std::string w = fmt::format("w{}", k), bias = fmt::format("b{}", k), c = fmt::format("c{}", k),
                      r = fmt::format("r{}", k);
    b.initializer(w, {channels, channels, kernel, kernel}, waves(static_cast<std::size_t>(channels * channels * kernel * kernel), k));
    b.initializer(bias, {channels}, waves(static_cast<std::size_t>(channels), k + 0.5f));
    auto& conv = b.node("Conv", {value, w, bias}, {c});
    const std::int64_t pad = kernel / 2;
    OnnxBuilder::attribute(conv, "pads", std::vector<std::int64_t>{pad, pad, pad, pad});
    b.node("Relu", {c}, {r});
    value = r;
  }
  b.output(value);
  auto s = session(b, winograd);
  const double flops = 4.0 * 2 * batch * channels * channels * kernel * kernel * hw * hw;
  time_runs(state, *s, {tensor({batch, channels, hw, hw}, 0)}, flops, 0);
}

void BM_Conv3x3Winograd(benchmark::State& state) { conv_chain(state, 3, true); }
void BM_Conv3x3Direct(benchmark::State& state) { conv_chain(state, 3, false); }
void BM_Conv1x1(benchmark::State& state) { conv_chain(state, 1, false); }
// ResNet-101's 3x3 stages (64 at 56x56 ... 256 at 14x14) at batch 1 and 8.
BENCHMARK(BM_Conv3x3Winograd)->Args({64, 56, 1})->Args({256, 14, 1})->Args({256, 14, 8})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv3x3Direct)->Args({64, 56, 1})->Args({256, 14, 1})->Args({256, 14, 8})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv1x1)->Args({256, 56, 1})->Args({1024, 14, 1})->Args({1024, 14, 8})->Unit(benchmark::kMillisecond);

// x [rows, k] times W [k, n] + bias, then GELU (BERT's intermediate) or + residual (its outputs).
void matmul(benchmark::State& state, bool gelu) {
  const std::int64_t rows = state.range(0), k = state.range(1), n = state.range(2);
  OnnxBuilder b;
  b.input("x", kFloat, {std::to_string(rows), std::to_string(k)});
  b.input("residual", kFloat, {std::to_string(rows), std::to_string(n)});
  b.initializer("W", {k, n}, waves(static_cast<std::size_t>(k * n), 1));
  b.initializer("bias", {n}, waves(static_cast<std::size_t>(n), 2));
  b.initializer("sqrt2", {}, {1.4142135f});
  b.initializer("one", {}, {1.0f});
  b.initializer("half", {}, {0.5f});
  b.node("MatMul", {"x", "W"}, {"xw"});
  b.node("Add", {"xw", "bias"}, {"h"});
  if (gelu) {  // the erf form PyTorch exports
    b.node("Div", {"h", "sqrt2"}, {"d"});
    b.node("Erf", {"d"}, {"e"});
    b.node("Add", {"e", "one"}, {"e1"});
    b.node("Mul", {"h", "e1"}, {"m"});
    b.node("Mul", {"m", "half"}, {"y"});
  } else {
    b.node("Add", {"h", "residual"}, {"y"});
  }
  b.output("y");
  auto s = session(b);
  time_runs(state, *s, {tensor({rows, k}, 0), tensor({rows, n}, 3)}, 2.0 * rows * k * n, 0);
}

void BM_MatMulBiasGelu(benchmark::State& state) { matmul(state, true); }
void BM_MatMulBiasResidual(benchmark::State& state) { matmul(state, false); }
// 8 reviews of 266 tokens: 2128 rows.
BENCHMARK(BM_MatMulBiasGelu)->Args({2128, 768, 3072})->Args({266, 768, 3072})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulBiasResidual)->Args({2128, 768, 768})->Args({2128, 3072, 768})->Unit(benchmark::kMillisecond);

void BM_LayerNorm(benchmark::State& state) {
  const std::int64_t rows = state.range(0), n = 768;
  OnnxBuilder b;
  b.input("x", kFloat, {std::to_string(rows), std::to_string(n)});
  b.initializer("gamma", {n}, waves(static_cast<std::size_t>(n), 1));
  b.initializer("beta", {n}, waves(static_cast<std::size_t>(n), 2));
  auto& ln = b.node("LayerNormalization", {"x", "gamma", "beta"}, {"y"});
  OnnxBuilder::attribute(ln, "axis", std::int64_t{-1});
  b.output("y");
  auto s = session(b);
  time_runs(state, *s, {tensor({rows, n}, 0)}, 0, 2.0 * 4 * rows * n);
}
BENCHMARK(BM_LayerNorm)->Arg(2128)->Unit(benchmark::kMicrosecond);

void BM_Softmax(benchmark::State& state) {
  const std::int64_t rows = state.range(0), n = state.range(1);
  OnnxBuilder b;
  b.input("x", kFloat, {std::to_string(rows), std::to_string(n)});
  b.node("Softmax", {"x"}, {"y"});
  b.output("y");
  auto s = session(b);
  time_runs(state, *s, {tensor({rows, n}, 0)}, 0, 2.0 * 4 * rows * n);
}
// BERT's attention scores: 8 reviews x 12 heads x 266 rows of 266.
BENCHMARK(BM_Softmax)->Args({8 * 12 * 266, 266})->Unit(benchmark::kMicrosecond);

// The vector loops alone, at one ISA level (0 baseline, 1 avx2, 2 avx512), over 1 Mi floats.
void BM_VectorLoop(benchmark::State& state, cpuinfer::engine::VectorOp op) {
  const auto isa = static_cast<cpuinfer::Isa>(state.range(0));
  if (isa > cpuinfer::cpu_isa()) {
    state.SkipWithError(("unsupported: this CPU lacks " + cpuinfer::missing_for(isa)).c_str());
    return;
  }
  const engine::VectorLoops& loops = engine::vector_loops(isa);
  std::vector<float> a = waves(1 << 20, 0), b = waves(1 << 20, 1), out(1 << 20);
  for (auto _ : state) {
    loops.add_map(op, a.data(), b.data(), out.data(), static_cast<std::int64_t>(out.size()), 0.5f);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GB"] = benchmark::Counter(3.0 * 4 * out.size() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(cpuinfer::isa_name(isa)));
}
BENCHMARK_CAPTURE(BM_VectorLoop, add_relu, cpuinfer::engine::VectorOp::relu)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_VectorLoop, add_gelu, cpuinfer::engine::VectorOp::gelu)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

}  // namespace


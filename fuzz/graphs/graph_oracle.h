// One generated graph run by ONNX Runtime (the oracle: its plain kernels, graph optimizations off)
// and by the native engine with its passes on and with each one off, and the outputs compared.
#pragma once

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/session.h"

namespace cpuinfer::fuzz {

struct RunResult {
  std::vector<Tensor> outputs;
  std::string error;  // empty when the run gave outputs
};

// ONNX Runtime, 1 thread, ORT_DISABLE_ALL: each node its own kernel, as the specification reads.
RunResult run_ort(const onnx::ModelProto& model, const std::vector<Tensor>& inputs);

// The engine's configurations a graph is run in: every pass on, then each one off.
struct NativeVariant {
  std::string name;
  engine::SessionOptions options;
};
const std::vector<NativeVariant>& native_variants();
// Runs twice in one session (the first run records the memory plan, the second runs from it) and
// returns the second run's outputs; an error from either is the result's error.
RunResult run_native(const onnx::ModelProto& model, const std::vector<Tensor>& inputs, const NativeVariant& variant);

// How far ORT's own outputs move when every input element and float constant moves by a relative
// 1e-6 (about ten float32 steps), per output: what rounding differences inside the graph can
// become where it is ill-conditioned (a LayerNorm over a row of nearly equal values divides by a
// tiny deviation).
std::vector<double> sensitivity(const onnx::ModelProto& model, const std::vector<Tensor>& inputs, const RunResult& oracle);

// Outputs agree when their shapes and types are equal, integers and booleans exactly; floats when
// the same elements are non-finite (equal infinities, or NaN on one side and NaN or an infinity on
// the other: whether an overflow ends as inf or as NaN, inf - inf, depends on the order of the
// arithmetic) and max |got - want| <= tolerance * max(1, max |want|) + 4 * slack[k] over the
// finite ones (slack: sensitivity(), or none).
struct Comparison {
  bool agree = true;
  double max_abs_diff = 0, max_rel_diff = 0;  // rel: max_abs_diff / max(1, max |want|)
  std::string what;  // why not, naming the output
};
// float32: 2e-4, twice bench's 1e-4. Random chains of up to 12 operators put LayerNorms and
// divisions after one another on values no trained model has; rounding-level differences reached
// 1.0e-4 there with every native configuration alike, where every bug the fuzzer found was 1.2e-3
// or more off (most by 0.1 to 1e37).
inline constexpr double kFloatTolerance = 2e-4;
// A quantized graph on the same file in both runtimes: values a rounding step apart (1/255 of a
// tensor's range) where a sum lands next to a rounding boundary, carried through later layers.
inline constexpr double kInt8Tolerance = 0.1;
// QuantizeLinear, DequantizeLinear or another quantization operator in the graph.
bool is_quantized(const onnx::ModelProto& model);
inline double tolerance_for(const onnx::ModelProto& model) { return is_quantized(model) ? kInt8Tolerance : kFloatTolerance; }
Comparison compare_outputs(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tolerance,
                           const std::vector<double>& slack = {});

// The first variant that disagrees with ORT, and why (empty when all agree); each variant's
// max_rel_diff ("default 1.2e-07, no-fusion 1.1e-07, ...").
struct Finding {
  const NativeVariant* variant = nullptr;
  std::string what;
  std::string differences;
};
// Every native variant on `inputs` against ORT's `oracle` outputs.
Finding check(const onnx::ModelProto& model, const std::vector<Tensor>& inputs, const RunResult& oracle);
// Whether `native` disagrees with `oracle` (a native error disagrees) within tolerance_for(model);
// beyond it, only by more than what ORT itself does when the inputs move by rounding-sized steps
// (sensitivity), measured when needed and kept in `slack`; `c` says how.
bool disagrees(const RunResult& native, const onnx::ModelProto& model, const std::vector<Tensor>& inputs,
               const RunResult& oracle, std::optional<std::vector<double>>& slack, Comparison& c);

}  // namespace cpuinfer::fuzz

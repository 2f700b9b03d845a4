// Post-training int8 quantization of an ONNX model into standard ONNX (QuantizeLinear,
// DequantizeLinear, DynamicQuantizeLinear, MatMulInteger) that ONNX Runtime and the native engine
// both run. Static mode (CNNs) calibrates activation ranges on the native engine and writes the
// QDQ form (qdq_writer.h); dynamic mode (transformers) quantizes MatMuls by constant weights and
// leaves activation ranges to run time (dynamic_matmul.h).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "quantize/calibration.h"

namespace cpuinfer::quant {

// CalibrationMethod { minmax, percentile } is calibration.h's.
enum class QuantizeMode { automatic, static_qdq, dynamic };  // automatic: static if the model has a Conv, else dynamic

struct QuantizeOptions {
  QuantizeMode mode = QuantizeMode::automatic;
  CalibrationMethod method = CalibrationMethod::minmax;
  double percentile = 99.999;
  int threads = 1;
  // The largest |int8 weight|: 127, or 64 (7 bits, ONNX Runtime's reduce_range) for integer kernels
  // whose products saturate beyond (engine/isa.h, exact_int8_weight_limit).
  int weight_limit = 127;
};

struct QuantizeReport {
  std::string mode;                 // "static" or "dynamic"
  std::size_t quantized_nodes = 0;  // ops given int8 inputs
  std::size_t quantized_weights = 0;
  std::size_t calibration_samples = 0;  // 0 for dynamic
  std::vector<std::string> skipped;  // e.g. "MatMul /x/y: weight is not a constant" (short)
  std::int64_t upgraded_from_opset = 0;  // the model's opset when ONNX's version converter took it to 13; 0: not upgraded
};

// Calibration batches: each holds the model's inputs in declaration order (any batch size).
// Writes `out` atomically (temp file + rename). Throws cpuinfer::Error with one line naming the culprit.
QuantizeReport quantize_model(const std::filesystem::path& in, const std::filesystem::path& out,
                              const std::vector<std::vector<Tensor>>& calibration, const QuantizeOptions& options);

}  // namespace cpuinfer::quant

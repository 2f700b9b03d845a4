// Writes a QDQ plan (qdq_plan.h) into an ONNX model, in the form ONNX Runtime's quantizer writes and
// its optimizer fuses into integer operators:
// - every float32 activation a planned node reads or writes (graph outputs excepted) gets ONE
//   QuantizeLinear (uint8) followed by ONE DequantizeLinear, with scalar scale and zero point
//   initializers from its calibrated range (linear_quantization.h); all its readers read the
//   DequantizeLinear's output;
// - a Conv's or Add's output read only by a Relu whose output is quantized too loses the Relu: the
//   output is quantized over [0, the Relu output's high], so uint8 saturation does the Relu's work;
// - weights are int8 initializers "<name>_quantized" with per-channel float32 scales and int8 zero
//   points, read through DequantizeLinear(axis); biases int32 in the scale input_scale *
//   weight_scale, DequantizeLinear(axis=0).
// Nodes stay in topological order; new names are fresh; the float weights and the Identity and
// Constant nodes nothing reads any more are removed.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>

#include "quantize/calibration.h"
#include "quantize/qdq_plan.h"

namespace cpuinfer::quant {

struct QdqResult {
  std::size_t quantized_nodes = 0;    // nodes given int8 inputs
  std::size_t quantized_weights = 0;  // int8 weight initializers (biases not counted)
};

// `plan` was made of this model's graph (its node indices), `observed` holds what calibration saw of
// the tensors tensors_to_calibrate named.
// `weight_limit` bounds the int8 weights (linear_quantization.h).
QdqResult write_qdq(onnx::ModelProto& model, const QdqPlan& plan, const std::map<std::string, ObservedTensor>& observed,
                    int weight_limit);

}  // namespace cpuinfer::quant

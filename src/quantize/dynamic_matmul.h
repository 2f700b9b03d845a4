// Dynamic quantization of MatMuls by constant weights, in the form ONNX Runtime's quantize_dynamic
// writes and its optimizer fuses into DynamicQuantizeMatMul: for Y = MatMul(A, W), W a float32
// constant [K, N] and A an activation,
//   DynamicQuantizeLinear(A) -> A_quantized (uint8), A_scale, A_zero_point
//   MatMulInteger(A_quantized, W_quantized (int8 [K, N]), A_zero_point, W_zero_point (int8 [N], zeros)) -> int32
//   Cast(to = float) ;  Mul(A_scale, W_scale (float [N])) -> combined scale
//   Mul(cast, combined scale) -> Y
// W is quantized symmetrically per column (linear_quantization.h). An activation read by several
// such MatMuls is quantized once. Everything else stays float32; Gemm and Conv are reported as
// skipped.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace cpuinfer::quant {

struct DynamicResult {
  std::size_t quantized_nodes = 0;    // MatMuls rewritten
  std::size_t quantized_weights = 0;  // int8 weight initializers
  std::vector<std::string> skipped;
};

// `weight_limit` bounds the int8 weights (linear_quantization.h).
DynamicResult write_dynamic_matmul(onnx::ModelProto& model, int weight_limit);

}  // namespace cpuinfer::quant

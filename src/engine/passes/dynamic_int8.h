// Dynamic int8 Linear layers, as ONNX Runtime's quantize_dynamic writes them (and cpuinfer
// quantize's dynamic mode, src/quantize/):
//   DynamicQuantizeLinear(x) -> (x_q, x_scale, x_zero)
//   MatMulInteger(x_q, W_q, x_zero, W_zero) -> Cast(float) -> Mul(., Mul(x_scale, W_scale)) -> y
// with W_q a constant int8 matrix [K, N], symmetric (its zero points 0), and W_scale one float32
// per column (or one for all). Each such chain becomes one MatMul(x, W) whose constant W holds
// W_q * W_scale and whose attribute kInt8ScalesAttribute (kernels/int8_product.h) holds the
// scales: the later passes see an ordinary Linear layer (epilogue fusion takes its bias, GELU and
// residual Add; attention fusion joins Q, K and V), and the kernels recover the exact int8
// weights and compute in int8, quantizing x per run as DynamicQuantizeLinear does.
//
// Runs before constant folding, which would otherwise compute W_q's products in float at load.
// Other forms (uint8 or asymmetric weights, a scale that is not constant, weights beyond 7 bits
// on a CPU without VNNI) are left to the reference kernels (kernels/quantization.cpp).
#pragma once

#include <cstddef>

#include "engine/graph.h"

namespace cpuinfer::engine {

// The attribute that marks a MatMul, FusedMatMul or Attention as an int8 product: its weights'
// scales, one per column of the [K, N] weights.
inline constexpr const char* kInt8ScalesAttribute = "int8_weight_scales";

// Whether oneDNN multiplies by these int8 weights exactly at the engine's ISA
// (engine/isa.h, exact_int8_weight_limit): where not, int8 patterns stay on the reference kernels.
bool within_exact_limit(const Tensor& int8_weights);

// Returns the number of chains replaced.
std::size_t fold_dynamic_int8(Graph& graph);

}  // namespace cpuinfer::engine

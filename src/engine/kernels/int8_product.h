// Dynamic int8 products (passes/dynamic_int8.h): a Linear layer's float32 rows are quantized per
// run to uint8 with one scale and zero point (DynamicQuantizeLinear's rule: the range of the
// values widened to hold 0, scale = range / 255), its constant weights once per column to
// symmetric int8 with the model's scales, and oneDNN multiplies uint8 by int8 with int32 sums
// (VNNI where the CPU has it).
//
// oneDNN takes the column scales as static output scales and applies its bias in the sums'
// domain, before them. The row scale, known only at run, is a multiplication post-op by a
// one-value operand, placed first, so that fused activations and Adds see finished values:
//   y[m, n] = a_scale * w_scale[n] * (sum_k a_q[m, k] * w_q[k, n] + bias_q[n])
//   bias_q[n] = b[n] / (a_scale * w_scale[n]) - a_zero * sum_k w_q[k, n]
// which is sum_k (a_q - a_zero) * w_q * a_scale * w_scale[n] + b[n]: MatMulInteger, Cast and the
// scales' Mul, then the bias Add, as the model states them.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/kernels/dnnl_support.h"
#include "engine/passes/dynamic_int8.h"

namespace cpuinfer::engine {

struct Int8Columns {
  Tensor weights;                  // int8 [K, N]: round(w / scale[n]), within [-127, 127]
  std::vector<float> scales;       // per column
  std::vector<std::int32_t> sums;  // per column: the sum of its int8 weights
};
// `w`: float32 [K, N] that the model dequantized from int8 with `scales` (N values).
Int8Columns int8_columns(const Tensor& w, const std::vector<float>& scales, const NodeInfo& info);

struct Int8Rows {
  Tensor values;  // uint8, a's shape
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};
// DynamicQuantizeLinear of float32 `a`.
Int8Rows quantize_rows(const Tensor& a, const NodeInfo& info);

// The post-ops an int8 product starts with (the row scale's multiplication): the epilogue appends to them.
dnnl::post_ops int8_post_ops();
// Its operand: the row scale as a [1, 1] memory over `scale`, which must outlive the run.
dnnl::memory row_scale_memory(float& scale);
// bias_q above, float32 [1, N]; `bias` (float32 [N]) may be null.
Tensor int8_bias(const Int8Columns& columns, const Int8Rows& rows, const Tensor* bias);
// The primitive attributes: static output scales per column, then `post_ops`.
dnnl::primitive_attr int8_attributes(const Int8Columns& columns, const dnnl::post_ops& post_ops);

}  // namespace cpuinfer::engine

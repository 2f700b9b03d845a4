// Static int8 regions of a QDQ model (ONNX Runtime's quantizer, cpuinfer quantize's static mode):
// every activation an int8 operator reads or writes travels as QuantizeLinear -> uint8 ->
// DequantizeLinear, and weights as DequantizeLinear of constant int8. Where the patterns
//   DQ(x), DQ(W), DQ(b) -> Conv [-> Relu] -> Q     2-D, W int8 per output channel (zero points 0)
//   DQ(a), DQ(b) -> Add [-> Relu] -> Q
//   DQ(x) -> MaxPool -> Q                          2-D, no indices
// chain, the uint8 values between them never become float: each pattern is one engine node on
// uint8 tensors (cpuinfer:Int8Conv, Int8Add, Int8MaxPool), requantizing its result in the
// kernel (oneDNN's output scales and zero points: the Conv's Relu is its uint8 floor).
//
// The region's uint8 tensors are stored NHWC ([N, H, W, C]), the layout oneDNN's int8
// convolutions read and write (VNNI where the CPU has it). A QuantizeLinear entering the region
// becomes cpuinfer:QuantizeNhwc (float NCHW in), a DequantizeLinear leaving it
// cpuinfer:DequantizeNhwc (float NCHW out), both with the scale and zero point as attributes.
// A uint8 value the region would hold that anything else reads (a graph output, another
// operator) keeps its patterns on the reference kernels, as do other forms (per-channel
// activations, int8 activations, weights with zero points, weights beyond 7 bits on a CPU without
// VNNI: passes/dynamic_int8.h, within_exact_limit).
//
// Runs before constant folding, which would otherwise dequantize the weights at load.
#pragma once

#include <cstddef>

#include "engine/graph.h"

namespace cpuinfer::engine {

// Returns the number of patterns now on int8 kernels.
std::size_t form_int8_regions(Graph& graph);

}  // namespace cpuinfer::engine

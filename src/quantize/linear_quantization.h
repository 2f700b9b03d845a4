// The arithmetic of int8 quantization, as ONNX Runtime's quantizer does it: activations asymmetric
// uint8 per tensor from a calibrated range, weights symmetric int8 per output channel, biases int32
// in the product's scale. Rounding is half to even everywhere (numpy's round, ONNX's
// QuantizeLinear).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cpuinfer::quant {

// uint8 scale and zero point of an activation seen in [low, high]: the range is widened to hold 0
// (so that padding and ReLU's zeros are exact), scale = (high - low) / 255, zero point
// round(-low / scale). A range of one point, or one too narrow for a normal float32 scale, gets
// scale 1 (never 0) and zero point 0.
struct ActivationQuantization {
  float scale = 1.0f;
  std::uint8_t zero_point = 0;
};
ActivationQuantization uint8_quantization(double low, double high);

// A float32 weight quantized symmetrically per index along `axis`: scale_c = max|W_c| / limit (1
// for a channel of zeros), q = round(W / scale_c) in [-limit, limit]. The limit is 127, or 64 for
// integer kernels whose uint8 x int8 products saturate beyond 7-bit weights (vpmaddubsw without
// VNNI: ONNX Runtime's reduce_range). `what` names the weight in the errors thrown for a
// non-finite value or a limit outside [1, 127].
struct ChannelQuantization {
  Tensor values;              // int8, the weight's shape
  std::vector<float> scales;  // one per channel
};
ChannelQuantization int8_per_channel(const Tensor& weight, std::size_t axis, const std::string& what, int limit = 127);

// A float32 1-D bias as int32 in the scale of its product, input_scale * weight_scales[c] (float32,
// as the integer kernels compute it): q = round(b / scale_c), saturated. Returns the values and the
// scales.
struct BiasQuantization {
  Tensor values;              // int32
  std::vector<float> scales;
};
BiasQuantization int32_bias(const Tensor& bias, float input_scale, std::span<const float> weight_scales,
                            const std::string& what);

}  // namespace cpuinfer::quant

// Scales in float32 as the kernels that use them; quotients rounded in the precision ONNX
// Runtime's quantizer uses (float32 for weights, float64 for biases and zero points).
#include "quantize/linear_quantization.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "core/error.h"

namespace cpuinfer::quant {

ActivationQuantization uint8_quantization(double low, double high) {
  low = std::min(low, 0.0);
  high = std::max(high, 0.0);
  const auto scale = static_cast<float>((high - low) / 255.0);
  if (high == low || !(scale >= FLT_MIN)) return {1.0f, 0};
  const double zero = std::nearbyint(-low / static_cast<double>(scale));
  return {scale, static_cast<std::uint8_t>(std::clamp(zero, 0.0, 255.0))};
}

ChannelQuantization int8_per_channel(const Tensor& weight, std::size_t axis, const std::string& what, int limit) {
  if (limit < 1 || limit > 127) fail("{}: int8 weight limit {} is not in [1, 127]", what, limit);
  if (weight.dtype() != DType::f32) fail("{} is {}, not float32", what, dtype_name(weight.dtype()));
  if (axis >= weight.rank()) fail("{} {} has no axis {}", what, shape_string(weight.shape()), axis);
  const auto channels = static_cast<std::size_t>(weight.dim(axis));
  std::size_t inner = 1;
  for (std::size_t d = axis + 1; d < weight.rank(); ++d) inner *= static_cast<std::size_t>(weight.dim(d));
  const auto w = weight.values<float>();
  ChannelQuantization q{Tensor::uninitialized(DType::i8, weight.shape()), std::vector<float>(channels, 0.0f)};
  // Element i belongs to channel (i / inner) % channels.
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (!std::isfinite(w[i])) fail("{} holds a non-finite value ({}) at element {}", what, w[i], i);
    float& m = q.scales[(i / inner) % channels];
    m = std::max(m, std::fabs(w[i]));
  }
  const auto bound = static_cast<float>(limit);
  for (float& s : q.scales) {
    s /= bound;
    if (!(s >= FLT_MIN)) s = 1.0f;  // a channel of zeros (or of values too small to scale)
  }
  auto out = q.values.values<std::int8_t>();
  for (std::size_t i = 0; i < w.size(); ++i) {
    const float r = std::nearbyint(w[i] / q.scales[(i / inner) % channels]);
    out[i] = static_cast<std::int8_t>(std::clamp(r, -bound, bound));
  }
  return q;
}

BiasQuantization int32_bias(const Tensor& bias, float input_scale, std::span<const float> weight_scales,
                            const std::string& what) {
  if (bias.dtype() != DType::f32) fail("{} is {}, not float32", what, dtype_name(bias.dtype()));
  if (bias.rank() != 1 || static_cast<std::size_t>(bias.dim(0)) != weight_scales.size())
    fail("{} {} is not one value per output channel ({})", what, shape_string(bias.shape()), weight_scales.size());
  BiasQuantization q{Tensor::uninitialized(DType::i32, bias.shape()), {}};
  const auto b = bias.values<float>();
  auto out = q.values.values<std::int32_t>();
  for (std::size_t c = 0; c < b.size(); ++c) {
    if (!std::isfinite(b[c])) fail("{} holds a non-finite value ({}) at element {}", what, b[c], c);
    const float scale = input_scale * weight_scales[c];
    q.scales.push_back(scale);
    out[c] = scale > 0.0f ? convert<std::int32_t>(std::nearbyint(static_cast<double>(b[c]) / scale)) : 0;
  }
  return q;
}

}  // namespace cpuinfer::quant

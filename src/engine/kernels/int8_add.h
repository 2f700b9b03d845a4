// The sum of two uint8 tensors requantized, as the int8 region's Add (kernels/int8_nhwc.cpp) and a
// convolution whose merged residual Add broadcasts (kernels/int8_convolution.cpp) compute it:
//   y = saturate(round((a - a_zero) * a_scale / y_scale + (b - b_zero) * b_scale / y_scale) + y_zero),
// floored at y_zero after a Relu, with numpy broadcasting of the stored shapes (NHWC: broadcasting
// commutes with the layout's permutation).
#pragma once

#include <cstdint>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

struct QuantParams {
  float scale;
  std::int32_t zero;
};

// `y`: the output already allocated (uint8, the broadcast shape), for a kernel whose first
// allocation must be its output (memory/run_memory.h); empty: allocated here.
Tensor add_u8(const Tensor& a, QuantParams pa, const Tensor& b, QuantParams pb, QuantParams py, bool relu, const NodeInfo& info,
              Tensor y = Tensor());

}  // namespace cpuinfer::engine

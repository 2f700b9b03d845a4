// float16 and bfloat16 computed in float32, at the operator: a kernel without a half-precision
// form is wrapped so that half inputs (and half constants, once at prepack) are widened to
// float32, and its float32 outputs are narrowed back to the half type, rounding to nearest even.
// A kernel with a bfloat16 form of its own (a bfloat16 product, blocked pooling, ToPlain: the
// bfloat16 activations of passes/bf16_compute.h) takes bfloat16 as it is and has only float16 widened.
#pragma once

#include <memory>

#include "engine/kernels/kernel.h"

namespace cpuinfer::engine {

std::unique_ptr<Kernel> half_as_float(std::unique_ptr<Kernel> kernel, bool takes_bf16 = false);

}  // namespace cpuinfer::engine

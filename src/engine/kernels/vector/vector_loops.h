// Our own hot loops over float32, compiled once per ISA level and chosen once, when a kernel is
// made, by the engine's ISA (engine/isa.h: the CPU's best level under CPUINFER_MAX_ISA), never
// inside a run. Each level is its own translation unit (vector_loops_baseline/_avx2/_avx512.cpp,
// built from vector_loops_impl.h with that level's -m flags), as ncnn builds its layers.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"

namespace cpuinfer::engine {

enum class VectorOp { identity, relu, scale, gelu, erf, tanh, exp, log, sqrt, sigmoid };

struct VectorLoops {
  Isa isa;
  // out[i] = op(in[i]) (scale: in[i] * factor). `in` may be `out`.
  void (*map)(VectorOp op, const float* in, float* out, std::int64_t n, float factor);
  // out[i] = op(a[i] + b[i]). `a` or `b` may be `out`.
  void (*add_map)(VectorOp op, const float* a, const float* b, float* out, std::int64_t n, float factor);
  // One row of LayerNormalization: y = (x - mean) * inv * gamma + beta, inv = 1 / sqrt(var + eps).
  void (*layer_norm_row)(const float* x, const float* gamma, const float* beta, float* y, std::int64_t n, float eps,
                         float* mean, float* inv);
  // y[i] = x[i] * scale + shift (BatchNormalization over one channel).
  void (*affine)(const float* x, float* y, std::int64_t n, float scale, float shift);
  // x = softmax(x * scale + addend) over n values, in place; `addend` may be null (nothing added).
  void (*softmax_row)(float* x, const float* addend, std::int64_t n, float scale);
  // out[i] = in[i] rounded to bfloat16 (to nearest even; NaN stays NaN).
  void (*to_bf16)(const float* in, std::uint16_t* out, std::int64_t n);
  // The least and greatest of n values, NaN skipped (none: lo = +inf, hi = -inf).
  void (*min_max)(const float* x, std::int64_t n, float* lo, float* hi);
  // out[i] = saturate(round_half_even(in[i] / scale) + zero) to [0, 255]: QuantizeLinear to uint8
  // (NaN gives 0, as ONNX Runtime's QuantizeLinear).
  void (*quantize_u8)(const float* in, std::uint8_t* out, std::int64_t n, float scale, float zero);
  // out[i] = saturate(round_half_even(a[i] * ka + b[i] * kb + offset)) to [low, 255]: two uint8
  // tensors' sum requantized (QLinearAdd), low = the zero point for a Relu after it, else 0.
  void (*add_u8)(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, std::int64_t n, float ka, float kb,
                 float offset, float low);
  // acc[j] += sum over k < depth of v[k] * m[k * ld + j], for j < n: a row times a k-major matrix
  // (the recurrent layers' steps).
  void (*row_times_matrix)(const float* v, std::int64_t depth, const float* m, std::int64_t ld, float* acc, std::int64_t n);
};

// The loops of the engine's ISA.
const VectorLoops& vector_loops();
// The loops of a level this build has; the CPU must support it (tests compare the levels).
const VectorLoops& vector_loops(Isa isa);

// Each level's table, from its own translation unit.
VectorLoops vector_loops_baseline();
VectorLoops vector_loops_avx2();
VectorLoops vector_loops_avx512();

}  // namespace cpuinfer::engine

// The loops of vector_loops.h, included once per ISA translation unit with VECTOR_LOOPS_ISA set
// to that level. Everything here is in an anonymous namespace and uses no C++ library templates:
// an inline function compiled with AVX-512 must not become the copy the linker gives other units.
#include <math.h>

#include "engine/kernels/vector/vector_loops.h"

// glibc's libmvec computes these on 4, 8 or 16 floats at once (_ZGVeN16v_expf, ...); <math.h>
// declares the SIMD forms only under -ffast-math, so they are declared here, where -fno-math-errno
// lets `omp simd` loops call them (within 4 ulp, with NaN and infinities kept).
extern "C" {
#pragma omp declare simd notinbranch
float expf(float) noexcept;
#pragma omp declare simd notinbranch
float erff(float) noexcept;
#pragma omp declare simd notinbranch
float tanhf(float) noexcept;
#pragma omp declare simd notinbranch
float logf(float) noexcept;
}

namespace cpuinfer::engine {

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;

template <VectorOp Op> inline float apply(float v, float factor) {
  if constexpr (Op == VectorOp::relu) return v < 0.0f ? 0.0f : v;  // NaN stays NaN
  else if constexpr (Op == VectorOp::scale) return v * factor;
  else if constexpr (Op == VectorOp::gelu) return 0.5f * v * (1.0f + erff(v * kInvSqrt2));
  else if constexpr (Op == VectorOp::erf) return erff(v);
  else if constexpr (Op == VectorOp::tanh) return tanhf(v);
  else if constexpr (Op == VectorOp::exp) return expf(v);
  else if constexpr (Op == VectorOp::log) return logf(v);
  else if constexpr (Op == VectorOp::sqrt) return sqrtf(v);
  else if constexpr (Op == VectorOp::sigmoid) {  // one exp, of a non-positive number: no overflow
    const float e = expf(-fabsf(v)), s = 1.0f / (1.0f + e);
    return v >= 0.0f ? s : e * s;
  }
  else return v;
}

template <VectorOp Op> void map_loop(const float* in, float* out, std::int64_t n, float factor) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) out[i] = apply<Op>(in[i], factor);
}

template <VectorOp Op> void add_map_loop(const float* a, const float* b, float* out, std::int64_t n, float factor) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) out[i] = apply<Op>(a[i] + b[i], factor);
}

#define VECTOR_LOOPS_DISPATCH(loop, ...)                                   \
  switch (op) {                                                            \
    case VectorOp::identity: return loop<VectorOp::identity>(__VA_ARGS__); \
    case VectorOp::relu: return loop<VectorOp::relu>(__VA_ARGS__);         \
    case VectorOp::scale: return loop<VectorOp::scale>(__VA_ARGS__);       \
    case VectorOp::gelu: return loop<VectorOp::gelu>(__VA_ARGS__);         \
    case VectorOp::erf: return loop<VectorOp::erf>(__VA_ARGS__);           \
    case VectorOp::tanh: return loop<VectorOp::tanh>(__VA_ARGS__);         \
    case VectorOp::exp: return loop<VectorOp::exp>(__VA_ARGS__);           \
    case VectorOp::log: return loop<VectorOp::log>(__VA_ARGS__);           \
    case VectorOp::sqrt: return loop<VectorOp::sqrt>(__VA_ARGS__);         \
    case VectorOp::sigmoid: return loop<VectorOp::sigmoid>(__VA_ARGS__);   \
  }

void map(VectorOp op, const float* in, float* out, std::int64_t n, float factor) {
  VECTOR_LOOPS_DISPATCH(map_loop, in, out, n, factor)
}

void add_map(VectorOp op, const float* a, const float* b, float* out, std::int64_t n, float factor) {
  VECTOR_LOOPS_DISPATCH(add_map_loop, a, b, out, n, factor)
}

#undef VECTOR_LOOPS_DISPATCH

void layer_norm_row(const float* x, const float* gamma, const float* beta, float* y, std::int64_t n, float eps,
                    float* mean_out, float* inv_out) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = n ? sum / static_cast<float>(n) : 0.0f;
  float var = 0.0f;
#pragma omp simd reduction(+ : var)
  for (std::int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / sqrtf((n ? var / static_cast<float>(n) : 0.0f) + eps);
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
  *mean_out = mean;
  *inv_out = inv;
}

void affine(const float* x, float* y, std::int64_t n, float scale, float shift) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * scale + shift;
}

void softmax_row(float* x, const float* addend, std::int64_t n, float scale) {
  if (addend) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) x[i] = x[i] * scale + addend[i];
  } else if (scale != 1.0f) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) x[i] *= scale;
  }
  float top = -HUGE_VALF;
#pragma omp simd reduction(max : top)
  for (std::int64_t i = 0; i < n; ++i) top = x[i] > top ? x[i] : top;
  // Below about -87 libmvec's expf takes its slow scalar path (masked keys: -3.4e38, 15x slower):
  // arguments are clamped at -80, where a weight is 1.8e-35 of the largest, below float32's
  // resolution of the sum it joins. The clamp is its own loop: inside expf's argument GCC turns it
  // into a select after the call. A NaN (or an infinity's inf - inf) stays NaN, so that the row's
  // sum and every value become NaN, as ONNX Runtime's are.
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const float d = x[i] - top;
    x[i] = d < -80.0f ? -80.0f : d;
  }
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t i = 0; i < n; ++i) {
    x[i] = expf(x[i]);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void to_bf16(const float* in, std::uint16_t* out, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint32_t u;
    __builtin_memcpy(&u, in + i, 4);
    const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
    const std::uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    out[i] = static_cast<std::uint16_t>(nan ? (u >> 16) | 0x40u : rounded);
  }
}

void min_max(const float* x, std::int64_t n, float* lo, float* hi) {
  float l = __builtin_inff(), h = -__builtin_inff();
#pragma omp simd reduction(min : l) reduction(max : h)
  for (std::int64_t i = 0; i < n; ++i) {
    l = x[i] < l ? x[i] : l;
    h = x[i] > h ? x[i] : h;
  }
  *lo = l;
  *hi = h;
}

// nearbyintf rounds half to even in the default rounding mode; the clamp happens in float, after
// a NaN became 0.
void quantize_u8(const float* in, std::uint8_t* out, std::int64_t n, float scale, float zero) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    float v = __builtin_nearbyintf(in[i] / scale) + zero;
    v = v == v ? v : 0.0f;  // NaN: 0, as ONNX Runtime's QuantizeLinear gives it
    v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
    out[i] = static_cast<std::uint8_t>(static_cast<std::int32_t>(v));
  }
}

void add_u8(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, std::int64_t n, float ka, float kb, float offset,
            float low) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    float v = __builtin_nearbyintf(static_cast<float>(a[i]) * ka + static_cast<float>(b[i]) * kb + offset);
    v = v < low ? low : (v > 255.0f ? 255.0f : v);
    out[i] = static_cast<std::uint8_t>(static_cast<std::int32_t>(v));
  }
}

// Columns in blocks of 64 held in one small array across the whole depth: the FMAs then read one
// row of m each and the sums stay in L1 (or registers).
void row_times_matrix(const float* v, std::int64_t depth, const float* m, std::int64_t ld, float* acc, std::int64_t n) {
  constexpr std::int64_t kBlock = 64;
  for (std::int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const std::int64_t len = n - j0 < kBlock ? n - j0 : kBlock;
    float sums[kBlock];
    for (std::int64_t j = 0; j < len; ++j) sums[j] = acc[j0 + j];
    for (std::int64_t k = 0; k < depth; ++k) {
      const float a = v[k];
      const float* row = m + k * ld + j0;
#pragma omp simd
      for (std::int64_t j = 0; j < len; ++j) sums[j] += a * row[j];
    }
    for (std::int64_t j = 0; j < len; ++j) acc[j0 + j] = sums[j];
  }
}

}  // namespace

VECTOR_LOOPS_FUNCTION() { return {VECTOR_LOOPS_ISA, map, add_map, layer_norm_row, affine, softmax_row, to_bf16, min_max, quantize_u8, add_u8, row_times_matrix}; }

}  // namespace cpuinfer::engine

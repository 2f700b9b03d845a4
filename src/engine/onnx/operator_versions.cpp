// Taken from ONNX's docs/Changelog.md at onnx/onnx commit f7546912 (2026-08-22; VERSION_NUMBER 1.23.0,
// not yet released: its newest opset, 28, is one past release v1.22.0's 27). Every default-domain
// ("ai.onnx") operator version with since_version 18..28 is listed; ai.onnx.ml and the
// preview/training domains are not. Each version was compared with the operator's previous one
// (attributes, inputs, outputs, type constraints, description):
//   T: only element types were added (or the documentation reworded); float32/int64 behaviour is
//      unchanged;
//   N: the operator did not exist before this version;
//   S: an attribute, input, output or mode was added or changed meaning, even where its default keeps
//      the old behaviour (then `what` says so); a version that both adds types and does this is S.
#include "engine/onnx/operator_versions.h"

#include <algorithm>
#include <array>
#include <functional>

namespace cpuinfer::engine {
namespace {

constexpr auto T = OperatorChange::types;
constexpr auto N = OperatorChange::new_operator;
constexpr auto S = OperatorChange::semantics;

// Sorted by op (byte order), then version.
constexpr auto kVersions = std::to_array<OperatorVersion>({
    {"Acos", 22, T, "adds bfloat16"},
    {"Acosh", 22, T, "adds bfloat16"},
    {"AffineGrid", 20, N, "2D/3D sampling grid from batched affine matrices"},
    {"Asin", 22, T, "adds bfloat16"},
    {"Asinh", 22, T, "adds bfloat16"},
    {"Atan", 22, T, "adds bfloat16"},
    {"Atanh", 22, T, "adds bfloat16"},
    {"Attention", 23, N, "scaled dot-product attention with mask and KV cache"},
    {"Attention", 24, S, "adds input nonpad_kv_seqlen; attn_mask may be shorter than keys"},
    {"Attention", 25, S, "adds left/right_window_size (default -1: the old behaviour)"},
    {"AveragePool", 19, S, "adds attribute dilations (default 1: the old behaviour)"},
    {"AveragePool", 22, T, "adds bfloat16"},
    {"Bernoulli", 22, T, "adds bfloat16"},
    {"BitCast", 26, N, "reinterpret bits as another type of the same width"},
    {"BitwiseAnd", 18, N, "elementwise bitwise and, broadcasting"},
    {"BitwiseNot", 18, N, "elementwise bitwise not"},
    {"BitwiseOr", 18, N, "elementwise bitwise or, broadcasting"},
    {"BitwiseXor", 18, N, "elementwise bitwise xor, broadcasting"},
    {"Cast", 19, S, "adds float8 types and attribute saturate (float8 only)"},
    {"Cast", 21, T, "adds int4, uint4"},
    {"Cast", 23, T, "adds float4e2m1"},
    {"Cast", 24, S, "adds float8e8m0, round_mode (e8m0 only); FNUZ float8: Inf saturates"},
    {"Cast", 25, T, "adds int2, uint2"},
    {"CastLike", 19, S, "adds float8 types and attribute saturate (float8 only)"},
    {"CastLike", 21, T, "adds int4, uint4"},
    {"CastLike", 23, T, "adds float4e2m1"},
    {"CastLike", 24, S, "adds float8e8m0 and attribute round_mode (e8m0 only)"},
    {"CastLike", 25, T, "adds int2, uint2"},
    {"CausalConvWithState", 27, N, "stateful causal depthwise 1-D convolution"},
    {"Celu", 28, T, "adds bfloat16, float16, double"},
    {"CenterCropPad", 18, N, "center crop or pad to given sizes on chosen axes"},
    {"Col2Im", 18, N, "column blocks back into an image (PyTorch fold)"},
    {"Constant", 19, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz)"},
    {"Constant", 21, T, "adds int4, uint4"},
    {"Constant", 23, T, "adds float4e2m1"},
    {"Constant", 24, T, "adds float8e8m0"},
    {"Constant", 25, T, "adds int2, uint2"},
    {"ConstantOfShape", 20, T, "adds bfloat16, float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz)"},
    {"ConstantOfShape", 21, T, "adds int4, uint4"},
    {"ConstantOfShape", 23, T, "adds float4e2m1"},
    {"ConstantOfShape", 24, T, "adds float8e8m0"},
    {"ConstantOfShape", 25, T, "adds int2, uint2"},
    {"Conv", 22, T, "adds bfloat16"},
    {"ConvTranspose", 22, T, "adds bfloat16"},
    {"Cos", 22, T, "adds bfloat16"},
    {"Cosh", 22, T, "adds bfloat16"},
    {"CumProd", 26, N, "cumulative product along an axis (exclusive, reverse)"},
    {"DFT", 20, S, "axis attribute (default 1) became an input (default -2)"},
    {"DeformConv", 19, N, "deformable convolution with offsets and optional mask"},
    {"DeformConv", 22, T, "adds bfloat16"},
    {"DequantizeLinear", 19, T, "adds float8 x; float16/bfloat16 x_scale (output takes its type)"},
    {"DequantizeLinear", 21, S, "adds block_size (0: old behaviour); adds int4, uint4, int16, uint16"},
    {"DequantizeLinear", 23, S, "adds output_dtype (0: type of x_scale, as before); adds float4e2m1"},
    {"DequantizeLinear", 24, T, "adds float8e8m0 x_scale"},
    {"DequantizeLinear", 25, T, "adds int2, uint2"},
    {"Det", 22, T, "adds bfloat16"},
    {"Dropout", 22, T, "adds float8 data and ratio, bfloat16 ratio"},
    {"Elu", 22, T, "adds bfloat16"},
    {"Equal", 19, T, "adds string"},
    {"EyeLike", 22, T, "adds bfloat16"},
    {"Flatten", 21, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz), int4, uint4"},
    {"Flatten", 23, T, "adds float4e2m1"},
    {"Flatten", 24, T, "adds float8e8m0"},
    {"Flatten", 25, T, "adds int2, uint2"},
    {"GRU", 22, T, "adds bfloat16"},
    {"Gelu", 20, N, "GELU, exact (erf) or tanh approximation"},
    {"GlobalAveragePool", 22, T, "adds bfloat16"},
    {"GlobalLpPool", 22, T, "adds bfloat16"},
    {"GlobalMaxPool", 22, T, "adds bfloat16"},
    {"GridSample", 20, S, "N-D input; modes renamed linear/cubic (were bilinear/bicubic)"},
    {"GridSample", 22, T, "adds bfloat16"},
    {"GroupNormalization", 18, N, "deprecated: scale and bias per group (fixed by version 21)"},
    {"GroupNormalization", 21, S, "scale and bias per channel (were per group); adds stash_type"},
    {"HardSigmoid", 22, T, "adds bfloat16"},
    {"HardSwish", 22, T, "adds bfloat16"},
    {"Identity", 19, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz)"},
    {"Identity", 21, T, "adds int4, uint4"},
    {"Identity", 23, T, "adds float4e2m1"},
    {"Identity", 24, T, "adds float8e8m0"},
    {"Identity", 25, T, "adds int2, uint2"},
    {"If", 19, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz) in tensor/seq/optional"},
    {"If", 21, T, "adds int4, uint4 (tensor/seq/optional)"},
    {"If", 23, T, "adds float4e2m1 (tensor/seq/optional)"},
    {"If", 24, T, "adds float8e8m0 (tensor/seq/optional)"},
    {"If", 25, T, "adds int2, uint2 (tensor/seq/optional)"},
    {"ImageDecoder", 20, N, "decode an encoded image (uint8 bytes) to pixels"},
    {"InstanceNormalization", 22, T, "adds bfloat16"},
    {"IsInf", 20, T, "adds bfloat16, float16, float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz)"},
    {"IsNaN", 20, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz)"},
    {"LSTM", 22, T, "adds bfloat16"},
    {"LinearAttention", 27, N, "linear attention for decoding and prefill"},
    {"Loop", 19, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz) in tensor/seq/optional"},
    {"Loop", 21, T, "adds int4, uint4 (tensor/seq/optional)"},
    {"Loop", 23, T, "adds float4e2m1 (tensor/seq/optional)"},
    {"Loop", 24, T, "adds float8e8m0 (tensor/seq/optional)"},
    {"Loop", 25, T, "adds int2, uint2 (tensor/seq/optional)"},
    {"LpNormalization", 22, T, "adds bfloat16"},
    {"LpPool", 18, S, "adds ceil_mode (default 0) and dilations (default 1): old behaviour"},
    {"LpPool", 22, T, "adds bfloat16"},
    {"MaxPool", 22, T, "adds bfloat16"},
    {"MaxRoiPool", 22, T, "adds bfloat16"},
    {"MaxUnpool", 22, T, "adds bfloat16"},
    {"Mish", 18, N, "x * tanh(softplus(x))"},
    {"Mish", 22, T, "adds bfloat16"},
    {"Multinomial", 22, T, "adds bfloat16"},
    {"NegativeLogLikelihoodLoss", 22, T, "adds bfloat16"},
    {"OptionalGetElement", 18, S, "input may be a plain tensor or sequence (returned as is)"},
    {"OptionalHasElement", 18, S, "input became optional (absent: false); tensor/seq input: true"},
    {"Pad", 18, S, "adds optional input axes (pads then cover only those axes)"},
    {"Pad", 19, S, "adds mode wrap"},
    {"Pad", 21, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz), int4, uint4"},
    {"Pad", 23, T, "adds float4e2m1"},
    {"Pad", 24, T, "adds float8e8m0"},
    {"Pad", 25, T, "adds int2, uint2"},
    {"QLinearMatMul", 21, T, "adds float8 a/b/y; float16/bfloat16 scales"},
    {"QuantizeLinear", 19, S, "adds saturate (float8 only), float8 outputs, fp16/bf16 x and scale"},
    {"QuantizeLinear", 21, S, "adds block_size, output_dtype (0: old behaviour); 4- and 16-bit ints"},
    {"QuantizeLinear", 23, S, "adds precision attr; y_scale type may differ from x; float4e2m1"},
    {"QuantizeLinear", 24, T, "adds float8e8m0 y_scale"},
    {"QuantizeLinear", 25, T, "adds int2, uint2"},
    {"RMSNormalization", 23, N, "RMS normalization over the trailing axes"},
    {"RNN", 22, T, "adds bfloat16"},
    {"RandomNormal", 22, T, "adds bfloat16"},
    {"RandomNormalLike", 22, T, "adds bfloat16"},
    {"RandomUniform", 22, T, "adds bfloat16"},
    {"RandomUniformLike", 22, T, "adds bfloat16"},
    {"Range", 27, S, "adds float16, bfloat16 and stash_type (affects only those two)"},
    {"ReduceL1", 18, S, "axes attribute became an optional input; adds noop_with_empty_axes"},
    {"ReduceL2", 18, S, "axes attribute became an optional input; adds noop_with_empty_axes"},
    {"ReduceLogSum", 18, S, "axes attribute became an optional input; adds noop_with_empty_axes"},
    {"ReduceLogSumExp", 18, S, "axes attribute became an optional input; adds noop_with_empty_axes"},
    {"ReduceMax", 18, S, "axes attribute became an optional input; adds noop_with_empty_axes"},
    {"ReduceMax", 20, T, "adds bool (False < True)"},
    {"ReduceMean", 18, S, "axes attribute became an optional input; adds noop_with_empty_axes"},
    {"ReduceMin", 18, S, "axes attribute became an optional input; adds noop_with_empty_axes"},
    {"ReduceMin", 20, T, "adds bool (False < True)"},
    {"ReduceProd", 18, S, "axes attribute became an optional input; adds noop_with_empty_axes"},
    {"ReduceSumSquare", 18, S, "axes attribute became an optional input; adds noop_with_empty_axes"},
    {"RegexFullMatch", 20, N, "RE2 full match of each string"},
    {"Reshape", 19, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz)"},
    {"Reshape", 21, T, "adds int4, uint4"},
    {"Reshape", 23, T, "adds float4e2m1"},
    {"Reshape", 24, T, "adds float8e8m0"},
    {"Reshape", 25, T, "adds int2, uint2"},
    {"Resize", 18, S, "adds antialias, axes, keep_aspect_ratio_policy (defaults: old)"},
    {"Resize", 19, S, "adds coordinate_transformation_mode half_pixel_symmetric"},
    {"RoiAlign", 22, T, "adds bfloat16"},
    {"RotaryEmbedding", 23, N, "rotary positional embedding (RoPE)"},
    {"Round", 22, T, "adds bfloat16"},
    {"Scan", 19, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz)"},
    {"Scan", 21, T, "adds int4, uint4"},
    {"Scan", 23, T, "adds float4e2m1"},
    {"Scan", 24, T, "adds float8e8m0"},
    {"Scan", 25, T, "adds int2, uint2"},
    {"ScatterElements", 18, S, "adds reduction max and min"},
    {"ScatterND", 18, S, "adds reduction max and min"},
    {"Selu", 22, T, "adds bfloat16"},
    {"Shape", 19, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz)"},
    {"Shape", 21, T, "adds int4, uint4"},
    {"Shape", 23, T, "adds float4e2m1"},
    {"Shape", 24, T, "adds float8e8m0"},
    {"Shape", 25, T, "adds int2, uint2"},
    {"Sin", 22, T, "adds bfloat16"},
    {"Sinh", 22, T, "adds bfloat16"},
    {"Size", 19, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz)"},
    {"Size", 21, T, "adds int4, uint4"},
    {"Size", 23, T, "adds float4e2m1"},
    {"Size", 24, T, "adds float8e8m0"},
    {"Size", 25, T, "adds int2, uint2"},
    {"Softplus", 22, T, "adds bfloat16"},
    {"Softsign", 22, T, "adds bfloat16"},
    {"Split", 18, S, "adds num_outputs; it or input split must be given, uneven tail ok"},
    {"SplitToSequence", 24, T, "adds bfloat16"},
    {"Squeeze", 21, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz), int4, uint4"},
    {"Squeeze", 23, T, "adds float4e2m1"},
    {"Squeeze", 24, T, "adds float8e8m0"},
    {"Squeeze", 25, T, "adds int2, uint2"},
    {"StringConcat", 20, N, "elementwise string concatenation, broadcasting"},
    {"StringSplit", 20, N, "split strings on a delimiter, with maxsplit"},
    {"SwiGLU", 28, N, "Swish(A) * B gated activation (alpha attribute)"},
    {"Swish", 24, N, "x * sigmoid(alpha * x)"},
    {"Tan", 22, T, "adds bfloat16"},
    {"TensorScatter", 24, N, "write update into a KV cache along axis at indices"},
    {"ThresholdedRelu", 22, T, "adds bfloat16"},
    {"TopK", 24, T, "adds bfloat16"},
    {"Transpose", 21, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz), int4, uint4"},
    {"Transpose", 23, T, "adds float4e2m1"},
    {"Transpose", 24, T, "adds float8e8m0"},
    {"Transpose", 25, T, "adds int2, uint2"},
    {"Unsqueeze", 21, T, "adds float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz), int4, uint4"},
    {"Unsqueeze", 23, T, "adds float4e2m1"},
    {"Unsqueeze", 24, T, "adds float8e8m0"},
    {"Unsqueeze", 25, T, "adds int2, uint2"},
});

constexpr std::int64_t kNewestOpset = 28;

constexpr bool ordered(const OperatorVersion& a, const OperatorVersion& b) {
  return a.op != b.op ? a.op < b.op : a.version < b.version;
}
static_assert(std::ranges::is_sorted(kVersions, ordered));
static_assert(std::ranges::all_of(kVersions, [](const OperatorVersion& v) {
  return !v.what.empty() && v.version > 17 && v.version <= kNewestOpset;
}));

}  // namespace

std::span<const OperatorVersion> versions_after_17(std::string_view op) {
  // std::equal_range, not std::ranges': clang 14 (the fuzz build) cannot compile libstdc++ 12's subrange.
  struct ByOp {
    bool operator()(const OperatorVersion& v, std::string_view o) const { return v.op < o; }
    bool operator()(std::string_view o, const OperatorVersion& v) const { return o < v.op; }
  };
  const auto [first, last] = std::equal_range(kVersions.begin(), kVersions.end(), op, ByOp{});
  return {first, last};
}

std::int64_t newest_known_opset() { return kNewestOpset; }

}  // namespace cpuinfer::engine

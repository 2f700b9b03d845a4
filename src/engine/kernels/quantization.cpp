// Quantized operators of ONNX opsets 10 to 17, as plain loops: QuantizeLinear and DequantizeLinear
// (one scale and zero point, or from opset 13 one per index along `axis`), DynamicQuantizeLinear,
// MatMulInteger and QLinearMatMul (numpy's matmul, batch dimensions broadcast; zero points and
// scales per tensor, per row of a, per column of b), ConvInteger and QLinearConv (N-D, groups,
// strides, dilations, pads or auto_pad; weight zero point and scale per output channel; QLinearConv's
// int32 bias). Quantized tensors are uint8 or int8, sums int32 (wrapping, as the spec allows).
// Quantizing rounds half to even (std::nearbyint) and saturates to the type's range; the int32 sums
// of QLinearMatMul and QLinearConv are requantized with the float32 factor
// x_scale * w_scale / y_scale, as ONNX Runtime does. Float16 scales arrive widened to float32
// (kernels/half_as_float.h).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/int8_product.h"

namespace cpuinfer::engine {

namespace {

using Quantized = TypeList<std::uint8_t, std::int8_t>;

// x / scale + zero, rounded half to even and saturated to Q (NaN gives 0).
template <typename Q> Q quantize(float x, float scale, float zero) { return convert<Q>(std::nearbyint(x / scale) + zero); }

// An int32 sum (kept as uint32 so that it wraps) scaled by `multiplier` into Q around `zero`.
template <typename Q> Q requantize(std::uint32_t sum, float multiplier, float zero) {
  return convert<Q>(std::nearbyint(static_cast<float>(static_cast<std::int32_t>(sum)) * multiplier) + zero);
}

// A scale must be a positive number: a zero one (a broken calibration) would divide by zero.
std::vector<float> scales(const Tensor& s, const char* name, const NodeInfo& info) {
  info.expect_dtype(s, DType::f32, name);
  const auto v = s.values<float>();
  for (float x : v)
    if (!(x > 0.0f) || !std::isfinite(x)) info.fail("{} {} is not a positive number", name, x);
  return {v.begin(), v.end()};
}

// A zero point's values; it has the type of the tensor it belongs to (`owner`, named `owner_name`).
std::vector<std::int32_t> zero_points(const Tensor& z, const char* name, DType owner, const char* owner_name,
                                      const NodeInfo& info) {
  if (z.dtype() != owner) info.fail("{} is {}, {} is {}", name, dtype_name(z.dtype()), owner_name, dtype_name(owner));
  return visit_dtype<TypeList<std::uint8_t, std::int8_t, std::int32_t>>(z.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto v = z.values<T>();
    return std::vector<std::int32_t>(v.begin(), v.end());
  });
}

template <typename V> V single(const std::vector<V>& v, const char* name, const NodeInfo& info) {
  if (v.size() != 1) info.fail("{} has {} values, must have one", name, v.size());
  return v[0];
}

// One value, or one per output channel of a convolution.
template <typename V> std::vector<V> per_map(std::vector<V> v, std::int64_t maps, const char* name, const NodeInfo& info) {
  if (v.size() == 1) return std::vector<V>(static_cast<std::size_t>(maps), v[0]);
  if (static_cast<std::int64_t>(v.size()) != maps) info.fail("{} has {} values for {} output channels", name, v.size(), maps);
  return v;
}

// Row-major strides of `shape` seen right-aligned in a broadcast of rank `rank`: 0 along its
// dimensions of size 1 and the ones it lacks.
std::vector<std::int64_t> broadcast_strides(const Shape& shape, std::size_t rank) {
  std::vector<std::int64_t> strides(rank, 0);
  const auto own = contiguous_strides(shape);
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1) strides[rank - shape.size() + d] = own[d];
  return strides;
}

// --- QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear ---

// The scales and zero points of QuantizeLinear and DequantizeLinear, one pair per index along the
// quantized axis, x seen as [outer, channels, inner] (one pair: a single channel spanning x).
struct AxisQuantization {
  std::vector<float> scale;
  std::vector<std::int32_t> zero;
  std::int64_t channels = 1, inner = 1;
};

AxisQuantization axis_quantization(const Tensor& x, const Tensor& scale, std::optional<std::vector<std::int32_t>> zero,
                                   const char* scale_name, const char* zero_name, std::int64_t axis_attr,
                                   std::int64_t opset, const NodeInfo& info) {
  AxisQuantization q{scales(scale, scale_name, info), {}};
  if (zero && zero->size() != q.scale.size())
    info.fail("{} has {} values, {} has {}", zero_name, zero->size(), scale_name, q.scale.size());
  q.zero = zero ? std::move(*zero) : std::vector<std::int32_t>(q.scale.size(), 0);
  q.inner = static_cast<std::int64_t>(x.numel());
  if (q.scale.size() == 1) return q;
  if (opset < 13) info.fail("{} has {} values; per-axis quantization needs opset 13, the model has {}", scale_name, q.scale.size(), opset);
  if (scale.rank() != 1) info.fail("{} {} is neither one value nor a vector", scale_name, shape_string(scale.shape()));
  const auto axis = static_cast<std::size_t>(info.axis(axis_attr, x.rank()));
  if (scale.dim(0) != x.dim(axis)) info.fail("{} has {} values, x has {} along axis {}", scale_name, scale.dim(0), x.dim(axis), axis);
  q.channels = x.dim(axis);
  q.inner = product(x.shape(), axis + 1, x.rank());
  return q;
}

// Calls f(begin, end, channel) for the runs of x's `count` elements that share a channel, across threads.
template <typename F> void for_each_channel_run(const AxisQuantization& q, std::size_t count, F&& f) {
  parallel_for(static_cast<std::int64_t>(count), 16384, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end;) {
      const std::int64_t block = i / q.inner, stop = std::min(end, (block + 1) * q.inner);
      f(i, stop, static_cast<std::size_t>(block % q.channels));
      i = stop;
    }
  });
}

// y = saturate(round(x / y_scale) + y_zero_point), y of y_zero_point's type (uint8 without one).
std::unique_ptr<Kernel> make_quantize(const Node& node, std::int64_t opset) {
  return make_function_kernel([info = NodeInfo(node), opset, axis = node.get_int("axis", 1)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor* z = info.optional_input(inputs, 2);
    const DType out = z ? z->dtype() : DType::u8;
    const AxisQuantization q = axis_quantization(
        x, info.input(inputs, 1), z ? std::optional(zero_points(*z, "y_zero_point", out, "y", info)) : std::nullopt,
        "y_scale", "y_zero_point", axis, opset, info);
    Tensor y = Tensor::uninitialized(out, x.shape());
    visit_dtype<TypeList<float, std::int32_t>>(x.dtype(), [&](auto x_tag) {
      visit_dtype<Quantized>(out, [&](auto y_tag) {
        using X = decltype(x_tag);
        using Y = decltype(y_tag);
        const X* in = x.values<X>().data();
        Y* o = y.values<Y>().data();
        for_each_channel_run(q, x.numel(), [&](std::int64_t begin, std::int64_t end, std::size_t c) {
          const float scale = q.scale[c], zero = static_cast<float>(q.zero[c]);
          for (std::int64_t i = begin; i < end; ++i) o[i] = quantize<Y>(static_cast<float>(in[i]), scale, zero);
        });
      });
    });
    return one(std::move(y));
  });
}

// y = (x - x_zero_point) * x_scale; an int32 x has no zero point but 0.
std::unique_ptr<Kernel> make_dequantize(const Node& node, std::int64_t opset) {
  return make_function_kernel([info = NodeInfo(node), opset, axis = node.get_int("axis", 1)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor* z = info.optional_input(inputs, 2);
    const AxisQuantization q = axis_quantization(
        x, info.input(inputs, 1), z ? std::optional(zero_points(*z, "x_zero_point", x.dtype(), "x", info)) : std::nullopt,
        "x_scale", "x_zero_point", axis, opset, info);
    if (x.dtype() == DType::i32)
      for (std::int32_t v : q.zero)
        if (v != 0) info.fail("x_zero_point of an int32 x must be 0, got {}", v);
    Tensor y = Tensor::uninitialized(DType::f32, x.shape());
    float* o = y.values<float>().data();
    visit_dtype<TypeList<std::uint8_t, std::int8_t, std::int32_t>>(x.dtype(), [&](auto tag) {
      using X = decltype(tag);
      const X* in = x.values<X>().data();
      for_each_channel_run(q, x.numel(), [&](std::int64_t begin, std::int64_t end, std::size_t c) {
        const float scale = q.scale[c];
        const std::int32_t zero = q.zero[c];
        for (std::int64_t i = begin; i < end; ++i) o[i] = static_cast<float>(static_cast<std::int32_t>(in[i]) - zero) * scale;
      });
    });
    return one(std::move(y));
  });
}

// uint8 y with the scale and zero point that map [min(x, 0), max(x, 0)] onto [0, 255]
// (kernels/int8_product.h, which the int8 products share). An all-zero x, where the spec divides 0
// by 0, gets scale 1 as in ONNX Runtime.
std::unique_ptr<Kernel> make_dynamic_quantize(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    if (x.dtype() != DType::f32) info.unsupported("x is {}, not float32", dtype_name(x.dtype()));
    Int8Rows q = quantize_rows(x, info);
    Tensor y_scale(DType::f32, {}), y_zero(DType::u8, {});
    y_scale.values<float>()[0] = q.scale;
    y_zero.values<std::uint8_t>()[0] = static_cast<std::uint8_t>(q.zero_point);
    std::vector<Tensor> outputs;
    outputs.push_back(std::move(q.values));
    outputs.push_back(std::move(y_scale));
    outputs.push_back(std::move(y_zero));
    return outputs;
  });
}

// --- MatMulInteger, QLinearMatMul ---

// The operands of a product as numpy's matmul sees them: vectors made matrices, batches broadcast.
struct MatmulShape {
  Shape a, b;  // [batch..., m, k] and [batch..., k, n]
  std::int64_t m = 0, k = 0, n = 0;
  Shape out;   // the result's, without the dimensions added to vectors
  std::vector<std::int64_t> a_matrix, b_matrix;  // per result matrix: the a and b matrices it multiplies (none if empty)
};

MatmulShape matmul_shape(const Tensor& a, const Tensor& b, const char* a_name, const char* b_name, const NodeInfo& info) {
  if (a.rank() == 0 || b.rank() == 0)
    info.fail("{} {} and {} {} must not be scalars", a_name, shape_string(a.shape()), b_name, shape_string(b.shape()));
  MatmulShape s;
  s.a = a.shape();
  s.b = b.shape();
  if (s.a.size() == 1) s.a.insert(s.a.begin(), 1);
  if (s.b.size() == 1) s.b.push_back(1);
  s.m = s.a[s.a.size() - 2];
  s.k = s.a.back();
  s.n = s.b.back();
  if (s.b[s.b.size() - 2] != s.k)
    info.fail("{} {} and {} {} cannot be multiplied", a_name, shape_string(a.shape()), b_name, shape_string(b.shape()));
  const Shape batch_a(s.a.begin(), s.a.end() - 2), batch_b(s.b.begin(), s.b.end() - 2);
  const Shape batch = plan_broadcast({batch_a, batch_b}, info).shape;
  s.out = batch;
  if (a.rank() > 1) s.out.push_back(s.m);
  if (b.rank() > 1) s.out.push_back(s.n);
  if (product(s.out, 0, s.out.size()) == 0) return s;  // nothing to multiply, however many empty matrices
  const auto strides_a = broadcast_strides(batch_a, batch.size()), strides_b = broadcast_strides(batch_b, batch.size());
  for_each_index(batch, [&](std::size_t, const std::vector<std::int64_t>& index) {
    std::int64_t at_a = 0, at_b = 0;
    for (std::size_t d = 0; d < index.size(); ++d) {
      at_a += index[d] * strides_a[d];
      at_b += index[d] * strides_b[d];
    }
    s.a_matrix.push_back(at_a);
    s.b_matrix.push_back(at_b);
  });
  return s;
}

// A zero point or scale of a product's operand (`operand`, its matmul shape [batch..., rows, columns]):
// one value, or one per row (`rows`: shaped [rows] or [..., rows, 1]) or per column ([columns] or
// [..., 1, columns]), broadcast over the operand's batch. Gives one value per matrix and row (column).
template <typename V>
std::vector<V> along_matrix(const std::vector<V>& values, const Shape& shape, const Shape& operand, const char* operand_name,
                            bool rows, const char* name, const NodeInfo& info) {
  const std::size_t r = operand.size();
  Shape target(operand.begin(), operand.end() - 2);
  target.push_back(operand[rows ? r - 2 : r - 1]);
  if (values.size() == 1) return std::vector<V>(static_cast<std::size_t>(product(target, 0, target.size())), values[0]);
  Shape own = shape;
  bool fits = !own.empty();
  if (own.size() >= 2) {
    const std::size_t one_dim = rows ? own.size() - 1 : own.size() - 2;
    fits = own[one_dim] == 1;
    own.erase(own.begin() + static_cast<std::ptrdiff_t>(one_dim));
  }
  fits = fits && own.size() <= target.size();
  for (std::size_t d = 0; fits && d < own.size(); ++d) fits = own[d] == 1 || own[d] == target[target.size() - own.size() + d];
  if (!fits)
    info.fail("{} {} is neither one value nor one per {} of {} {}", name, shape_string(shape), rows ? "row" : "column", operand_name,
              shape_string(operand));
  const auto strides = broadcast_strides(own, target.size());
  std::vector<V> out;
  for_each_index(target, [&](std::size_t, const std::vector<std::int64_t>& index) {
    std::int64_t at = 0;
    for (std::size_t d = 0; d < index.size(); ++d) at += index[d] * strides[d];
    out.push_back(values[static_cast<std::size_t>(at)]);
  });
  return out;
}

// The int32 sums of (a - a_zero) (b - b_zero) row by row, across threads: for result row r (of
// result matrix r / m), row(r, a_row, b_matrix, sums) gets its n sums, with a_row the row of a
// (counted across a's matrices) and b_matrix the matrix of b it multiplied. a_zero holds one value
// per row of a, b_zero one per column of each matrix of b.
template <typename A, typename B, typename F>
void integer_matmul(const MatmulShape& s, const A* a, const std::vector<std::int32_t>& a_zero, const B* b,
                    const std::vector<std::int32_t>& b_zero, F&& row) {
  // b - b_zero once, so that the inner loop runs along contiguous rows of it.
  const std::int64_t b_matrices = product(s.b, 0, s.b.size() - 2);
  std::vector<std::int16_t> shifted(static_cast<std::size_t>(b_matrices * s.k * s.n));
  std::int16_t* bs = shifted.data();
  for (std::int64_t bm = 0; bm < b_matrices; ++bm)
    for (std::int64_t kk = 0; kk < s.k; ++kk) {
      const std::int64_t at = (bm * s.k + kk) * s.n;
      const std::int32_t* zero = b_zero.data() + bm * s.n;
      for (std::int64_t j = 0; j < s.n; ++j) bs[at + j] = static_cast<std::int16_t>(b[at + j] - zero[j]);
    }
  const std::int64_t rows = static_cast<std::int64_t>(s.a_matrix.size()) * s.m;
  parallel_for(rows, std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(1, s.k * s.n)), [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::uint32_t> sums(static_cast<std::size_t>(s.n));
    std::uint32_t* acc = sums.data();
    for (std::int64_t r = begin; r < end; ++r) {
      const auto result = static_cast<std::size_t>(r / s.m);
      const std::int64_t a_row = s.a_matrix[result] * s.m + r % s.m, bm = s.b_matrix[result];
      const A* in = a + a_row * s.k;
      const std::int32_t zero = a_zero[static_cast<std::size_t>(a_row)];
      std::fill(sums.begin(), sums.end(), 0u);
      for (std::int64_t kk = 0; kk < s.k; ++kk) {
        const std::int32_t av = static_cast<std::int32_t>(in[kk]) - zero;
        if (av == 0) continue;
        const std::int16_t* bk = bs + (bm * s.k + kk) * s.n;
        for (std::int64_t j = 0; j < s.n; ++j) acc[j] += static_cast<std::uint32_t>(av * bk[j]);
      }
      row(r, a_row, bm, acc);
    }
  });
}

std::unique_ptr<Kernel> make_matmul_integer(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
    const Tensor& a = info.input(inputs, 0);
    const Tensor& b = info.input(inputs, 1);
    const Tensor* az = info.optional_input(inputs, 2);
    const Tensor* bz = info.optional_input(inputs, 3);
    const MatmulShape s = matmul_shape(a, b, "A", "B", info);
    Tensor y = allocate_checked(DType::i32, s.out, info);
    if (y.numel() == 0) return one(std::move(y));
    const auto a_zero = along_matrix(az ? zero_points(*az, "a_zero_point", a.dtype(), "A", info) : std::vector<std::int32_t>{0},
                                     az ? az->shape() : Shape{}, s.a, "A", true, "a_zero_point", info);
    const auto b_zero = along_matrix(bz ? zero_points(*bz, "b_zero_point", b.dtype(), "B", info) : std::vector<std::int32_t>{0},
                                     bz ? bz->shape() : Shape{}, s.b, "B", false, "b_zero_point", info);
    std::int32_t* o = y.values<std::int32_t>().data();
    visit_dtype<Quantized>(a.dtype(), [&](auto a_tag) {
      visit_dtype<Quantized>(b.dtype(), [&](auto b_tag) {
        using A = decltype(a_tag);
        using B = decltype(b_tag);
        integer_matmul(s, a.values<A>().data(), a_zero, b.values<B>().data(), b_zero,
                       [&](std::int64_t r, std::int64_t, std::int64_t, const std::uint32_t* sums) {
                         std::int32_t* out = o + r * s.n;
                         for (std::int64_t j = 0; j < s.n; ++j) out[j] = static_cast<std::int32_t>(sums[j]);
                       });
      });
    });
    return one(std::move(y));
  });
}

// a's scale and zero point per tensor or per row, b's per tensor or per column, y's per tensor.
std::unique_ptr<Kernel> make_qlinear_matmul(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
    const Tensor& a = info.input(inputs, 0);
    const Tensor& b = info.input(inputs, 3);
    const Tensor& yz = info.input(inputs, 7);
    const MatmulShape s = matmul_shape(a, b, "a", "b", info);
    Tensor y = allocate_checked(yz.dtype(), s.out, info);
    if (y.numel() == 0) return one(std::move(y));
    auto per_row = [&](const auto& values, std::size_t input, const char* name) {
      return along_matrix(values, info.input(inputs, input).shape(), s.a, "a", true, name, info);
    };
    auto per_column = [&](const auto& values, std::size_t input, const char* name) {
      return along_matrix(values, info.input(inputs, input).shape(), s.b, "b", false, name, info);
    };
    const auto a_scale = per_row(scales(info.input(inputs, 1), "a_scale", info), 1, "a_scale");
    const auto a_zero = per_row(zero_points(info.input(inputs, 2), "a_zero_point", a.dtype(), "a", info), 2, "a_zero_point");
    const auto b_scale = per_column(scales(info.input(inputs, 4), "b_scale", info), 4, "b_scale");
    const auto b_zero = per_column(zero_points(info.input(inputs, 5), "b_zero_point", b.dtype(), "b", info), 5, "b_zero_point");
    const float y_scale = single(scales(info.input(inputs, 6), "y_scale", info), "y_scale", info);
    const auto y_zero = static_cast<float>(single(zero_points(yz, "y_zero_point", yz.dtype(), "y", info), "y_zero_point", info));
    visit_dtype<Quantized>(a.dtype(), [&](auto a_tag) {
      visit_dtype<Quantized>(b.dtype(), [&](auto b_tag) {
        visit_dtype<Quantized>(y.dtype(), [&](auto y_tag) {
          using A = decltype(a_tag);
          using B = decltype(b_tag);
          using Y = decltype(y_tag);
          Y* o = y.values<Y>().data();
          integer_matmul(s, a.values<A>().data(), a_zero, b.values<B>().data(), b_zero,
                         [&](std::int64_t r, std::int64_t a_row, std::int64_t bm, const std::uint32_t* sums) {
                           const float as = a_scale[static_cast<std::size_t>(a_row)];
                           const float* bs = b_scale.data() + bm * s.n;
                           Y* out = o + r * s.n;
                           for (std::int64_t j = 0; j < s.n; ++j) out[j] = requantize<Y>(sums[j], as * bs[j] / y_scale, y_zero);
                         });
        });
      });
    });
    return one(std::move(y));
  });
}

// --- ConvInteger, QLinearConv ---

struct ConvShape {
  std::int64_t images = 0, channels = 0, maps = 0, group = 1;
  Shape in, kernel, out;  // spatial sizes
  std::vector<std::int64_t> strides, dilations, pad_begin;
};

ConvShape conv_shape(const Tensor& x, const Tensor& w, Window window, std::int64_t group, const NodeInfo& info) {
  if (x.rank() < 3) info.fail("x {} has no spatial dimension", shape_string(x.shape()));
  if (w.rank() != x.rank()) info.fail("w {} and x {} differ in rank", shape_string(w.shape()), shape_string(x.shape()));
  ConvShape s{x.dim(0), x.dim(1), w.dim(0), group, {}, {}, {}, {}, {}, {}};
  if (s.channels % group != 0 || s.channels / group != w.dim(1) || s.maps % group != 0)
    info.fail("x {} with group {} does not match w {}", shape_string(x.shape()), group, shape_string(w.shape()));
  s.in.assign(x.shape().begin() + 2, x.shape().end());
  s.kernel.assign(w.shape().begin() + 2, w.shape().end());
  if (window.kernel.empty()) window.kernel = s.kernel;
  else if (window.kernel != s.kernel) info.fail("kernel_shape {} does not match w {}", fmt::join(window.kernel, ","), shape_string(w.shape()));
  if (std::find(s.kernel.begin(), s.kernel.end(), 0) != s.kernel.end()) info.fail("w {} has an empty kernel", shape_string(w.shape()));
  const Window::Resolved r = window.resolve(s.in, info);
  s.out = r.out;
  s.pad_begin = r.pad_begin;
  s.strides = window.strides.empty() ? std::vector<std::int64_t>(s.in.size(), 1) : window.strides;
  s.dilations = window.dilations.empty() ? std::vector<std::int64_t>(s.in.size(), 1) : window.dilations;
  return s;
}

// The index arithmetic every output plane shares. Rows are all spatial dimensions but the last: for
// each kernel row and output row, the input row they meet; along the last dimension, for each kernel
// index, the outputs whose input lies inside x (the padding adds nothing) and the input's shift.
struct ConvLoops {
  std::int64_t in_plane = 0, out_plane = 0, kernel_plane = 0, out_rows = 0, kernel_rows = 0, out_last = 0, kernel_last = 0, stride = 1;
  std::vector<std::int64_t> row_offset;           // [kernel row * out_rows + output row]; -1 in the padding
  std::vector<std::int64_t> first, end, shift;  // per kernel index along the last dimension

  explicit ConvLoops(const ConvShape& s) {
    const std::size_t r = s.in.size(), last = r - 1;
    in_plane = product(s.in, 0, r);
    out_plane = product(s.out, 0, r);
    kernel_plane = product(s.kernel, 0, r);
    out_rows = product(s.out, 0, last);
    kernel_rows = product(s.kernel, 0, last);
    out_last = s.out[last];
    kernel_last = s.kernel[last];
    stride = s.strides[last];
    const auto in_strides = contiguous_strides(s.in);
    Shape rows(s.kernel.begin(), s.kernel.begin() + static_cast<std::ptrdiff_t>(last));
    rows.insert(rows.end(), s.out.begin(), s.out.begin() + static_cast<std::ptrdiff_t>(last));
    row_offset.resize(static_cast<std::size_t>(kernel_rows * out_rows));
    for_each_index(rows, [&](std::size_t i, const std::vector<std::int64_t>& index) {
      std::int64_t offset = 0;
      for (std::size_t d = 0; d < last && offset >= 0; ++d) {
        const std::int64_t at = index[last + d] * s.strides[d] + index[d] * s.dilations[d] - s.pad_begin[d];
        offset = at < 0 || at >= s.in[d] ? -1 : offset + at * in_strides[d];
      }
      row_offset[i] = offset;
    });
    for (std::int64_t k = 0; k < kernel_last; ++k) {
      // Outputs o with 0 <= o * stride + at < in.
      const std::int64_t at = k * s.dilations[last] - s.pad_begin[last], in = s.in[last];
      const std::int64_t lo = at >= 0 ? 0 : (stride - 1 - at) / stride;
      const std::int64_t hi = at >= in ? 0 : std::min(out_last, (in - 1 - at) / stride + 1);
      first.push_back(lo);
      end.push_back(std::max(lo, hi));
      shift.push_back(at);
    }
  }
};

// Adds to acc, the output plane of `image` and `map`, the sums of (x - x_zero) (w - w_zero) over each window.
template <typename X, typename W>
void accumulate_plane(const ConvShape& s, const ConvLoops& l, const X* x, std::int32_t x_zero, const W* w, std::int32_t w_zero,
                      std::int64_t image, std::int64_t map, std::uint32_t* acc) {
  const std::int64_t per_group = s.channels / s.group, first_channel = map / (s.maps / s.group) * per_group;
  for (std::int64_t c = 0; c < per_group; ++c) {
    const X* xc = x + (image * s.channels + first_channel + c) * l.in_plane;
    const W* wc = w + (map * per_group + c) * l.kernel_plane;
    for (std::int64_t kr = 0; kr < l.kernel_rows; ++kr) {
      const std::int64_t* offsets = l.row_offset.data() + kr * l.out_rows;
      for (std::int64_t kl = 0; kl < l.kernel_last; ++kl) {
        const std::int32_t wv = static_cast<std::int32_t>(wc[kr * l.kernel_last + kl]) - w_zero;
        const auto k = static_cast<std::size_t>(kl);
        const std::int64_t first = l.first[k], count = l.end[k] - first;
        if (wv == 0 || count == 0) continue;
        for (std::int64_t o = 0; o < l.out_rows; ++o) {
          if (offsets[o] < 0) continue;
          const X* in = xc + (offsets[o] + l.shift[k] + first * l.stride);
          std::uint32_t* out = acc + o * l.out_last + first;
          if (l.stride == 1) {
            for (std::int64_t j = 0; j < count; ++j) out[j] += static_cast<std::uint32_t>(wv * (static_cast<std::int32_t>(in[j]) - x_zero));
          } else {
            for (std::int64_t j = 0; j < count; ++j)
              out[j] += static_cast<std::uint32_t>(wv * (static_cast<std::int32_t>(in[j * l.stride]) - x_zero));
          }
        }
      }
    }
  }
}

// The int32 sums of a quantized convolution, plane by plane across threads: plane(p, map, sums) gets
// the output plane p = image * maps + map.
template <typename X, typename W, typename F>
void integer_conv(const ConvShape& s, const X* x, std::int32_t x_zero, const W* w, const std::vector<std::int32_t>& w_zero, F&& plane) {
  const ConvLoops loops(s);
  const std::int64_t cost = std::max<std::int64_t>(1, loops.out_plane * loops.kernel_plane * (s.channels / s.group));
  parallel_for(s.images * s.maps, std::max<std::int64_t>(1, 65536 / cost), [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::uint32_t> sums(static_cast<std::size_t>(loops.out_plane));
    for (std::int64_t p = begin; p < end; ++p) {
      const std::int64_t map = p % s.maps;
      std::fill(sums.begin(), sums.end(), 0u);
      accumulate_plane(s, loops, x, x_zero, w, w_zero[static_cast<std::size_t>(map)], p / s.maps, map, sums.data());
      plane(p, map, sums.data());
    }
  });
}

Shape conv_output(const ConvShape& s) {
  Shape out{s.images, s.maps};
  out.insert(out.end(), s.out.begin(), s.out.end());
  return out;
}

std::int64_t checked_group(const Node& node, const NodeInfo& info) {
  const std::int64_t group = node.get_int("group", 1);
  if (group <= 0) info.fail("group {} is not positive", group);
  return group;
}

// x's zero point per tensor, w's per tensor or per output channel.
std::unique_ptr<Kernel> make_conv_integer(const Node& node, std::int64_t) {
  const NodeInfo info(node);
  return make_function_kernel([info, window = Window::from(node, info), group = checked_group(node, info)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor& w = info.input(inputs, 1);
    const Tensor* xz = info.optional_input(inputs, 2);
    const Tensor* wz = info.optional_input(inputs, 3);
    const ConvShape s = conv_shape(x, w, window, group, info);
    Tensor y = allocate_checked(DType::i32, conv_output(s), info);
    if (y.numel() == 0) return one(std::move(y));
    const std::int32_t x_zero = xz ? single(zero_points(*xz, "x_zero_point", x.dtype(), "x", info), "x_zero_point", info) : 0;
    const auto w_zero = per_map(wz ? zero_points(*wz, "w_zero_point", w.dtype(), "w", info) : std::vector<std::int32_t>{0}, s.maps,
                                "w_zero_point", info);
    std::int32_t* o = y.values<std::int32_t>().data();
    const std::int64_t plane = product(s.out, 0, s.out.size());
    visit_dtype<Quantized>(x.dtype(), [&](auto x_tag) {
      visit_dtype<Quantized>(w.dtype(), [&](auto w_tag) {
        using X = decltype(x_tag);
        using W = decltype(w_tag);
        integer_conv(s, x.values<X>().data(), x_zero, w.values<W>().data(), w_zero, [&](std::int64_t p, std::int64_t, const std::uint32_t* sums) {
          std::int32_t* out = o + p * plane;
          for (std::int64_t i = 0; i < plane; ++i) out[i] = static_cast<std::int32_t>(sums[i]);
        });
      });
    });
    return one(std::move(y));
  });
}

// x's and y's scale and zero point per tensor, w's per tensor or per output channel; B, the int32
// bias, at scale x_scale * w_scale.
std::unique_ptr<Kernel> make_qlinear_conv(const Node& node, std::int64_t) {
  const NodeInfo info(node);
  return make_function_kernel([info, window = Window::from(node, info), group = checked_group(node, info)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor& w = info.input(inputs, 3);
    const Tensor& yz = info.input(inputs, 7);
    const Tensor* bias = info.optional_input(inputs, 8);
    const ConvShape s = conv_shape(x, w, window, group, info);
    Tensor y = allocate_checked(yz.dtype(), conv_output(s), info);
    if (y.numel() == 0) return one(std::move(y));
    const float x_scale = single(scales(info.input(inputs, 1), "x_scale", info), "x_scale", info);
    const std::int32_t x_zero = single(zero_points(info.input(inputs, 2), "x_zero_point", x.dtype(), "x", info), "x_zero_point", info);
    const auto w_scale = per_map(scales(info.input(inputs, 4), "w_scale", info), s.maps, "w_scale", info);
    const auto w_zero = per_map(zero_points(info.input(inputs, 5), "w_zero_point", w.dtype(), "w", info), s.maps, "w_zero_point", info);
    const float y_scale = single(scales(info.input(inputs, 6), "y_scale", info), "y_scale", info);
    const auto y_zero = static_cast<float>(single(zero_points(yz, "y_zero_point", yz.dtype(), "y", info), "y_zero_point", info));
    std::vector<std::uint32_t> b(static_cast<std::size_t>(s.maps), 0u);
    if (bias) {
      info.expect_dtype(*bias, DType::i32, "B");
      if (bias->rank() != 1 || bias->dim(0) != s.maps) info.fail("B {} does not match {} output channels", shape_string(bias->shape()), s.maps);
      std::transform(bias->values<std::int32_t>().begin(), bias->values<std::int32_t>().end(), b.begin(),
                     [](std::int32_t v) { return static_cast<std::uint32_t>(v); });
    }
    std::vector<float> multiplier(w_scale.size());
    for (std::size_t m = 0; m < w_scale.size(); ++m) multiplier[m] = x_scale * w_scale[m] / y_scale;
    const std::int64_t plane = product(s.out, 0, s.out.size());
    visit_dtype<Quantized>(x.dtype(), [&](auto x_tag) {
      visit_dtype<Quantized>(w.dtype(), [&](auto w_tag) {
        visit_dtype<Quantized>(y.dtype(), [&](auto y_tag) {
          using X = decltype(x_tag);
          using W = decltype(w_tag);
          using Y = decltype(y_tag);
          Y* o = y.values<Y>().data();
          integer_conv(s, x.values<X>().data(), x_zero, w.values<W>().data(), w_zero,
                       [&](std::int64_t p, std::int64_t map, const std::uint32_t* sums) {
                         const auto m = static_cast<std::size_t>(map);
                         Y* out = o + p * plane;
                         for (std::int64_t i = 0; i < plane; ++i) out[i] = requantize<Y>(sums[i] + b[m], multiplier[m], y_zero);
                       });
        });
      });
    });
    return one(std::move(y));
  });
}

}  // namespace

void add_quantization_kernels(KernelTable& t) {
  const std::vector<DType> quantized = dtypes(Quantized{});
  // QuantizeLinear-19's saturate concerns float8 outputs only, which the engine refuses at import.
  t.add("QuantizeLinear", make_quantize, {10, 20}, {DType::f32, DType::i32});
  t.add("DequantizeLinear", make_dequantize, {10, 20}, {DType::u8, DType::i8, DType::i32});
  t.add("DynamicQuantizeLinear", make_dynamic_quantize, {11}, {DType::f32});
  t.add("MatMulInteger", make_matmul_integer, {10}, quantized);
  t.add("QLinearMatMul", make_qlinear_matmul, {10}, quantized);
  t.add("ConvInteger", make_conv_integer, {10}, quantized);
  t.add("QLinearConv", make_qlinear_conv, {10}, quantized);
}

}  // namespace cpuinfer::engine

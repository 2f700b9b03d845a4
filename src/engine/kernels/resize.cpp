// Resize (and its opset 10 form): nearest, linear and cubic interpolation over any axes, one axis
// at a time, with every coordinate transformation mode of opsets 10 to 17 (half_pixel,
// pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize) and
// nearest's rounding modes. Output sizes come from `sizes` or floor(input * scales).
#include <cmath>

#include "engine/kernels/kernel_util.h"
#include "engine/limits.h"

namespace cpuinfer::engine {

namespace {

struct Taps {  // per output index along one axis
  std::vector<std::int64_t> index;  // taps_per_output indices into the input axis
  std::vector<double> weight;
  std::vector<bool> outside;        // tf_crop_and_resize: the output element takes extrapolation_value
  std::size_t per_output = 1;
};

struct ResizeAttributes {
  std::string mode, transform, nearest;
  double cubic_a = -0.75, extrapolation = 0;
  std::vector<float> scales;  // Upsample before opset 9
  bool exclude_outside = false;
};

double source_coordinate(const ResizeAttributes& a, double x, double scale, std::int64_t in, std::int64_t out,
                         double roi_start, double roi_end) {
  const std::string& t = a.transform;
  if (t == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (t == "pytorch_half_pixel") return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  // The resized length is in * scale, unrounded, as ONNX's reference computes it.
  const double length = static_cast<double>(in) * scale;
  if (t == "align_corners") return out == 1 ? 0.0 : x * static_cast<double>(in - 1) / (length - 1);
  if (t == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  if (t == "tf_crop_and_resize")
    return out > 1 ? roi_start * static_cast<double>(in - 1) + x * (roi_end - roi_start) * static_cast<double>(in - 1) / static_cast<double>(out - 1)
                   : 0.5 * (roi_start + roi_end) * static_cast<double>(in - 1);
  return x / scale;  // asymmetric
}

Taps make_taps(const ResizeAttributes& a, std::int64_t in, std::int64_t out, double scale, double roi_start, double roi_end) {
  Taps taps;
  taps.per_output = a.mode == "nearest" ? 1 : a.mode == "linear" ? 2 : 4;
  auto clamp = [&](std::int64_t i) { return std::min<std::int64_t>(std::max<std::int64_t>(i, 0), in - 1); };
  for (std::int64_t o = 0; o < out; ++o) {
    const double x = source_coordinate(a, static_cast<double>(o), scale, in, out, roi_start, roi_end);
    taps.outside.push_back(a.transform == "tf_crop_and_resize" && (x < 0 || x > static_cast<double>(in - 1)));
    if (a.mode == "nearest") {
      double r;
      if (a.nearest == "floor") r = std::floor(x);
      else if (a.nearest == "ceil") r = std::ceil(x);
      else if (x - std::floor(x) == 0.5) r = a.nearest == "round_prefer_ceil" ? std::ceil(x) : std::floor(x);
      else r = std::round(x);
      taps.index.push_back(clamp(static_cast<std::int64_t>(r)));
      taps.weight.push_back(1.0);
      continue;
    }
    const double f = std::floor(x), r = x - f;
    const auto base = static_cast<std::int64_t>(f);
    std::vector<std::int64_t> at;
    std::vector<double> w;
    if (a.mode == "linear") {
      at = {base, base + 1};
      w = {1 - r, r};
    } else {
      at = {base - 1, base, base + 1, base + 2};
      const auto cubic = cubic_weights(r, a.cubic_a);
      w.assign(cubic.begin(), cubic.end());
    }
    if (a.exclude_outside) {
      double sum = 0;
      for (std::size_t k = 0; k < at.size(); ++k) {
        if (at[k] < 0 || at[k] >= in) w[k] = 0;
        sum += w[k];
      }
      for (double& v : w) v = sum != 0 ? v / sum : 0;
    }
    for (std::size_t k = 0; k < at.size(); ++k) {
      taps.index.push_back(clamp(at[k]));
      taps.weight.push_back(w[k]);
    }
  }
  return taps;
}

// Interpolates `x` along `axis` into `out` elements.
Tensor resize_axis(const Tensor& x, std::size_t axis, std::int64_t out, const Taps& taps) {
  Shape shape = x.shape();
  shape[axis] = out;
  Tensor y = Tensor::uninitialized(DType::f32, shape);
  const std::int64_t outer = product(x.shape(), 0, axis), in = x.dim(axis), inner = product(x.shape(), axis + 1, x.rank());
  const float* src = x.values<float>().data();
  float* dst = y.values<float>().data();
  parallel_for(outer, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t a = begin; a < end; ++a)
      for (std::int64_t o = 0; o < out; ++o)
        for (std::int64_t b = 0; b < inner; ++b) {
          double v = 0;
          for (std::size_t k = 0; k < taps.per_output; ++k) {
            const std::size_t t = static_cast<std::size_t>(o) * taps.per_output + k;
            v += taps.weight[t] * src[(a * in + taps.index[t]) * inner + b];
          }
          dst[(a * out + o) * inner + b] = static_cast<float>(v);
        }
  });
  return y;
}

std::unique_ptr<Kernel> make_resize(const Node& node, std::int64_t opset) {
  NodeInfo info(node);
  ResizeAttributes a;
  a.mode = node.get_string("mode", "nearest");
  if (a.mode != "nearest" && a.mode != "linear" && a.mode != "cubic") info.unsupported("mode '{}'", a.mode);
  a.transform = opset < 11 ? "asymmetric" : node.get_string("coordinate_transformation_mode", "half_pixel");
  if (a.transform != "half_pixel" && a.transform != "pytorch_half_pixel" && a.transform != "align_corners" &&
      a.transform != "asymmetric" && a.transform != "tf_half_pixel_for_nn" && a.transform != "tf_crop_and_resize")
    info.unsupported("coordinate_transformation_mode '{}'", a.transform);
  a.nearest = opset < 11 ? "floor" : node.get_string("nearest_mode", "round_prefer_floor");
  if (a.nearest != "round_prefer_floor" && a.nearest != "round_prefer_ceil" && a.nearest != "floor" && a.nearest != "ceil")
    info.unsupported("nearest_mode '{}'", a.nearest);
  a.cubic_a = node.get_float("cubic_coeff_a", -0.75f);
  a.exclude_outside = node.get_int("exclude_outside", 0) != 0;
  a.extrapolation = node.get_float("extrapolation_value", 0.0f);
  if (node.get_int("antialias", 0) != 0) info.unsupported("antialias");
  if (node.has("axes")) info.unsupported("axes");
  if (const std::string policy = node.get_string("keep_aspect_ratio_policy", "stretch"); policy != "stretch")
    info.unsupported("keep_aspect_ratio_policy '{}'", policy);
  if (opset < 9) a.scales = node.get_floats("scales");
  return make_function_kernel([info, a, opset](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    if (x.dtype() != DType::f32) info.unsupported("element type {}", dtype_name(x.dtype()));
    const std::size_t r = x.rank();
    const Tensor* roi = opset >= 11 ? info.optional_input(inputs, 1) : nullptr;
    const Tensor* scales = info.optional_input(inputs, opset >= 11 ? 2 : 1);
    Tensor scales_attribute;  // Upsample before opset 9
    if (opset < 9) {
      scales_attribute = Tensor(DType::f32, {static_cast<std::int64_t>(a.scales.size())});
      std::copy(a.scales.begin(), a.scales.end(), scales_attribute.values<float>().begin());
      scales = &scales_attribute;
    }
    const Tensor* sizes = opset >= 11 ? info.optional_input(inputs, 3) : nullptr;
    if (scales && scales->numel() == 0) scales = nullptr;
    if (sizes && sizes->numel() == 0) sizes = nullptr;
    if (!scales == !sizes) info.fail("exactly one of scales and sizes must be given");
    std::vector<double> scale(r, 1.0), roi_start(r, 0.0), roi_end(r, 1.0);
    Shape out(r);
    if (scales) {
      info.expect_dtype(*scales, DType::f32, "scales");
      if (scales->numel() != r) info.fail("scales has {} values for rank {}", scales->numel(), r);
      for (std::size_t d = 0; d < r; ++d) {
        scale[d] = scales->values<float>()[d];
        if (!(scale[d] > 0)) info.fail("scale {} is not positive", scale[d]);
        const double length = std::floor(static_cast<double>(x.dim(d)) * scale[d]);
        if (!(length <= static_cast<double>(kMaxDimension))) info.fail("scale {} makes axis {} of size {} larger than any tensor", scale[d], d, x.dim(d));
        out[d] = static_cast<std::int64_t>(length);
      }
    } else {
      const auto s = info.ints(*sizes, "sizes");
      if (s.size() != r) info.fail("sizes has {} values for rank {}", s.size(), r);
      for (std::size_t d = 0; d < r; ++d) {
        if (s[d] < 0) info.fail("size {} is negative", s[d]);
        out[d] = s[d];
        scale[d] = x.dim(d) ? static_cast<double>(s[d]) / static_cast<double>(x.dim(d)) : 1.0;
      }
    }
    if (a.transform == "tf_crop_and_resize") {
      if (!roi || roi->numel() != 2 * r) info.fail("tf_crop_and_resize needs an roi of {} values", 2 * r);
      for (std::size_t d = 0; d < r; ++d) {
        roi_start[d] = roi->dtype() == DType::f64 ? roi->values<double>()[d] : roi->values<float>()[d];
        roi_end[d] = roi->dtype() == DType::f64 ? roi->values<double>()[r + d] : roi->values<float>()[r + d];
      }
    }
    checked_numel(out, sizeof(float), max_computed_tensor_bytes());
    Tensor y = x;
    std::vector<std::vector<bool>> outside(r);
    for (std::size_t d = 0; d < r; ++d) {
      if (out[d] == x.dim(d) && scale[d] == 1.0 && a.transform != "tf_crop_and_resize") continue;
      if (x.dim(d) == 0) info.fail("cannot resize the empty axis {}", d);
      const Taps taps = make_taps(a, x.dim(d), out[d], scale[d], roi_start[d], roi_end[d]);
      outside[d] = taps.outside;
      y = resize_axis(y, d, out[d], taps);
    }
    if (a.transform == "tf_crop_and_resize") {  // elements outside the input along any axis
      float* o = y.values<float>().data();
      for_each_index(out, [&](std::size_t i, const std::vector<std::int64_t>& index) {
        for (std::size_t d = 0; d < r; ++d)
          if (!outside[d].empty() && outside[d][static_cast<std::size_t>(index[d])]) {
            o[i] = static_cast<float>(a.extrapolation);
            return;
          }
      });
    }
    return one(std::move(y));
  });
}

}  // namespace

void add_resize_kernels(KernelTable& t) {
  // Resize-18's antialias, axes and keep_aspect_ratio_policy are refused unless they keep the old
  // behaviour; Resize-19's half_pixel_symmetric is refused as a coordinate mode.
  t.add("Resize", make_resize, {10, 19}, {DType::f32});
  t.add("Upsample", make_resize, {7, 9}, {DType::f32});
}

}  // namespace cpuinfer::engine

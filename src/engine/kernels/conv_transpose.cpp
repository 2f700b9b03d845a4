// ConvTranspose (1 to 3 spatial dimensions, groups, strides, dilations, pads or auto_pad,
// output_padding, output_shape) as a scatter over the input: each input element adds its weighted
// kernel window to the output. Our own loop, float32; a oneDNN deconvolution is the faster path
// still to come.
#include <algorithm>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

namespace {

std::unique_ptr<Kernel> make_conv_transpose(const Node& node, std::int64_t) {
  NodeInfo info(node);
  const std::string auto_pad = node.get_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID")
    info.fail("unknown auto_pad '{}'", auto_pad);
  const std::int64_t group = node.get_int("group", 1);
  if (group <= 0) info.fail("group {} is not positive", group);
  return make_function_kernel([info, auto_pad, group, kernel_attr = node.get_ints("kernel_shape"), strides_attr = node.get_ints("strides"),
                               dilations_attr = node.get_ints("dilations"), pads_attr = node.get_ints("pads"),
                               output_padding_attr = node.get_ints("output_padding"),
                               output_shape_attr = node.get_ints("output_shape")](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor& w = info.input(inputs, 1);
    const Tensor* b = info.optional_input(inputs, 2);
    for (const Tensor* t : {&x, &w, b})
      if (t && t->dtype() != DType::f32) info.unsupported("element type {}", dtype_name(t->dtype()));
    if (x.rank() < 3 || x.rank() > 5) info.unsupported("input of rank {} (1 to 3 spatial dimensions are supported)", x.rank());
    if (w.rank() != x.rank()) info.fail("weights {} do not match input {}", shape_string(w.shape()), shape_string(x.shape()));
    const std::size_t n_sp = x.rank() - 2;
    const std::int64_t batch = x.dim(0), in_c = x.dim(1), out_per_group = w.dim(1), out_c = out_per_group * group;
    if (w.dim(0) != in_c || in_c % group != 0) info.fail("input {} with group {} does not match weights {}", shape_string(x.shape()), group, shape_string(w.shape()));
    if (b && b->numel() != static_cast<std::size_t>(out_c)) info.fail("bias has {} values for {} output channels", b->numel(), out_c);
    auto per_axis = [&](const std::vector<std::int64_t>& v, std::int64_t fallback, const char* what) {
      if (!v.empty() && v.size() != n_sp) info.fail("{} has {} values for {} spatial dimensions", what, v.size(), n_sp);
      return v.empty() ? std::vector<std::int64_t>(n_sp, fallback) : v;
    };
    const auto stride = per_axis(strides_attr, 1, "strides"), dilation = per_axis(dilations_attr, 1, "dilations");
    const auto out_pad = per_axis(output_padding_attr, 0, "output_padding");
    std::vector<std::int64_t> kernel = kernel_attr.empty() ? std::vector<std::int64_t>(w.shape().begin() + 2, w.shape().end()) : kernel_attr;
    if (kernel.size() != n_sp) info.fail("kernel_shape has {} sizes for {} spatial dimensions", kernel.size(), n_sp);
    std::vector<std::int64_t> pad_begin(n_sp, 0), out_sp(n_sp);
    for (std::size_t i = 0; i < n_sp; ++i) {
      if (kernel[i] != w.dim(i + 2)) info.fail("kernel_shape does not match weights {}", shape_string(w.shape()));
      if (stride[i] <= 0 || dilation[i] <= 0) info.fail("strides and dilations must be positive");
      const std::int64_t in = x.dim(i + 2), extent = (kernel[i] - 1) * dilation[i] + 1;
      const std::int64_t full = stride[i] * (in - 1) + out_pad[i] + extent;  // before padding
      if (!output_shape_attr.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        const std::int64_t target = !output_shape_attr.empty() ? output_shape_attr[output_shape_attr.size() - n_sp + i] : in * stride[i];
        const std::int64_t total = std::max<std::int64_t>(full - target, 0);
        pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
        out_sp[i] = target;
      } else {
        const std::int64_t begin = pads_attr.empty() || auto_pad == "VALID" ? 0 : pads_attr[i];
        const std::int64_t end = pads_attr.empty() || auto_pad == "VALID" ? 0 : pads_attr[n_sp + i];
        pad_begin[i] = begin;
        out_sp[i] = full - begin - end;
      }
      if (out_sp[i] < 0) info.fail("the output's spatial size {} is negative", out_sp[i]);
    }
    Shape out{batch, out_c};
    out.insert(out.end(), out_sp.begin(), out_sp.end());
    Tensor y = allocate_checked(DType::f32, out, info);
    float* o = y.values<float>().data();
    const std::int64_t out_size = product(out, 2, out.size()), in_size = product(x.shape(), 2, x.rank());
    const std::int64_t k_size = product(w.shape(), 2, w.rank());
    for (std::int64_t n = 0; n < batch; ++n)
      for (std::int64_t c = 0; c < out_c; ++c)
        std::fill_n(o + (n * out_c + c) * out_size, out_size, b ? b->values<float>()[static_cast<std::size_t>(c)] : 0.0f);
    const float* xv = x.values<float>().data();
    const float* wv = w.values<float>().data();
    const std::int64_t in_per_group = in_c / group;
    parallel_for(batch * group, 1, [&](std::int64_t begin, std::int64_t end) {
      std::vector<std::int64_t> ii(n_sp), kk(n_sp);
      for (std::int64_t ng = begin; ng < end; ++ng) {
        const std::int64_t n = ng / group, g = ng % group;
        for (std::int64_t ic = g * in_per_group; ic < (g + 1) * in_per_group; ++ic)
          for (std::int64_t p = 0; p < in_size; ++p) {
            const float v = xv[(n * in_c + ic) * in_size + p];
            for (std::int64_t r = p, d = static_cast<std::int64_t>(n_sp); d-- > 0;) {
              ii[static_cast<std::size_t>(d)] = r % x.dim(static_cast<std::size_t>(d) + 2);
              r /= x.dim(static_cast<std::size_t>(d) + 2);
            }
            for (std::int64_t q = 0; q < k_size; ++q) {
              std::int64_t at = 0;
              bool inside = true;
              for (std::int64_t r = q, d = static_cast<std::int64_t>(n_sp); d-- > 0;) {
                const auto du = static_cast<std::size_t>(d);
                kk[du] = r % kernel[du];
                r /= kernel[du];
              }
              for (std::size_t d = 0; d < n_sp && inside; ++d) {
                const std::int64_t pos = ii[d] * stride[d] - pad_begin[d] + kk[d] * dilation[d];
                inside = pos >= 0 && pos < out_sp[d];
                at = at * out_sp[d] + pos;
              }
              if (!inside) continue;
              for (std::int64_t oc = 0; oc < out_per_group; ++oc)
                o[(n * out_c + g * out_per_group + oc) * out_size + at] += v * wv[(ic * out_per_group + oc) * k_size + q];
            }
          }
      }
    });
    return one(std::move(y));
  });
}

}  // namespace

void add_conv_transpose_kernels(KernelTable& t) { t.add("ConvTranspose", make_conv_transpose, {}, {DType::f32}); }

}  // namespace cpuinfer::engine

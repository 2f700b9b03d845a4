// Normalisation: BatchNormalization (running statistics, or in training mode the batch's, with the
// updated running statistics as outputs) and
// LayerNormalization (with its optional Mean and InvStdDev outputs), whose loops are per ISA
// (kernels/vector); InstanceNormalization, LRN and MeanVarianceNormalization.
#include <cmath>

#include "engine/kernels/kernel_util.h"
#include "engine/kernels/vector/vector_loops.h"

namespace cpuinfer::engine {

namespace {

std::unique_ptr<Kernel> make_batch_norm(const Node& node, std::int64_t) {
  NodeInfo info(node);
  const bool training = node.get_int("training_mode", 0) != 0;
  const float epsilon = node.get_float("epsilon", 1e-5f), momentum = node.get_float("momentum", 0.9f);
  return make_function_kernel([info, epsilon, momentum, training, outputs = node.outputs.size(),
                               &loops = vector_loops()](Inputs inputs) {
    if (outputs > 1 && !training) info.unsupported("the statistics outputs of opset 9's training mode");
    const Tensor& x = info.input(inputs, 0);
    if (x.rank() < 2) info.fail("input of shape {} has no channel dimension", shape_string(x.shape()));
    const std::int64_t channels = x.dim(1);
    const Tensor* params[4];
    const char* names[4] = {"scale", "B", "mean", "var"};
    for (std::size_t k = 0; k < 4; ++k) {
      params[k] = &info.input(inputs, k + 1);
      info.expect_dtype(*params[k], DType::f32, names[k]);
      if (params[k]->numel() != static_cast<std::size_t>(channels))
        info.fail("{} has {} values for {} channels", names[k], params[k]->numel(), channels);
    }
    if (x.dtype() != DType::f32) info.unsupported("element type {}", dtype_name(x.dtype()));
    const std::int64_t spatial = product(x.shape(), 2, x.rank());
    const float* in = x.values<float>().data();
    // Training mode normalises by the batch's mean and (population) variance per channel.
    std::vector<float> mean(params[2]->values<float>().begin(), params[2]->values<float>().end());
    std::vector<float> var(params[3]->values<float>().begin(), params[3]->values<float>().end());
    if (training) {
      for (std::int64_t c = 0; c < channels; ++c) {
        double sum = 0, squares = 0;
        for (std::int64_t n = 0; n < x.dim(0); ++n)
          for (std::int64_t i = 0; i < spatial; ++i) {
            const double v = in[(n * channels + c) * spatial + i];
            sum += v;
            squares += v * v;
          }
        const double count = static_cast<double>(x.dim(0) * spatial), m = count ? sum / count : 0.0;
        mean[static_cast<std::size_t>(c)] = static_cast<float>(m);
        const double v = count ? squares / count - m * m : 0.0;
        var[static_cast<std::size_t>(c)] = static_cast<float>(v < 0 ? 0.0 : v);  // rounding below 0 clamped, NaN kept
      }
    }
    std::vector<float> scale(static_cast<std::size_t>(channels)), shift(static_cast<std::size_t>(channels));
    for (std::size_t c = 0; c < scale.size(); ++c) {
      scale[c] = params[0]->values<float>()[c] / std::sqrt(var[c] + epsilon);
      shift[c] = params[1]->values<float>()[c] - mean[c] * scale[c];
    }
    Tensor y = Tensor::uninitialized(DType::f32, x.shape());
    float* out = y.values<float>().data();
    parallel_for(x.dim(0) * channels, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(spatial, 1)),
                 [&](std::int64_t begin, std::int64_t end) {
                   for (std::int64_t k = begin; k < end; ++k) {
                     const auto c = static_cast<std::size_t>(k % channels);
                     loops.affine(in + k * spatial, out + k * spatial, spatial, scale[c], shift[c]);
                   }
                 });
    std::vector<Tensor> result;
    result.push_back(std::move(y));
    if (training && outputs > 1) {  // running_mean and running_var, updated with the batch's
      for (std::size_t k : {2, 3}) {
        Tensor running = Tensor::uninitialized(DType::f32, params[k]->shape());
        const std::vector<float>& batch = k == 2 ? mean : var;
        for (std::size_t c = 0; c < batch.size(); ++c)
          running.values<float>()[c] = params[k]->values<float>()[c] * momentum + batch[c] * (1 - momentum);
        result.push_back(std::move(running));
      }
    }
    return result;
  });
}

std::unique_ptr<Kernel> make_layer_norm(const Node& node, std::int64_t) {
  const std::int64_t axis_attr = node.get_int("axis", -1);
  const float epsilon = node.get_float("epsilon", 1e-5f);
  return make_function_kernel([info = NodeInfo(node), axis_attr, epsilon, outputs = node.outputs.size(),
                               &loops = vector_loops()](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor& scale = info.input(inputs, 1);
    const Tensor* bias = info.optional_input(inputs, 2);
    if (x.dtype() != DType::f32) info.unsupported("element type {}", dtype_name(x.dtype()));
    info.expect_dtype(scale, DType::f32, "Scale");
    if (bias) info.expect_dtype(*bias, DType::f32, "B");
    const auto axis = static_cast<std::size_t>(info.axis(axis_attr, x.rank()));
    const std::int64_t rows = product(x.shape(), 0, axis);
    const std::int64_t n = product(x.shape(), axis, x.rank());
    // Scale and B broadcast to the normalised shape; the exporters give them that exact shape.
    const Shape normalized(x.shape().begin() + static_cast<std::ptrdiff_t>(axis), x.shape().end());
    Broadcast scale_plan = plan_broadcast({normalized, scale.shape()}, info);
    if (scale_plan.shape != normalized || (bias && plan_broadcast({normalized, bias->shape()}, info).shape != normalized))
      info.fail("Scale {} and B do not broadcast to the normalised shape {}", shape_string(scale.shape()), shape_string(normalized));
    auto expand = [&](const Tensor& t) {
      std::vector<float> full(static_cast<std::size_t>(n));
      Broadcast b = plan_broadcast({normalized, t.shape()}, info);
      const float* src = t.values<float>().data();
      for_each_broadcast_row<2>(b, [&](const auto& offsets, std::int64_t o, std::int64_t len, const auto& strides) {
        for (std::int64_t i = 0; i < len; ++i) full[static_cast<std::size_t>(o + i)] = src[offsets[1] + i * strides[1]];
      });
      return full;
    };
    const std::vector<float> gamma = expand(scale);
    const std::vector<float> beta = bias ? expand(*bias) : std::vector<float>(static_cast<std::size_t>(n), 0.0f);
    Shape stat_shape = x.shape();
    for (std::size_t d = axis; d < stat_shape.size(); ++d) stat_shape[d] = 1;
    Tensor y = Tensor::uninitialized(DType::f32, x.shape());
    Tensor mean_out = Tensor::uninitialized(DType::f32, stat_shape), inv_out = Tensor::uninitialized(DType::f32, stat_shape);
    const float* in = x.values<float>().data();
    float* out = y.values<float>().data();
    float* means = mean_out.values<float>().data();
    float* invs = inv_out.values<float>().data();
    parallel_for(rows, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(n, 1)), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row)
        loops.layer_norm_row(in + row * n, gamma.data(), beta.data(), out + row * n, n, epsilon, means + row, invs + row);
    });
    std::vector<Tensor> result;
    result.push_back(std::move(y));
    if (outputs > 1) result.push_back(std::move(mean_out));
    if (outputs > 2) result.push_back(std::move(inv_out));
    return result;
  });
}

// InstanceNormalization: each (n, c) plane normalised by its own mean and variance, then scaled
// and shifted per channel.
std::unique_ptr<Kernel> make_instance_norm(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), epsilon = node.get_float("epsilon", 1e-5f)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor& scale = info.input(inputs, 1);
    const Tensor& bias = info.input(inputs, 2);
    if (x.dtype() != DType::f32) info.unsupported("element type {}", dtype_name(x.dtype()));
    if (x.rank() < 3) info.fail("input {} has no spatial dimension", shape_string(x.shape()));
    const std::int64_t channels = x.dim(1), planes = x.dim(0) * channels, size = product(x.shape(), 2, x.rank());
    for (const Tensor* t : {&scale, &bias})
      if (t->dtype() != DType::f32 || t->numel() != static_cast<std::size_t>(channels))
        info.fail("scale and B must be {} float32 values", channels);
    Tensor y = Tensor::uninitialized(DType::f32, x.shape());
    const float* in = x.values<float>().data();
    float* out = y.values<float>().data();
    for (std::int64_t p = 0; p < planes; ++p) {
      const float* v = in + p * size;
      double mean = 0, var = 0;
      for (std::int64_t i = 0; i < size; ++i) mean += v[i];
      mean /= static_cast<double>(std::max<std::int64_t>(size, 1));
      for (std::int64_t i = 0; i < size; ++i) var += (v[i] - mean) * (v[i] - mean);
      var /= static_cast<double>(std::max<std::int64_t>(size, 1));
      const auto c = static_cast<std::size_t>(p % channels);
      const double k = scale.values<float>()[c] / std::sqrt(var + epsilon);
      for (std::int64_t i = 0; i < size; ++i) out[p * size + i] = static_cast<float>((v[i] - mean) * k + bias.values<float>()[c]);
    }
    return std::vector<Tensor>{std::move(y)};
  });
}

// MeanVarianceNormalization: (x - mean) / (standard deviation + 1e-9) over `axes` (default 0, 2
// and 3: per channel), as ONNX's function body computes it.
std::unique_ptr<Kernel> make_mvn(const Node& node, std::int64_t) {
  std::vector<std::int64_t> axes = node.has("axes") ? node.get_ints("axes") : std::vector<std::int64_t>{0, 2, 3};
  return make_function_kernel([info = NodeInfo(node), axes](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    if (x.dtype() != DType::f32) info.unsupported("element type {}", dtype_name(x.dtype()));
    std::vector<bool> reduced(x.rank(), false);
    for (std::int64_t a : axes) reduced[static_cast<std::size_t>(info.axis(a, x.rank()))] = true;
    // Each element's group: its index with the reduced dimensions dropped.
    Shape groups_shape;
    for (std::size_t d = 0; d < x.rank(); ++d) groups_shape.push_back(reduced[d] ? 1 : x.dim(d));
    const auto group_strides = contiguous_strides(groups_shape);
    std::vector<std::size_t> group_of(x.numel());
    for_each_index(x.shape(), [&](std::size_t i, const std::vector<std::int64_t>& index) {
      std::int64_t g = 0;
      for (std::size_t d = 0; d < index.size(); ++d) g += reduced[d] ? 0 : index[d] * group_strides[d];
      group_of[i] = static_cast<std::size_t>(g);
    });
    const std::size_t groups = static_cast<std::size_t>(product(groups_shape, 0, groups_shape.size()));
    std::vector<double> sum(groups, 0.0), squares(groups, 0.0), count(groups, 0.0);
    const float* in = x.values<float>().data();
    for (std::size_t i = 0; i < x.numel(); ++i) {
      sum[group_of[i]] += in[i];
      squares[group_of[i]] += static_cast<double>(in[i]) * in[i];
      count[group_of[i]] += 1;
    }
    Tensor y = Tensor::uninitialized(DType::f32, x.shape());
    float* out = y.values<float>().data();
    for (std::size_t i = 0; i < x.numel(); ++i) {
      const std::size_t g = group_of[i];
      const double mean = sum[g] / count[g], deviation = std::sqrt(std::max(0.0, squares[g] / count[g] - mean * mean));
      out[i] = static_cast<float>((in[i] - mean) / (deviation + 1e-9));
    }
    return std::vector<Tensor>{std::move(y)};
  });
}

// LRN: x / (bias + alpha / size * sum of squares over `size` neighbouring channels) ^ beta.
std::unique_ptr<Kernel> make_lrn(const Node& node, std::int64_t) {
  NodeInfo info(node);
  const std::int64_t size = node.get_int("size", 0);
  if (size <= 0) info.fail("size {} is not positive", size);
  return make_function_kernel([info, size, alpha = node.get_float("alpha", 1e-4f), beta = node.get_float("beta", 0.75f),
                               bias = node.get_float("bias", 1.0f)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    if (x.dtype() != DType::f32) info.unsupported("element type {}", dtype_name(x.dtype()));
    if (x.rank() < 3) info.fail("input {} has no spatial dimension", shape_string(x.shape()));
    const std::int64_t channels = x.dim(1), spatial = product(x.shape(), 2, x.rank());
    Tensor y = Tensor::uninitialized(DType::f32, x.shape());
    const float* in = x.values<float>().data();
    float* out = y.values<float>().data();
    const std::int64_t before = (size - 1) / 2, after = size - 1 - before;
    for (std::int64_t n = 0; n < x.dim(0); ++n)
      for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t p = 0; p < spatial; ++p) {
          double sum = 0;
          for (std::int64_t k = std::max<std::int64_t>(0, c - before); k <= std::min(channels - 1, c + after); ++k) {
            const double v = in[(n * channels + k) * spatial + p];
            sum += v * v;
          }
          const std::int64_t at = (n * channels + c) * spatial + p;
          out[at] = static_cast<float>(in[at] / std::pow(bias + alpha / static_cast<double>(size) * sum, beta));
        }
    return std::vector<Tensor>{std::move(y)};
  });
}

}  // namespace

void add_normalization_kernels(KernelTable& t) {
  t.add("BatchNormalization", make_batch_norm, {}, {DType::f32});
  t.add("LayerNormalization", make_layer_norm, {}, {DType::f32});
  t.add("InstanceNormalization", make_instance_norm, {}, {DType::f32});
  t.add("LRN", make_lrn, {}, {DType::f32});
  t.add("MeanVarianceNormalization", make_mvn, {}, {DType::f32});
}

}  // namespace cpuinfer::engine

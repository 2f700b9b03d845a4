// Pooling: MaxPool and AveragePool through oneDNN (primitive cached per input shape; MaxPool with
// Indices or on integers by kernels/max_pool_indices.h), on plain
// activations or, as the engine-domain cpuinfer:MaxPool/AveragePool, on blocked ones (attributes
// block and channels, passes/blocked_layout.h);
// GlobalAveragePool and GlobalMaxPool as plain reductions over the spatial dimensions.
#include <limits>

#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/max_pool_indices.h"
#include "engine/kernels/plan_cache.h"

namespace cpuinfer::engine {

namespace {

class PoolKernel final : public Kernel {
 public:
  PoolKernel(const Node& node, bool max)
      : info_(node), window_(Window::from(node, info_)), max_(max),
        include_pad_(node.get_int("count_include_pad", 0) != 0), column_major_(node.get_int("storage_order", 0) != 0),
        outputs_(node.outputs.size()),
        block_(static_cast<int>(node.get_int("block", 0))), channels_(node.get_int("channels", 0)) {
    if (block_ != 0 && block_ != 8 && block_ != 16) info_.fail("channel block {} is not 8 or 16", block_);
    if (window_.kernel.empty()) info_.fail("attribute 'kernel_shape' is required");
  }

  std::vector<Tensor> run(Inputs inputs) const override {
    const Tensor& x = info_.input(inputs, 0);
    if (max_ && !block_ && (outputs_ > 1 || x.dtype() != DType::f32)) return max_pool_indices(x, window_, column_major_, info_);
    // Blocked pooling keeps a bfloat16 input's type (passes/bf16_compute.h).
    if (x.dtype() != DType::f32 && !(block_ && x.dtype() == DType::bf16)) info_.unsupported("element type {}", dtype_name(x.dtype()));
    const Shape xs = block_ ? logical_shape(x, channels_, block_, info_) : x.shape();
    if (xs.size() < 3 || xs.size() > 5) info_.unsupported("input of rank {} (1 to 3 spatial dimensions are supported)", xs.size());
    const auto held = plans_.get({xs, {static_cast<std::int64_t>(x.dtype())}}, [&] { return make_plan(xs, x.dtype()); });  // kept while the primitive runs (plan_cache.h)
    Plan& plan = *held;
    Tensor y = allocate_checked(x.dtype(), plan.out_shape, info_);
    const Scratchpad scratchpad(plan.scratchpad);
    plan.primitive.execute(dnnl_stream(), {{DNNL_ARG_SRC, wrap(plan.src, x)},
                                           {DNNL_ARG_DST, wrap(plan.dst, y)},
                                           {DNNL_ARG_SCRATCHPAD, scratchpad.memory()}});
    dnnl_stream().wait();
    if (!plan.factors.empty()) {  // count_include_pad with ceil_mode: per output position
      if (y.dtype() != DType::f32) info_.unsupported("count_include_pad with ceil_mode on {}", dtype_name(y.dtype()));
      const auto positions = static_cast<std::int64_t>(plan.factors.size());
      const std::int64_t inner = block_ ? block_ : 1;
      float* v = y.values<float>().data();
      parallel_for(static_cast<std::int64_t>(y.numel()), 16384, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) v[i] *= plan.factors[static_cast<std::size_t>(i / inner % positions)];
      });
    }
    return {std::move(y)};
  }

 private:
  struct Plan {
    Shape out_shape;
    dnnl::memory::desc src, dst, scratchpad;
    dnnl::pooling_v2_forward primitive;
    std::vector<float> factors;  // per output position (count_include_pad with ceil_mode), else empty
  };

  // ONNX's count_include_pad counts the padding the model gives, not what ceil_mode adds past it,
  // and oneDNN cannot tell the two apart: the average over the input alone (exclude_padding) is
  // scaled by (taps in the input) / (taps in the input or its given padding) per output position.
  static std::vector<float> include_pad_factors(const std::vector<std::int64_t>& in, const Window::Resolved& r,
                                                const Window& w) {
    std::vector<float> factors{1.0f};
    for (std::size_t i = 0; i < in.size(); ++i) {
      const std::int64_t s = w.strides.empty() ? 1 : w.strides[i], d = w.dilations.empty() ? 1 : w.dilations[i];
      std::vector<float> along;
      for (std::int64_t o = 0; o < r.out[i]; ++o) {
        std::int64_t inside = 0, counted = 0;
        for (std::int64_t t = 0; t < w.kernel[i]; ++t) {
          const std::int64_t at = o * s - r.pad_begin[i] + t * d;
          inside += at >= 0 && at < in[i];
          counted += at >= -r.pad_begin[i] && at < in[i] + r.given_pad_end[i];
        }
        along.push_back(counted > 0 ? static_cast<float>(inside) / static_cast<float>(counted) : 0.0f);
      }
      std::vector<float> next;
      for (float f : factors)
        for (float g : along) next.push_back(f * g);
      factors = std::move(next);
    }
    return factors;
  }

  Plan make_plan(const Shape& shape, DType type) const {
    const std::vector<std::int64_t> in(shape.begin() + 2, shape.end());
    const Window::Resolved r = window_.resolve(in, info_);
    Plan plan;
    Shape out{shape[0], shape[1]};
    out.insert(out.end(), r.out.begin(), r.out.end());
    plan.out_shape = block_ ? blocked_shape(out, block_) : out;
    dnnl::memory::dims strides, dilations;
    for (std::size_t i = 0; i < in.size(); ++i) {
      strides.push_back(window_.strides.empty() ? 1 : window_.strides[i]);
      dilations.push_back((window_.dilations.empty() ? 1 : window_.dilations[i]) - 1);
    }
    const bool rescaled = !max_ && include_pad_ && window_.ceil_mode;
    if (rescaled) plan.factors = include_pad_factors(in, r, window_);
    const auto algorithm = max_ ? dnnl::algorithm::pooling_max
                                : include_pad_ && !rescaled ? dnnl::algorithm::pooling_avg_include_padding
                                                            : dnnl::algorithm::pooling_avg_exclude_padding;
    try {
      plan.src = block_ ? blocked_desc(shape, block_, dnnl_type(type)) : plain_desc(shape);
      plan.dst = block_ ? blocked_desc(out, block_, dnnl_type(type)) : plain_desc(out);
      dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, plan.src, plan.dst, strides,
                                          dnnl_dims(window_.kernel), dilations, dnnl_dims(r.pad_begin), dnnl_dims(r.pad_end));
      const dnnl::pooling_v2_forward::primitive_desc pd(desc, user_scratchpad(), dnnl_engine());
      plan.scratchpad = pd.scratchpad_desc();
      plan.primitive = dnnl::pooling_v2_forward(pd);
    } catch (const dnnl::error& e) {
      info_.fail("oneDNN refused pooling over {}: {}", shape_string(shape), e.what());
    }
    return plan;
  }

  NodeInfo info_;
  Window window_;
  bool max_, include_pad_, column_major_;
  std::size_t outputs_;
  int block_;
  std::int64_t channels_;
  mutable PlanCache<std::vector<Shape>, Plan> plans_;  // by input shape and type
};

KernelFactory global_pool(bool max) {
  return [max](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node), max](Inputs inputs) {
      const Tensor& x = info.input(inputs, 0);
      if (x.dtype() != DType::f32) info.unsupported("element type {}", dtype_name(x.dtype()));
      if (x.rank() < 3) info.fail("input of shape {} has no spatial dimensions", shape_string(x.shape()));
      Shape out_shape(x.rank(), 1);
      out_shape[0] = x.dim(0);
      out_shape[1] = x.dim(1);
      Tensor y(DType::f32, out_shape);
      const std::int64_t spatial = product(x.shape(), 2, x.rank());
      const float* in = x.values<float>().data();
      float* out = y.values<float>().data();
      parallel_for(x.dim(0) * x.dim(1), std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(spatial, 1)),
                   [&](std::int64_t begin, std::int64_t end) {
                     for (std::int64_t k = begin; k < end; ++k) {
                       const float* v = in + k * spatial;
                       if (max) {
                         float m = -std::numeric_limits<float>::infinity();
                         for (std::int64_t i = 0; i < spatial; ++i) m = std::max(m, v[i]);
                         out[k] = m;
                       } else {
                         float s = 0;
                         for (std::int64_t i = 0; i < spatial; ++i) s += v[i];
                         out[k] = spatial ? s / static_cast<float>(spatial) : 0.0f;
                       }
                     }
                   });
      return std::vector<Tensor>{std::move(y)};
    });
  };
}

}  // namespace

void add_pooling_kernels(KernelTable& t) {
  auto max = [](const Node& node, std::int64_t) { return std::make_unique<PoolKernel>(node, true); };
  auto average = [](const Node& node, std::int64_t) { return std::make_unique<PoolKernel>(node, false); };
  t.add("MaxPool", max, {}, dtypes(NumericTypes{}));
  t.add("AveragePool", average, {1, 19}, {DType::f32});  // AveragePool-19's dilations: oneDNN's
  // Blocked pooling also keeps bfloat16 activations as they are (passes/bf16_compute.h).
  std::vector<DType> blocked = dtypes(NumericTypes{});
  blocked.push_back(DType::bf16);
  t.add(std::string(kEngineDomain) + ":MaxPool", max, {}, blocked);
  t.add(std::string(kEngineDomain) + ":AveragePool", average, {}, {DType::f32, DType::bf16});
  t.add("GlobalAveragePool", global_pool(false), {}, {DType::f32});
  t.add("GlobalMaxPool", global_pool(true), {}, {DType::f32});
}

}  // namespace cpuinfer::engine

// cpuinfer:Int8Conv (passes/int8_regions.h): a 2-D convolution of uint8 activations stored NHWC
// by constant int8 weights, through oneDNN's int8 convolutions (VNNI's u8 x s8 dot products
// where the CPU has them), its result requantized to uint8 in the primitive:
//   y = saturate(round(relu?(x_scale * w_scale[m] / y_scale * (sum (x - x_zero) * w + bias_q[m]))) + y_zero)
// with the output scales per map, the zero points as oneDNN's, and the float32 bias b moved into
// the sums' domain, bias_q[m] = b[m] / (x_scale * w_scale[m]), where oneDNN adds it. A merged
// residual Add (input 3, uint8 shaped as the output, its scale and zero point r_) is oneDNN's sum
// post-op before the Relu: the output is placed over the residual (or starts as its copy). The
// Conv's own quantization (c_scale, c_zero_point: rounding and saturation) comes first as post-ops,
// so that the result is the model's Q -> DQ -> Add -> Relu -> Q, then
// r_scale / y_scale * (residual - r_zero) is added. A residual that broadcasts against the output
// (another shape: nothing at load time says which) is added after the convolution instead
// (kernels/int8_add.h), the convolution quantized to its own c_scale and c_zero_point first.
// Attributes: the Conv's, x_/y_/r_/c_scale and zero_point, w_scales, relu.
#include <cstring>
#include <optional>
#include <unordered_map>

#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/int8_add.h"
#include "engine/kernels/packed_weights.h"
#include "engine/kernels/plan_cache.h"

namespace cpuinfer::engine {

namespace {

class Int8ConvKernel final : public Kernel {
 public:
  explicit Int8ConvKernel(const Node& node)
      : info_(node), window_(Window::from(node, info_)), group_(node.get_int("group", 1)),
        x_scale_(node.get_float("x_scale", 0.0f)), y_scale_(node.get_float("y_scale", 0.0f)),
        x_zero_(static_cast<std::int32_t>(node.get_int("x_zero_point", 0))), y_zero_(static_cast<std::int32_t>(node.get_int("y_zero_point", 0))),
        w_scales_(node.get_floats("w_scales")), relu_(node.get_int("relu", 0) != 0),
        residual_(node.input_count() > kResidual), r_scale_(node.get_float("r_scale", 1.0f)),
        r_zero_(static_cast<std::int32_t>(node.get_int("r_zero_point", 0))), c_scale_(node.get_float("c_scale", 1.0f)),
        c_zero_(static_cast<std::int32_t>(node.get_int("c_zero_point", 0))) {
    if (residual_ && (!(r_scale_ > 0.0f) || r_zero_ < 0 || r_zero_ > 255 || !(c_scale_ > 0.0f) || c_zero_ < 0 || c_zero_ > 255))
      info_.fail("residual or convolution output scale or zero point out of range");
    if (group_ <= 0) info_.fail("group {} is not positive", group_);
    if (!(x_scale_ > 0.0f) || !(y_scale_ > 0.0f)) info_.fail("scales {} and {} must be positive", x_scale_, y_scale_);
    for (std::int32_t z : {x_zero_, y_zero_})
      if (z < 0 || z > 255) info_.fail("zero point {} is outside uint8's range", z);
    // With a merged residual Add, the sums are first scaled into the Conv's own quantized units.
    for (float s : w_scales_) output_scales_.push_back(x_scale_ * s / (residual_ ? c_scale_ : y_scale_));
  }

  bool prepack(std::size_t input, const Tensor& constant) override {
    const auto maps = static_cast<std::int64_t>(w_scales_.size());
    if (input == 1) {
      if (constant.dtype() != DType::i8 || constant.rank() != 4 || constant.dim(0) != maps)
        info_.fail("weights {} {} are not int8 [{}, C, kh, kw]", dtype_name(constant.dtype()), shape_string(constant.shape()), maps);
      weights_shape_ = constant.shape();
      Shape logical = constant.shape();
      if (group_ > 1) {
        logical.insert(logical.begin(), group_);
        logical[1] /= group_;
      }
      weights_.emplace(constant, logical);
      return true;
    }
    if (input == 2) {
      if (constant.dtype() != DType::f32 || constant.numel() != static_cast<std::size_t>(maps))
        info_.fail("bias {} {} does not match {} maps", dtype_name(constant.dtype()), shape_string(constant.shape()), maps);
      bias_ = Tensor(DType::f32, {maps});
      for (std::int64_t m = 0; m < maps; ++m)
        bias_->values<float>()[static_cast<std::size_t>(m)] =
            constant.values<float>()[static_cast<std::size_t>(m)] / (x_scale_ * w_scales_[static_cast<std::size_t>(m)]);
      return true;
    }
    return false;
  }

  bool may_overwrite(std::size_t input) const override { return input == kResidual; }

  std::vector<Tensor> run(Inputs inputs) const override {
    const Tensor& given = info_.input(inputs, 0);
    if (!weights_) info_.fail("the weights must be a constant");
    if (given.dtype() != DType::u8 || given.rank() != 4)
      info_.fail("input {} {} is not uint8 [N, H, W, C]", dtype_name(given.dtype()), shape_string(given.shape()));
    // Every allocation after the output's: the memory plan may hand the first one the residual's block.
    const bool subsample = strided_1x1();
    const Shape xs = subsample ? Shape{given.dim(0), given.dim(3), (given.dim(1) - 1) / window_.strides[0] + 1,
                                       (given.dim(2) - 1) / window_.strides[1] + 1}
                               : Shape{given.dim(0), given.dim(3), given.dim(1), given.dim(2)};  // logical NCHW
    if (xs[1] != weights_shape_[1] * group_)
      info_.fail("input of {} channels does not match weights {} with group {}", xs[1], shape_string(weights_shape_), group_);
    const auto held = plans_.get({xs, {1}}, [&] { return make_plan(xs, true); });  // kept while the primitive runs (plan_cache.h)
    Plan& plan = *held;
    const Tensor* r = residual_ ? &info_.input(inputs, kResidual) : nullptr;
    if (r) info_.expect_dtype(*r, DType::u8, "the residual");
    if (r && r->shape() != plan.out_shape) {  // broadcast: the convolution in its own units, then the Add
      const auto held_alone = plans_.get({xs, {0}}, [&] { return make_plan(xs, false); });
      Plan& alone = *held_alone;
      Tensor y = allocate_checked(DType::u8, plan_broadcast({alone.out_shape, r->shape()}, info_).shape, info_);
      Tensor c = allocate_checked(DType::u8, alone.out_shape, info_);
      c = execute(alone, subsample ? subsampled(given) : given, std::move(c), c_zero_);
      return one(add_u8(c, {c_scale_, c_zero_}, *r, {r_scale_, r_zero_}, {y_scale_, y_zero_}, relu_, info_, std::move(y)));
    }
    Tensor y = allocate_checked(DType::u8, plan.out_shape, info_);
    if (r && r->data() != y.data()) std::memcpy(y.data(), r->data(), r->nbytes());  // the memory plan did not place it there
    return one(execute(plan, subsample ? subsampled(given) : given, std::move(y), y_zero_));
  }

 private:
  struct Plan {
    Shape out_shape;  // stored NHWC
    dnnl::memory::desc src, dst, weights, scratchpad;
    dnnl::convolution_forward primitive;
  };

  Tensor execute(Plan& plan, const Tensor& x, Tensor y, std::int32_t y_zero) const {
    const PackedWeights::Held weights = weights_->get(plan.weights);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(plan.src, x)},
                                               {DNNL_ARG_WEIGHTS, weights.memory},
                                               {DNNL_ARG_DST, wrap(plan.dst, y)}};
    if (bias_) args.emplace(DNNL_ARG_BIAS, wrap(plain_desc(bias_->shape()), *bias_));
    const dnnl::memory::desc zero_desc({1}, dnnl::memory::data_type::s32, dnnl::memory::format_tag::a);
    std::int32_t x_zero = x_zero_;  // oneDNN's memory takes a non-const pointer; it only reads
    if (x_zero) args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, dnnl::memory(zero_desc, dnnl_engine(), &x_zero));
    if (y_zero) args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, dnnl::memory(zero_desc, dnnl_engine(), &y_zero));
    const Scratchpad scratchpad(plan.scratchpad);
    args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad.memory());
    plan.primitive.execute(dnnl_stream(), args);
    dnnl_stream().wait();
    return y;
  }

  // A 1x1 convolution with strides and no padding reads every s-th pixel: it runs as a stride-1
  // convolution over those pixels, copied. oneDNN 2.6's strided int8 1x1 kernels (jit_uni_int8_1x1
  // at avx2 and sse41, through their reduce-to-unit-stride buffer) gave a wrong value in 1 run of 3
  // to 20 with 2 threads (the graph fuzzer's int8 mode).
  bool strided_1x1() const {
    const bool strided = std::ranges::any_of(window_.strides, [](std::int64_t s) { return s > 1; });
    const bool padded = std::ranges::any_of(window_.pads, [](std::int64_t p) { return p != 0; });
    // (SAME_UPPER and SAME_LOWER never pad a 1x1 window: (ceil(in / s) - 1) * s + 1 <= in.)
    return strided && !padded && weights_shape_.size() == 4 && weights_shape_[2] == 1 && weights_shape_[3] == 1;
  }
  Tensor subsampled(const Tensor& x) const {
    const std::int64_t sh = window_.strides[0], sw = window_.strides[1], channels = x.dim(3);
    const std::int64_t oh = (x.dim(1) - 1) / sh + 1, ow = (x.dim(2) - 1) / sw + 1;
    Tensor out = allocate_checked(DType::u8, {x.dim(0), oh, ow, channels}, info_);
    const auto* in = static_cast<const std::uint8_t*>(x.data());
    auto* o = static_cast<std::uint8_t*>(out.data());
    const auto bytes = static_cast<std::size_t>(channels);
    parallel_for(x.dim(0) * oh, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(ow * channels, 1)),
                 [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) {
        const std::int64_t n = row / oh, h = row % oh;
        for (std::int64_t w = 0; w < ow; ++w)
          std::memcpy(o + ((row * ow + w) * channels), in + (((n * x.dim(1) + h * sh) * x.dim(2) + w * sw) * channels), bytes);
      }
    });
    return out;
  }

  // `merged`: the residual Add and the Relu inside (post-ops) and the output in y's units; else the
  // convolution alone in its own units (c_scale, c_zero_point), for an Add after it.
  Plan make_plan(const Shape& xs, bool merged) const {
    Window window = window_;
    if (strided_1x1()) window.strides.clear();  // over the subsampled input
    if (window.kernel.empty()) window.kernel = {weights_shape_[2], weights_shape_[3]};
    if (window.kernel != std::vector<std::int64_t>{weights_shape_[2], weights_shape_[3]})
      info_.fail("kernel_shape does not match weights {}", shape_string(weights_shape_));
    const Window::Resolved r = window.resolve({xs[2], xs[3]}, info_);
    const Shape out{xs[0], weights_shape_[0], r.out[0], r.out[1]};
    Plan plan;
    plan.out_shape = {out[0], out[2], out[3], out[1]};
    try {
      plan.src = nhwc_desc(xs);
      plan.dst = nhwc_desc(out);
      Shape logical = weights_shape_;
      if (group_ > 1) {
        logical.insert(logical.begin(), group_);
        logical[1] /= group_;
      }
      const dnnl::memory::desc any_weights(dnnl_dims(logical), dnnl::memory::data_type::s8, dnnl::memory::format_tag::any);
      dnnl::primitive_attr attr = user_scratchpad();
      attr.set_output_scales(1 << 1, output_scales_);
      if (x_zero_) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
      if (merged ? y_zero_ : c_zero_) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
      dnnl::post_ops ops;
      if (residual_ && merged) {
        // The Conv's own QuantizeLinear, in its units (the output scales divide by its scale):
        // round, saturate around its zero point; then into the Add's units, plus the residual.
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_round, 0.0f, 0.0f);
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, -static_cast<float>(c_zero_), 255.0f - static_cast<float>(c_zero_));
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, c_scale_ / y_scale_, 0.0f);
        ops.append_sum(r_scale_ / y_scale_, r_zero_, dnnl::memory::data_type::u8);
      }
      if (relu_ && merged) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
      const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, plan.src,
                                                 any_weights, bias_ ? plain_desc(bias_->shape()) : dnnl::memory::desc(), plan.dst,
                                                 window.dnnl_strides(2), window.dnnl_dilations(2), dnnl_dims(r.pad_begin),
                                                 dnnl_dims(r.pad_end));
      const dnnl::convolution_forward::primitive_desc pd = dnnl::convolution_forward::primitive_desc(desc, attr, dnnl_engine());
      plan.primitive = dnnl::convolution_forward(pd);
      plan.weights = pd.weights_desc();
      plan.scratchpad = pd.scratchpad_desc();
    } catch (const dnnl::error& e) {
      info_.fail("oneDNN refused the int8 convolution of {} with weights {}: {}", shape_string(xs), shape_string(weights_shape_), e.what());
    }
    return plan;
  }

  static constexpr std::size_t kResidual = 3;  // x, weights, bias, residual

  NodeInfo info_;
  Window window_;
  std::int64_t group_;
  float x_scale_, y_scale_;
  std::int32_t x_zero_, y_zero_;  // oneDNN reads them at run time
  std::vector<float> w_scales_, output_scales_;
  bool relu_;
  bool residual_;
  float r_scale_;
  std::int32_t r_zero_;
  float c_scale_;          // with a merged Add, the Conv's own output quantization
  std::int32_t c_zero_;
  Shape weights_shape_;
  mutable std::optional<PackedWeights> weights_;
  std::optional<Tensor> bias_;  // in the sums' domain
  mutable PlanCache<std::vector<Shape>, Plan> plans_;  // by input shape, and {1} merged or {0} alone
};

}  // namespace

void add_int8_convolution_kernels(KernelTable& t) {
  t.add(std::string(kEngineDomain) + ":Int8Conv", [](const Node& node, std::int64_t) { return std::make_unique<Int8ConvKernel>(node); });
}

}  // namespace cpuinfer::engine

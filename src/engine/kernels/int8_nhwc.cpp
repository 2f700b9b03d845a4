// The int8 region's other operators (passes/int8_regions.h), on uint8 tensors stored NHWC:
//   cpuinfer:QuantizeNhwc    float32 [N, C, H, W] -> uint8 [N, H, W, C]: QuantizeLinear and the layout
//   cpuinfer:DequantizeNhwc  uint8 [N, H, W, C] -> float32 [N, C, H, W]: DequantizeLinear and the layout
//   cpuinfer:Int8Add         two uint8 tensors of one shape -> their sum requantized (optionally a Relu)
//   cpuinfer:Int8MaxPool     2-D max pooling of uint8, requantized when the output's scale differs
// The two conversions are our own loops, as QuantizeLinear and DequantizeLinear read (x / scale
// rounded half to even, saturated; (q - zero) * scale). oneDNN 2.6's reorders with a zero point
// dropped it from uint8 NHWC -> float32 NCHW of 64 channels and more at 7x7 (jit:uni; mobilenet_v2
// in int8 then disagreed with ONNX Runtime by max_rel_diff 1.0 on the same file:
// tests/engine/graph_regressions keeps the case).
#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/int8_add.h"
#include "engine/kernels/plan_cache.h"
#include "engine/kernels/vector/vector_loops.h"

namespace cpuinfer::engine {

namespace {

QuantParams params(const Node& node, const std::string& prefix, const NodeInfo& info) {
  const QuantParams p{node.get_float(prefix + "scale", 0.0f), static_cast<std::int32_t>(node.get_int(prefix + "zero_point", 0))};
  if (!(p.scale > 0.0f) || !std::isfinite(p.scale)) info.fail("{}scale {} is not a positive number", prefix, p.scale);
  if (p.zero < 0 || p.zero > 255) info.fail("{}zero_point {} is outside uint8's range", prefix, p.zero);
  return p;
}

// Float32 NCHW <-> uint8 NHWC with a scale and zero point.
class ConvertKernel final : public Kernel {
 public:
  ConvertKernel(const Node& node, bool quantize)
      : info_(node), quantize_(quantize), p_(params(node, "", info_)), loops_(vector_loops()) {}

  std::vector<Tensor> run(Inputs inputs) const override {
    const Tensor& x = info_.input(inputs, 0);
    info_.expect_dtype(x, quantize_ ? DType::f32 : DType::u8, "the input");
    if (x.rank() != 4) info_.fail("input {} is not 4-D", shape_string(x.shape()));
    const Shape logical = quantize_ ? x.shape() : Shape{x.dim(0), x.dim(3), x.dim(1), x.dim(2)};
    Tensor y = allocate_checked(quantize_ ? DType::u8 : DType::f32,
                                quantize_ ? Shape{x.dim(0), x.dim(2), x.dim(3), x.dim(1)} : logical, info_);
    if (y.numel() == 0) return one(std::move(y));
    const std::int64_t channels = logical[1], positions = logical[2] * logical[3];
    const float scale = p_.scale, zero = static_cast<float>(p_.zero);
    // Tiles of kTile positions of one image, every channel: NCHW rows of kTile values on one side,
    // kTile NHWC pixels (kTile x channels bytes, in cache) on the other.
    constexpr std::int64_t kTile = 64;
    const std::int64_t tiles = (positions + kTile - 1) / kTile;
    parallel_for(logical[0] * tiles, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(kTile * channels, 1)),
                 [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t t = begin; t < end; ++t) {
        const std::int64_t n = t / tiles, p0 = t % tiles * kTile, count = std::min(kTile, positions - p0);
        for (std::int64_t c = 0; c < channels; ++c) {
          const std::int64_t nchw = (n * channels + c) * positions + p0, nhwc = (n * positions + p0) * channels + c;
          if (quantize_) {
            std::uint8_t row[kTile];
            loops_.quantize_u8(x.values<float>().data() + nchw, row, count, scale, zero);
            auto* out = static_cast<std::uint8_t*>(y.data()) + nhwc;
            for (std::int64_t i = 0; i < count; ++i) out[i * channels] = row[i];
          } else {
            const auto* in = static_cast<const std::uint8_t*>(x.data()) + nhwc;
            float* out = y.values<float>().data() + nchw;
            for (std::int64_t i = 0; i < count; ++i) out[i] = (static_cast<float>(in[i * channels]) - zero) * scale;
          }
        }
      }
    });
    return one(std::move(y));
  }

 private:
  NodeInfo info_;
  bool quantize_;
  QuantParams p_;
  const VectorLoops& loops_;
};

// kernels/int8_add.h's sum of its two inputs.
class AddKernel final : public Kernel {
 public:
  explicit AddKernel(const Node& node)
      : info_(node), a_(params(node, "a_", info_)), b_(params(node, "b_", info_)), y_(params(node, "y_", info_)),
        relu_(node.get_int("relu", 0) != 0) {}

  bool may_overwrite(std::size_t) const override { return true; }

  std::vector<Tensor> run(Inputs inputs) const override {
    return one(add_u8(info_.input(inputs, 0), a_, info_.input(inputs, 1), b_, y_, relu_, info_));
  }

 private:
  NodeInfo info_;
  QuantParams a_, b_, y_;
  bool relu_;
};

class MaxPoolKernel final : public Kernel {
 public:
  explicit MaxPoolKernel(const Node& node)
      : info_(node), window_(Window::from(node, info_)), x_(params(node, "x_", info_)), y_(params(node, "y_", info_)),
        loops_(vector_loops()) {
    if (window_.kernel.size() != 2) info_.fail("kernel_shape must have 2 sizes");
  }

  std::vector<Tensor> run(Inputs inputs) const override {
    const Tensor& x = info_.input(inputs, 0);
    if (x.dtype() != DType::u8 || x.rank() != 4) info_.fail("input {} {} is not uint8 [N, H, W, C]", dtype_name(x.dtype()), shape_string(x.shape()));
    const Shape xs{x.dim(0), x.dim(3), x.dim(1), x.dim(2)};
    const auto held = plans_.get(xs, [&] { return make_plan(xs); });  // kept while the primitive runs (plan_cache.h)
    Plan& plan = *held;
    Tensor y = allocate_checked(DType::u8, plan.out_shape, info_);
    const Scratchpad scratchpad(plan.scratchpad);
    plan.primitive.execute(dnnl_stream(), {{DNNL_ARG_SRC, wrap(plan.src, x)}, {DNNL_ARG_DST, wrap(plan.dst, y)}, {DNNL_ARG_SCRATCHPAD, scratchpad.memory()}});
    dnnl_stream().wait();
    if (x_.scale != y_.scale || x_.zero != y_.zero) {  // the maximum of the values is the value of the maximum: requantize it
      const float k = x_.scale / y_.scale, offset = static_cast<float>(y_.zero) - static_cast<float>(x_.zero) * k;
      auto* v = static_cast<std::uint8_t*>(y.data());
      parallel_for(static_cast<std::int64_t>(y.numel()), 1 << 16, [&](std::int64_t begin, std::int64_t end) {
        loops_.add_u8(v + begin, v + begin, v + begin, end - begin, k, 0.0f, offset, 0.0f);
      });
    }
    return one(std::move(y));
  }

 private:
  struct Plan {
    Shape out_shape;
    dnnl::memory::desc src, dst, scratchpad;
    dnnl::pooling_v2_forward primitive;
  };

  Plan make_plan(const Shape& xs) const {
    const Window::Resolved r = window_.resolve({xs[2], xs[3]}, info_);
    const Shape out{xs[0], xs[1], r.out[0], r.out[1]};
    Plan plan;
    plan.out_shape = {out[0], out[2], out[3], out[1]};
    try {
      plan.src = nhwc_desc(xs);
      plan.dst = nhwc_desc(out);
      const dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, plan.src, plan.dst,
                                                window_.dnnl_strides(2), dnnl_dims(window_.kernel), window_.dnnl_dilations(2),
                                                dnnl_dims(r.pad_begin), dnnl_dims(r.pad_end));
      const dnnl::pooling_v2_forward::primitive_desc pd(desc, user_scratchpad(), dnnl_engine());
      plan.scratchpad = pd.scratchpad_desc();
      plan.primitive = dnnl::pooling_v2_forward(pd);
    } catch (const dnnl::error& e) {
      info_.fail("oneDNN refused int8 pooling over {}: {}", shape_string(xs), e.what());
    }
    return plan;
  }

  NodeInfo info_;
  Window window_;
  QuantParams x_, y_;
  const VectorLoops& loops_;
  mutable PlanCache<Shape, Plan> plans_;
};

}  // namespace

Tensor add_u8(const Tensor& a, QuantParams pa, const Tensor& b, QuantParams pb, QuantParams py, bool relu, const NodeInfo& info,
              Tensor y) {
  info.expect_dtype(a, DType::u8, "input a");
  info.expect_dtype(b, DType::u8, "input b");
  const Broadcast plan = plan_broadcast({a.shape(), b.shape()}, info);
  if (!y.storage()) y = allocate_checked(DType::u8, plan.shape, info);
  if (y.dtype() != DType::u8 || y.shape() != plan.shape) info.fail("the sum's output {} is not {}", shape_string(y.shape()), shape_string(plan.shape));
  if (y.numel() == 0) return y;
  const float ka = pa.scale / py.scale, kb = pb.scale / py.scale;
  const float offset = static_cast<float>(py.zero) - static_cast<float>(pa.zero) * ka - static_cast<float>(pb.zero) * kb;
  const float low = relu ? static_cast<float>(py.zero) : 0.0f;
  const auto* pa_data = static_cast<const std::uint8_t*>(a.data());
  const auto* pb_data = static_cast<const std::uint8_t*>(b.data());
  auto* out = static_cast<std::uint8_t*>(y.data());
  const VectorLoops& loops = vector_loops();
  if (a.shape() == b.shape()) {
    parallel_for(static_cast<std::int64_t>(y.numel()), 1 << 16, [&](std::int64_t begin, std::int64_t end) {
      loops.add_u8(pa_data + begin, pb_data + begin, out + begin, end - begin, ka, kb, offset, low);
    });
    return y;
  }
  for_each_broadcast_row<2>(plan, [&](const auto& offsets, std::int64_t at, std::int64_t n, const auto& strides) {
    if (strides[0] == 1 && strides[1] == 1) return loops.add_u8(pa_data + offsets[0], pb_data + offsets[1], out + at, n, ka, kb, offset, low);
    for (std::int64_t k = 0; k < n; ++k) {
      float v = std::nearbyint(static_cast<float>(pa_data[offsets[0] + k * strides[0]]) * ka +
                               static_cast<float>(pb_data[offsets[1] + k * strides[1]]) * kb + offset);
      v = v < low ? low : (v > 255.0f ? 255.0f : v);
      out[at + k] = static_cast<std::uint8_t>(v);
    }
  });
  return y;
}

void add_int8_nhwc_kernels(KernelTable& t) {
  const std::string domain = std::string(kEngineDomain) + ":";
  t.add(domain + "QuantizeNhwc", [](const Node& node, std::int64_t) { return std::make_unique<ConvertKernel>(node, true); });
  t.add(domain + "DequantizeNhwc", [](const Node& node, std::int64_t) { return std::make_unique<ConvertKernel>(node, false); });
  t.add(domain + "Int8Add", [](const Node& node, std::int64_t) { return std::make_unique<AddKernel>(node); });
  t.add(domain + "Int8MaxPool", [](const Node& node, std::int64_t) { return std::make_unique<MaxPoolKernel>(node); });
}

}  // namespace cpuinfer::engine

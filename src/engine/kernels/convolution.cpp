// Conv and FusedConv through oneDNN, in two layouts:
//  - plain NC(D)HW activations: oneDNN's gemm convolutions, the fused steps in our own pass after
//    them (oneDNN's gemm convolutions apply post-ops slowly: ResNet-101, batch 1, its 67 Conv+Relu
//    took 126 ms per run with a relu post-op, 89 ms with our pass);
//  - the blocked layout (passes/blocked_layout.h, attributes block_in/block_out): oneDNN's direct
//    convolutions, or Winograd for 3x3 stride-1 ones where oneDNN offers it (attribute winograd),
//    with every fused step as a post-op.
// Constant weights are taken at load (prepack) and reordered once per layout oneDNN asks for
// (kernels/packed_weights.h); weights that are an input of the run are reordered on every run.
#include <algorithm>
#include <optional>
#include <utility>

#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/epilogue.h"
#include "engine/kernels/packed_weights.h"
#include "engine/kernels/plan_cache.h"
#include "engine/passes/bf16_compute.h"
#include "engine/passes/blocked_layout.h"

namespace cpuinfer::engine {

namespace {

class ConvKernel final : public Kernel {
 public:
  explicit ConvKernel(const Node& node)
      : info_(node), window_(Window::from(node, info_)), group_(node.get_int("group", 1)), epilogue_(node, 3),
        block_in_(node.get_int("block_in", 0)), block_out_(node.get_int("block_out", 0)),
        winograd_(node.get_int("winograd", 0) != 0), bf16_(node.get_int(kBf16Attribute, 0) != 0),
        bf16_output_(node.get_int(kBf16OutputAttribute, 0) != 0) {
    if (group_ <= 0) info_.fail("group {} is not positive", group_);
    for (std::int64_t b : {block_in_, block_out_})
      if (b != 0 && b != 8 && b != 16) info_.fail("channel block {} is not 8 or 16", b);
    if (block_in_ && !block_out_) info_.fail("a blocked input needs a blocked output");
  }

  // Constant f32 weights: packed here, once, and never read from the inputs of a run.
  bool prepack(std::size_t input, const Tensor& constant) override {
    if (input != 1 || constant.dtype() != DType::f32 || constant.rank() < 3) return false;
    weights_shape_ = constant.shape();
    weights_.emplace(constant, logical_weights(constant.shape()));
    return true;
  }

  // In the blocked layout, an Add that is the first fused step (ResNet's residual) may have the
  // output written over its operand: the convolution then accumulates into it (oneDNN's sum post-op).
  bool may_overwrite(std::size_t input) const override { return input == kFirstOperand && sums_in_place(); }

  std::vector<Tensor> run(Inputs inputs) const override {
    const Tensor& x = info_.input(inputs, 0);
    const Tensor* w = weights_ ? nullptr : &info_.input(inputs, 1);
    const Shape& ws = w ? w->shape() : weights_shape_;
    const Tensor* b = info_.optional_input(inputs, 2);
    for (const Tensor* t : {&x, w, b})  // a bfloat16 product's input may come in bfloat16 (passes/bf16_compute.h)
      if (t && t->dtype() != DType::f32 && !(bf16_ && t == &x && t->dtype() == DType::bf16))
        info_.unsupported("element type {}", dtype_name(t->dtype()));
    const std::int64_t maps = ws.size() > 0 ? ws[0] : 0;
    const Shape xs = block_in_ ? logical_shape(x, ws.size() > 1 ? ws[1] * group_ : 0, static_cast<int>(block_in_), info_) : x.shape();
    if (xs.size() < 3 || xs.size() > 5) info_.unsupported("input of rank {} (1 to 3 spatial dimensions are supported)", xs.size());
    if (ws.size() != xs.size()) info_.fail("weights {} do not match input {}", shape_string(ws), shape_string(xs));
    if (block_out_ && xs.size() != 4) info_.fail("the blocked layout is for 2-D convolutions, got input {}", shape_string(xs));
    const std::int64_t channels = xs[1];
    if (group_ > channels || channels % group_ != 0 || channels / group_ != ws[1] || maps % group_ != 0)
      info_.fail("input {} with group {} does not match weights {}", shape_string(xs), group_, shape_string(ws));
    if (b && (b->rank() != 1 || b->dim(0) != maps)) info_.fail("bias {} does not match {} output maps", shape_string(b->shape()), maps);

    std::vector<Shape> key{xs, ws};
    const std::size_t adds = block_out_ ? add_count() : 0;  // post-op operands shape the plan
    for (std::size_t k = 0; k < adds; ++k) key.push_back(epilogue_.operand(inputs, k, info_).shape());
    std::shared_ptr<Plan> plan = plans_.get(key, [&] { return make_plan(xs, ws, b, inputs, false); });
    Tensor y = allocate_checked(bf16_output_ ? DType::bf16 : DType::f32, plan->out_shape, info_);
    if (sums_in_place() && y.data() == epilogue_.operand(inputs, 0, info_).data()) {  // the memory plan chose it
      key.push_back({});  // the in-place variant
      plan = plans_.get(key, [&] { return make_plan(xs, ws, b, inputs, true); });
    }
    return execute(*plan, x, w, ws, b, inputs, std::move(y));
  }

 private:
  static constexpr std::size_t kFirstOperand = 3;  // x, weights, bias, then the fused Adds' operands
  // Winograd F(4x4, 3x3) keeps its weights transformed, four times the plain bytes, and saves work
  // per output position: its gain per weight byte grows with the output's spatial size. Below 8x8
  // positions it runs direct. On ResNet-101 (224x224 images, Zen 5, 2 threads) that is the last
  // stage's 7x7 outputs: Winograd there held 72 MB more RSS for 0.6 ms per image at batch 8.
  static constexpr std::int64_t kWinogradMinPositions = 64;

  struct Plan {
    Shape out_shape;  // as stored (blocked or plain)
    dnnl::memory::desc src, dst, weights, scratchpad;
    dnnl::memory::dims taps;  // where the weights' used taps start (empty: all are used)
    dnnl::convolution_forward primitive;
    std::vector<Epilogue::BinaryOperand> operands;  // fused Adds as binary post-ops
    // Blocked: where the post-ops stopped (an Add of an operand that broadcasts over H or W, which
    // the blocked layout's channels say nothing about at load); the rest runs after, over the
    // stored shapes (broadcasting N, H and W is the same in both layouts).
    std::size_t next_step = 0, adds_used = 0;
  };

  bool sums_in_place() const {
    return block_out_ && !epilogue_.steps().empty() && epilogue_.steps()[0].kind == Epilogue::Kind::add;
  }

  std::vector<Tensor> execute(Plan& plan, const Tensor& x, const Tensor* w, const Shape& ws, const Tensor* b, Inputs inputs, Tensor y) const {
    std::optional<PackedWeights> given;  // weights that are an input of the run: alive until the primitive ran
    if (w) given.emplace(*w, logical_weights(ws));
    const PackedWeights::Held weights = (w ? *given : *weights_).get(plan.weights, plan.taps);
    std::optional<Tensor> rounded;  // bf16: the input rounded (unless it came so), after the output took its block
    if (bf16_ && x.dtype() == DType::f32) rounded = rounded_to_bf16(x, info_);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(plan.src, rounded ? *rounded : x)},
                                               {DNNL_ARG_WEIGHTS, weights.memory},
                                               {DNNL_ARG_DST, wrap(plan.dst, y)}};
    if (b) args.emplace(DNNL_ARG_BIAS, wrap(plain_desc(b->shape()), *b));
    for (const Epilogue::BinaryOperand& o : plan.operands)
      args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(static_cast<int>(o.post_op)) | DNNL_ARG_SRC_1,
                   wrap(o.desc, epilogue_.operand(inputs, o.add_index, info_)));
    const Scratchpad scratchpad(plan.scratchpad);
    args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad.memory());
    plan.primitive.execute(dnnl_stream(), args);
    dnnl_stream().wait();
    if (plan.next_step < epilogue_.steps().size()) {
      if (y.dtype() != DType::f32)
        info_.unsupported("a fused Add of {} to the bfloat16 output {}",
                          shape_string(epilogue_.operand(inputs, plan.adds_used, info_).shape()), shape_string(y.shape()));
      y = epilogue_.apply(std::move(y), plan.next_step, plan.adds_used, inputs, info_);
    }
    return one(std::move(y));
  }

  std::size_t add_count() const {
    std::size_t n = 0;
    for (const auto& step : epilogue_.steps()) n += step.kind == Epilogue::Kind::add;
    return n;
  }

  // Every step as a post-op (blocked layout): Adds of a tensor laid out as the output, or of one
  // value per output channel or one value; `in_place`: the first step's Add is a sum into the output.
  Epilogue::PostOps post_ops(Inputs inputs, const Shape& out_logical, const dnnl::memory::desc& dst, bool in_place) const {
    const Shape out_blocked = blocked_shape(out_logical, static_cast<int>(block_out_));
    Epilogue::PostOps p = epilogue_.post_ops(0, 0, inputs, info_, [&](const Tensor& t) -> std::optional<dnnl::memory::desc> {
      if (t.shape() == out_blocked) return dst;
      if (const auto broadcast = blocked_operand_shape(t.shape(), out_logical[1])) return plain_desc(*broadcast);
      return std::nullopt;
    }, in_place);
    return p;
  }

  // Winograd is tried for 2-D 3x3 convolutions of stride 1 without dilation or groups.
  bool may_run_winograd(const Shape& w) const {
    auto unit = [](const std::vector<std::int64_t>& v) { return std::ranges::all_of(v, [](std::int64_t x) { return x == 1; }); };
    return winograd_ && group_ == 1 && w.size() == 4 && w[2] == 3 && w[3] == 3 && unit(window_.strides) && unit(window_.dilations);
  }

  Plan make_plan(const Shape& xs, const Shape& w, const Tensor* b, Inputs inputs, bool in_place) const {
    const std::size_t spatial = xs.size() - 2;
    std::vector<std::int64_t> in(xs.begin() + 2, xs.end());
    Window window = window_;
    if (window.kernel.empty()) window.kernel.assign(w.begin() + 2, w.end());
    if (window.kernel.size() != spatial)
      info_.fail("kernel_shape has {} sizes for {} spatial dimensions", window.kernel.size(), spatial);
    for (std::size_t i = 0; i < spatial; ++i)
      if (window.kernel[i] != w[i + 2]) info_.fail("kernel_shape {} does not match weights {}", fmt::join(window.kernel, ","), shape_string(w));
    Window::Resolved r = window.resolve(in, info_);
    Shape out{xs[0], w[0]};
    out.insert(out.end(), r.out.begin(), r.out.end());
    dnnl::memory::dims strides, dilations;
    for (std::size_t i = 0; i < spatial; ++i) {
      strides.push_back(window.strides.empty() ? 1 : window.strides[i]);
      dilations.push_back((window.dilations.empty() ? 1 : window.dilations[i]) - 1);  // oneDNN counts gaps
    }
    Plan plan;
    // Taps that read only padding at every output position add nothing: a kernel dilated past a
    // small input (DeepLab's atrous convolutions by 24 and 36 over 14x14) runs as the taps that
    // land, for which oneDNN has fast kernels and not only its reference one.
    Shape used = w;
    for (std::size_t i = 0; i < spatial; ++i) {
      const std::int64_t step = dilations[i] + 1, last = (r.out[i] - 1) * strides[i] - r.pad_begin[i];
      std::int64_t lo = 0, hi = w[i + 2] - 1;
      while (lo < hi && last + lo * step < 0) ++lo;                      // tap lo reads before the input throughout
      while (hi > lo && hi * step - r.pad_begin[i] >= in[i]) --hi;       // tap hi reads past it throughout
      if (lo == 0 && hi == w[i + 2] - 1) continue;
      const std::int64_t begin = r.pad_begin[i] - lo * step, end = r.pad_end[i] - (w[i + 2] - 1 - hi) * step;
      if (begin < 0 || end < 0) continue;  // oneDNN takes no negative padding
      if (plan.taps.empty()) plan.taps.assign(logical_weights(w).size(), 0);
      plan.taps[plan.taps.size() - spatial + i] = lo;
      used[i + 2] = hi - lo + 1;
      r.pad_begin[i] = begin;
      r.pad_end[i] = end;
      if (used[i + 2] == 1) dilations[i] = 0;
    }
    try {
      const int bo = static_cast<int>(block_out_);
      plan.out_shape = bo ? blocked_shape(out, bo) : out;
      const auto type = bf16_ ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
      plan.src = block_in_ ? blocked_desc(xs, static_cast<int>(block_in_), type) : plain_desc(xs, type);
      plan.dst = bo ? blocked_desc(out, bo, bf16_output_ ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32) : plain_desc(out);
      const auto any_weights = dnnl::memory::desc(dnnl_dims(logical_weights(used)), type, dnnl::memory::format_tag::any);
      const auto bias = b ? plain_desc(b->shape()) : dnnl::memory::desc();
      dnnl::primitive_attr attr = user_scratchpad();
      if (bo) {
        Epilogue::PostOps p = post_ops(inputs, out, plan.dst, in_place);
        attr.set_post_ops(p.ops);
        plan.operands = std::move(p.operands);
        plan.next_step = p.next_step;
        plan.adds_used = p.adds_used;
      }
      auto make = [&](dnnl::algorithm algorithm) {
        dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, plan.src, any_weights, bias,
                                             plan.dst, strides, dilations, dnnl_dims(r.pad_begin), dnnl_dims(r.pad_end));
        return dnnl::convolution_forward::primitive_desc(desc, attr, dnnl_engine());
      };
      std::optional<dnnl::convolution_forward::primitive_desc> pd;
      if (!bf16_ && plan.taps.empty() && may_run_winograd(w) && r.out[0] * r.out[1] >= kWinogradMinPositions) {
        try {
          pd = make(dnnl::algorithm::convolution_winograd);
        } catch (const dnnl::error&) {
          // Not offered for this shape or ISA (oneDNN 2.6 has it on AVX-512 only): direct.
        }
      }
      if (!pd) pd = make(dnnl::algorithm::convolution_direct);
      plan.primitive = dnnl::convolution_forward(*pd);
      plan.weights = pd->weights_desc();
      plan.scratchpad = pd->scratchpad_desc();
      return plan;
    } catch (const dnnl::error& e) {
      info_.fail("oneDNN refused the convolution of {} with weights {}: {}", shape_string(xs), shape_string(w), e.what());
    }
  }

  // Weights as oneDNN sees them: groups split out as a leading dimension.
  Shape logical_weights(const Shape& w) const {
    Shape s = w;
    if (group_ > 1) {
      s.insert(s.begin(), group_);
      s[1] /= group_;
    }
    return s;
  }

  NodeInfo info_;
  Window window_;
  std::int64_t group_;
  Epilogue epilogue_;
  std::int64_t block_in_, block_out_;
  bool winograd_;
  bool bf16_;  // bfloat16 input and weights, float32 accumulation and output (no Winograd then)
  bool bf16_output_;  // the output in bfloat16 too (passes/bf16_compute.h, keep_bf16_activations)
  mutable PlanCache<std::vector<Shape>, Plan> plans_;
  Shape weights_shape_;                  // of constant weights
  mutable std::optional<PackedWeights> weights_;  // constant weights, taken by prepack()
};

}  // namespace

void add_convolution_kernels(KernelTable& t) {
  auto conv = [](const Node& node, std::int64_t) { return std::make_unique<ConvKernel>(node); };
  t.add("Conv", conv, {}, {DType::f32});
  t.add(std::string(kEngineDomain) + ":FusedConv", conv, {}, {DType::f32});
}

}  // namespace cpuinfer::engine

// Conv and FusedConv through oneDNN, in two layouts:
//  - plain NC(D)HW activations: oneDNN's gemm convolutions, the fused steps in our own pass after
//    them (oneDNN's gemm convolutions apply post-ops slowly: ResNet-101, batch 1, its 67 Conv+Relu
//    took 126 ms per run with a relu post-op, 89 ms with our pass);
//  - the blocked layout (passes/blocked_layout.h, attributes block_in/block_out): oneDNN's direct
//    convolutions, or Winograd for 3x3 stride-1 ones where oneDNN offers it (attribute winograd),
//    with every fused step as a post-op.
// Constant weights are reordered once per layout oneDNN asks for and shared by every input shape.
#include <optional>
#include <utility>

#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/epilogue.h"
#include "engine/kernels/plan_cache.h"
#include "engine/passes/blocked_layout.h"

namespace cpuinfer::engine {

namespace {

class ConvKernel final : public Kernel {
 public:
  explicit ConvKernel(const Node& node)
      : info_(node), window_(Window::from(node, info_)), group_(node.get_int("group", 1)), epilogue_(node, 3),
        block_in_(node.get_int("block_in", 0)), block_out_(node.get_int("block_out", 0)),
        winograd_(node.get_int("winograd", 0) != 0) {
    if (group_ <= 0) info_.fail("group {} is not positive", group_);
    for (std::int64_t b : {block_in_, block_out_})
      if (b != 0 && b != 8 && b != 16) info_.fail("channel block {} is not 8 or 16", b);
    if (block_in_ && !block_out_) info_.fail("a blocked input needs a blocked output");
  }

  std::vector<Tensor> run(Inputs inputs) override {
    const Tensor& x = info_.input(inputs, 0);
    const Tensor& w = info_.input(inputs, 1);
    const Tensor* b = info_.optional_input(inputs, 2);
    for (const Tensor* t : {&x, &w, b})
      if (t && t->dtype() != DType::f32) info_.unsupported("element type {}", dtype_name(t->dtype()));
    const std::int64_t maps = w.rank() > 0 ? w.dim(0) : 0;
    const Shape xs = block_in_ ? logical_shape(x, w.rank() > 1 ? w.dim(1) * group_ : 0, static_cast<int>(block_in_), info_) : x.shape();
    if (xs.size() < 3 || xs.size() > 5) info_.unsupported("input of rank {} (1 to 3 spatial dimensions are supported)", xs.size());
    if (w.rank() != xs.size()) info_.fail("weights {} do not match input {}", shape_string(w.shape()), shape_string(xs));
    if (block_out_ && xs.size() != 4) info_.fail("the blocked layout is for 2-D convolutions, got input {}", shape_string(xs));
    const std::int64_t channels = xs[1];
    if (group_ > channels || channels % group_ != 0 || channels / group_ != w.dim(1) || maps % group_ != 0)
      info_.fail("input {} with group {} does not match weights {}", shape_string(xs), group_, shape_string(w.shape()));
    if (b && (b->rank() != 1 || b->dim(0) != maps)) info_.fail("bias {} does not match {} output maps", shape_string(b->shape()), maps);

    std::vector<Shape> key{xs, w.shape()};
    const std::size_t adds = block_out_ ? add_count() : 0;  // post-op operands shape the plan
    for (std::size_t k = 0; k < adds; ++k) key.push_back(epilogue_.operand(inputs, k, info_).shape());
    Plan& plan = plans_.get(key, [&] { return make_plan(xs, w, b, inputs); });
    Tensor y = allocate_checked(DType::f32, plan.out_shape, info_);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(plan.src, x)},
                                               {DNNL_ARG_WEIGHTS, packed_weights(plan.weights, w)},
                                               {DNNL_ARG_DST, wrap(plan.dst, y)}};
    if (b) args.emplace(DNNL_ARG_BIAS, wrap(plain_desc(b->shape()), *b));
    for (std::size_t k = 0; k < plan.operands.size(); ++k)
      args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(static_cast<int>(plan.operands[k].post_op)) | DNNL_ARG_SRC_1,
                   wrap(plan.operands[k].desc, epilogue_.operand(inputs, k, info_)));
    plan.primitive.execute(dnnl_stream(), args);
    dnnl_stream().wait();
    if (!block_out_) y = epilogue_.apply(std::move(y), 0, 0, inputs, info_);
    return one(std::move(y));
  }

 private:
  struct Operand {  // a fused Add as a binary post-op
    std::size_t post_op;
    dnnl::memory::desc desc;
  };
  struct Plan {
    Shape out_shape;  // as stored (blocked or plain)
    dnnl::memory::desc src, dst, weights;
    dnnl::convolution_forward primitive;
    std::vector<Operand> operands;
  };

  std::size_t add_count() const {
    std::size_t n = 0;
    for (const auto& step : epilogue_.steps()) n += step.kind == Epilogue::Kind::add;
    return n;
  }

  // Every step as a post-op (blocked layout): Adds of a tensor laid out as the output, or of one
  // value per output channel.
  dnnl::post_ops post_ops(Inputs inputs, const Shape& out_logical, const dnnl::memory::desc& dst, std::vector<Operand>& operands) const {
    dnnl::post_ops ops;
    std::size_t add = 0;
    const Shape out_blocked = blocked_shape(out_logical, static_cast<int>(block_out_));
    const auto& steps = epilogue_.steps();
    for (std::size_t i = 0; i < steps.size();) {
      if (steps[i].kind != Epilogue::Kind::add) {
        i = epilogue_.to_post_ops(i, ops);
        continue;
      }
      ++i;
      const Tensor& t = epilogue_.operand(inputs, add++, info_);
      if (t.dtype() != DType::f32) info_.fail("fused Add operand must be float32, got {}", dtype_name(t.dtype()));
      dnnl::memory::desc desc;
      if (t.shape() == out_blocked) desc = dst;
      else if (per_channel_shape(t.shape(), out_logical[1])) desc = plain_desc({1, out_logical[1], 1, 1});
      else info_.unsupported("a fused Add of {} to the blocked output {}", shape_string(t.shape()), shape_string(out_logical));
      operands.push_back({static_cast<std::size_t>(ops.len()), desc});
      ops.append_binary(dnnl::algorithm::binary_add, desc);
    }
    return ops;
  }

  Plan make_plan(const Shape& xs, const Tensor& w, const Tensor* b, Inputs inputs) {
    const std::size_t spatial = xs.size() - 2;
    std::vector<std::int64_t> in(xs.begin() + 2, xs.end());
    Window window = window_;
    if (window.kernel.empty()) window.kernel.assign(w.shape().begin() + 2, w.shape().end());
    if (window.kernel.size() != spatial)
      info_.fail("kernel_shape has {} sizes for {} spatial dimensions", window.kernel.size(), spatial);
    for (std::size_t i = 0; i < spatial; ++i)
      if (window.kernel[i] != w.dim(i + 2)) info_.fail("kernel_shape {} does not match weights {}", fmt::join(window.kernel, ","), shape_string(w.shape()));
    const Window::Resolved r = window.resolve(in, info_);
    Shape out{xs[0], w.dim(0)};
    out.insert(out.end(), r.out.begin(), r.out.end());
    dnnl::memory::dims strides, dilations;
    bool unit = true;  // stride 1, no dilation: Winograd's case
    for (std::size_t i = 0; i < spatial; ++i) {
      strides.push_back(window.strides.empty() ? 1 : window.strides[i]);
      dilations.push_back((window.dilations.empty() ? 1 : window.dilations[i]) - 1);  // oneDNN counts gaps
      unit = unit && strides.back() == 1 && dilations.back() == 0;
    }
    try {
      Plan plan;
      const int bo = static_cast<int>(block_out_);
      plan.out_shape = bo ? blocked_shape(out, bo) : out;
      plan.src = block_in_ ? blocked_desc(xs, static_cast<int>(block_in_)) : plain_desc(xs);
      plan.dst = bo ? blocked_desc(out, bo) : plain_desc(out);
      const auto any_weights = dnnl::memory::desc(dnnl_dims(logical_weights(w)), dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
      const auto bias = b ? plain_desc(b->shape()) : dnnl::memory::desc();
      dnnl::primitive_attr attr;
      if (bo) attr.set_post_ops(post_ops(inputs, out, plan.dst, plan.operands));
      auto make = [&](dnnl::algorithm algorithm) {
        dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, plan.src, any_weights, bias,
                                             plan.dst, strides, dilations, dnnl_dims(r.pad_begin), dnnl_dims(r.pad_end));
        return dnnl::convolution_forward::primitive_desc(desc, attr, dnnl_engine());
      };
      std::optional<dnnl::convolution_forward::primitive_desc> pd;
      if (winograd_ && unit && group_ == 1 && w.dim(2) == 3 && w.dim(3) == 3) {
        try {
          pd = make(dnnl::algorithm::convolution_winograd);
        } catch (const dnnl::error&) {
          // Not offered for this shape or ISA (oneDNN 2.6 has it on AVX-512 only): direct.
        }
      }
      if (!pd) pd = make(dnnl::algorithm::convolution_direct);
      plan.primitive = dnnl::convolution_forward(*pd);
      plan.weights = pd->weights_desc();
      return plan;
    } catch (const dnnl::error& e) {
      info_.fail("oneDNN refused the convolution of {} with weights {}: {}", shape_string(xs), shape_string(w.shape()), e.what());
    }
  }

  // Weights as oneDNN sees them: groups split out as a leading dimension.
  Shape logical_weights(const Tensor& w) const {
    Shape s = w.shape();
    if (group_ > 1) {
      s.insert(s.begin(), group_);
      s[1] /= group_;
    }
    return s;
  }

  // The weights in the layout `desc`, reordered once per layout and kept while the weights' storage
  // stays the same (constant weights: for the session's life).
  dnnl::memory packed_weights(const dnnl::memory::desc& desc, const Tensor& w) {
    if (packed_source_.data() != w.data() || packed_source_.shape() != w.shape()) {
      packed_.clear();
      packed_source_ = w;
    }
    for (const auto& [d, m] : packed_)
      if (d == desc) return m;
    dnnl::memory user = wrap(plain_desc(logical_weights(w)), w);
    if (user.get_desc() == desc) return packed_.emplace_back(desc, user).second;
    dnnl::memory packed(desc, dnnl_engine());
    dnnl::reorder(user, packed).execute(dnnl_stream(), user, packed);
    dnnl_stream().wait();
    return packed_.emplace_back(desc, packed).second;
  }

  NodeInfo info_;
  Window window_;
  std::int64_t group_;
  Epilogue epilogue_;
  std::int64_t block_in_, block_out_;
  bool winograd_;
  PlanCache<std::vector<Shape>, Plan> plans_;
  Tensor packed_source_;  // keeps the weights' storage alive, so that its address identifies them
  std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> packed_;
};

}  // namespace

void add_convolution_kernels(KernelTable& t) {
  auto conv = [](const Node& node, std::int64_t) { return std::make_unique<ConvKernel>(node); };
  t["Conv"] = conv;
  t[std::string(kEngineDomain) + ":FusedConv"] = conv;
}

}  // namespace cpuinfer::engine

// The reorders at the edges of the blocked region (passes/blocked_layout.h), through oneDNN:
//   cpuinfer:ToBlocked  (block)            plain [N, C, H, W] -> blocked [N, ceil(C/block), H, W, block]
//   cpuinfer:ToPlain    (block, channels)  blocked -> plain [N, channels, H, W], of the same type (float32
//                                          or bfloat16), or float32 with float_output = 1 (passes/bf16_compute.h)
#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/plan_cache.h"
#include "engine/passes/bf16_compute.h"

namespace cpuinfer::engine {

namespace {

class ReorderKernel final : public Kernel {
 public:
  ReorderKernel(const Node& node, bool to_blocked)
      : info_(node), to_blocked_(to_blocked), block_(static_cast<int>(node.get_int("block", 0))),
        channels_(node.get_int("channels", 0)), float_output_(node.get_int(kFloatOutputAttribute, 0) != 0) {
    if (block_ != 8 && block_ != 16) info_.fail("channel block {} is not 8 or 16", block_);
  }

  std::vector<Tensor> run(Inputs inputs) const override {
    const Tensor& x = info_.input(inputs, 0);
    if (x.dtype() != DType::f32 && (to_blocked_ || x.dtype() != DType::bf16))
      info_.fail("the input must be float32{}, got {}", to_blocked_ ? "" : " or bfloat16", dtype_name(x.dtype()));
    Shape logical;
    if (to_blocked_) {
      if (x.rank() != 4) info_.fail("input {} is not [N, C, H, W]", shape_string(x.shape()));
      logical = x.shape();
    } else {
      logical = logical_shape(x, channels_, block_, info_);
    }
    const Shape out_shape = to_blocked_ ? blocked_shape(logical, block_) : logical;
    const DType out_type = float_output_ ? DType::f32 : x.dtype();
    Tensor y = allocate_checked(out_type, out_shape, info_);
    if (y.numel() == 0) return one(std::move(y));
    const auto held = plans_.get({logical, {static_cast<std::int64_t>(x.dtype()), static_cast<std::int64_t>(out_type)}}, [&] {
      const auto plain = plain_desc(logical, dnnl_type(to_blocked_ ? x.dtype() : out_type)),
                 blocked = blocked_desc(logical, block_, dnnl_type(to_blocked_ ? out_type : x.dtype()));
      Plan p{to_blocked_ ? plain : blocked, to_blocked_ ? blocked : plain, {}, {}};
      const dnnl::reorder::primitive_desc pd(dnnl_engine(), p.src, dnnl_engine(), p.dst, user_scratchpad());
      p.scratchpad = pd.scratchpad_desc();
      p.reorder = dnnl::reorder(pd);
      return p;
    });  // kept while the primitive runs (plan_cache.h)
    Plan& plan = *held;
    dnnl::memory src = wrap(plan.src, x), dst = wrap(plan.dst, y);
    const Scratchpad scratchpad(plan.scratchpad);
    plan.reorder.execute(dnnl_stream(), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}, {DNNL_ARG_SCRATCHPAD, scratchpad.memory()}});
    dnnl_stream().wait();
    return one(std::move(y));
  }

 private:
  struct Plan {
    dnnl::memory::desc src, dst;
    dnnl::reorder reorder;
    dnnl::memory::desc scratchpad;
  };

  NodeInfo info_;
  bool to_blocked_;
  int block_;
  std::int64_t channels_;
  bool float_output_;
  mutable PlanCache<std::vector<Shape>, Plan> plans_;  // by logical shape and input type
};

}  // namespace

void add_layout_kernels(KernelTable& t) {
  const std::string domain = std::string(kEngineDomain) + ":";
  t.add(domain + "ToBlocked", [](const Node& node, std::int64_t) { return std::make_unique<ReorderKernel>(node, true); });
  t.add(domain + "ToPlain", [](const Node& node, std::int64_t) { return std::make_unique<ReorderKernel>(node, false); }, {},
        {DType::f32, DType::bf16});  // bf16: passes/bf16_compute.h
}

}  // namespace cpuinfer::engine

// The reorders at the edges of the blocked region (passes/blocked_layout.h), through oneDNN:
//   cpuinfer:ToBlocked  (block)            plain [N, C, H, W] -> blocked [N, ceil(C/block), H, W, block]
//   cpuinfer:ToPlain    (block, channels)  blocked -> plain [N, channels, H, W]
#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/plan_cache.h"

namespace cpuinfer::engine {

namespace {

class ReorderKernel final : public Kernel {
 public:
  ReorderKernel(const Node& node, bool to_blocked)
      : info_(node), to_blocked_(to_blocked), block_(static_cast<int>(node.get_int("block", 0))),
        channels_(node.get_int("channels", 0)) {
    if (block_ != 8 && block_ != 16) info_.fail("channel block {} is not 8 or 16", block_);
  }

  std::vector<Tensor> run(Inputs inputs) override {
    const Tensor& x = info_.input(inputs, 0);
    info_.expect_dtype(x, DType::f32, "the input");
    Shape logical;
    if (to_blocked_) {
      if (x.rank() != 4) info_.fail("input {} is not [N, C, H, W]", shape_string(x.shape()));
      logical = x.shape();
    } else {
      logical = logical_shape(x, channels_, block_, info_);
    }
    const Shape out_shape = to_blocked_ ? blocked_shape(logical, block_) : logical;
    Tensor y = allocate_checked(DType::f32, out_shape, info_);
    if (y.numel() == 0) return one(std::move(y));
    Plan& plan = plans_.get(logical, [&] {
      const auto plain = plain_desc(logical), blocked = blocked_desc(logical, block_);
      Plan p{to_blocked_ ? plain : blocked, to_blocked_ ? blocked : plain, {}, {}};
      const dnnl::reorder::primitive_desc pd(dnnl_engine(), p.src, dnnl_engine(), p.dst, user_scratchpad());
      p.scratchpad = pd.scratchpad_desc();
      p.reorder = dnnl::reorder(pd);
      return p;
    });
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
  PlanCache<Shape, Plan> plans_;
};

}  // namespace

void add_layout_kernels(KernelTable& t) {
  const std::string domain = std::string(kEngineDomain) + ":";
  t.add(domain + "ToBlocked", [](const Node& node, std::int64_t) { return std::make_unique<ReorderKernel>(node, true); });
  t.add(domain + "ToPlain", [](const Node& node, std::int64_t) { return std::make_unique<ReorderKernel>(node, false); });
}

}  // namespace cpuinfer::engine

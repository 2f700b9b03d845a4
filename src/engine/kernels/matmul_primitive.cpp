// oneDNN matmul primitives: creation and execution.
#include "engine/kernels/matmul_primitive.h"

namespace cpuinfer::engine {

MatmulPlan make_matmul(const dnnl::memory::desc& a, const dnnl::memory::desc& b, const dnnl::memory::desc& bias,
                       const dnnl::memory::desc& c, const dnnl::primitive_attr& attr) {
  MatmulPlan plan{a, b, bias, c, {}, {}};
  dnnl::matmul::desc desc = bias.is_zero() ? dnnl::matmul::desc(a, b, c) : dnnl::matmul::desc(a, b, bias, c);
  const dnnl::matmul::primitive_desc pd(desc, user_scratchpad(attr), dnnl_engine());
  plan.b = pd.weights_desc();  // the layout chosen for a `format_tag::any` b
  plan.scratchpad = pd.scratchpad_desc();
  plan.primitive = dnnl::matmul(pd);
  return plan;
}

void for_each_row_block(std::int64_t rows, const std::function<void(std::int64_t, std::int64_t, std::int64_t)>& run) {
  std::int64_t first = 0;
  for (const std::int64_t block : {kLargeRowBlock, kSmallRowBlock})
    for (; rows - first >= block; first += block) run(block, first, block);
  if (first < rows) run(kSmallRowBlock, first, rows - first);
}

void execute(const MatmulPlan& plan, std::unordered_map<int, dnnl::memory> args) {
  const Scratchpad scratchpad(plan.scratchpad);
  args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad.memory());
  plan.primitive.execute(dnnl_stream(), args);
  dnnl_stream().wait();
}

void execute(const MatmulPlan& plan, const Tensor& a, const dnnl::memory& b, const Tensor* bias, Tensor& c,
             const std::vector<std::pair<int, dnnl::memory>>& extra) {
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(plan.a, a)}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, wrap(plan.c, c)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, wrap(plan.bias, *bias));
  for (const auto& [arg, memory] : extra) args.emplace(arg, memory);
  execute(plan, std::move(args));
}

void execute(const MatmulPlan& plan, const dnnl::memory& a, const dnnl::memory& b, const dnnl::memory& c) {
  execute(plan, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
}

}  // namespace cpuinfer::engine

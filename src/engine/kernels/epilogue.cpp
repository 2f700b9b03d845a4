// Epilogue steps: parsing, oneDNN post-ops, and our own loops (kernels/vector: compiled per ISA).
#include "engine/kernels/epilogue.h"

#include "engine/passes/fusion.h"

namespace cpuinfer::engine {

namespace {

using Kind = Epilogue::Kind;

VectorOp vector_op(Kind kind) {
  switch (kind) {
    case Kind::relu: return VectorOp::relu;
    case Kind::gelu: return VectorOp::gelu;
    case Kind::scale: return VectorOp::scale;
    case Kind::add: break;
  }
  return VectorOp::identity;
}

// o = op(a + b) with broadcasting.
void add_then(const VectorLoops& loops, VectorOp op, const Broadcast& plan, const float* a, const float* b, float* o,
              float factor) {
  for_each_broadcast_row<2>(plan, [&](const auto& offsets, std::int64_t at, std::int64_t n, const auto& strides) {
    const float* pa = a + offsets[0];
    const float* pb = b + offsets[1];
    float* po = o + at;
    if (strides[0] == 1 && strides[1] == 1) {
      loops.add_map(op, pa, pb, po, n, factor);
      return;
    }
    for (std::int64_t k = 0; k < n; ++k) po[k] = pa[k * strides[0]] + pb[k * strides[1]];
    loops.map(op, po, po, n, factor);
  });
}

}  // namespace

Epilogue::Epilogue(const Node& node, std::size_t first_operand) : first_operand_(first_operand), loops_(vector_loops()) {
  if (!node.has(kStepsAttribute)) return;
  const auto kinds = node.get_ints(kStepsAttribute);
  const auto factors = node.get_floats(kFactorsAttribute);
  std::size_t next_factor = 0;
  for (std::int64_t k : kinds) {
    const auto kind = static_cast<Kind>(k);
    if (kind != Kind::add && kind != Kind::relu && kind != Kind::gelu && kind != Kind::scale)
      NodeInfo(node).fail("unknown epilogue step {}", k);
    Step step{kind};
    if (kind == Kind::scale) {
      if (next_factor >= factors.size()) NodeInfo(node).fail("a Scale step without its factor");
      step.factor = factors[next_factor++];
    }
    steps_.push_back(step);
  }
  if (next_factor != factors.size()) NodeInfo(node).fail("{} factors for {} Scale steps", factors.size(), next_factor);
}

const Tensor& Epilogue::operand(Inputs inputs, std::size_t add_index, const NodeInfo& info) const {
  return info.input(inputs, first_operand_ + add_index);
}

Epilogue::PostOps Epilogue::post_ops(std::size_t from, std::size_t adds_before, Inputs inputs, const NodeInfo& info,
                                     const DescribeOperand& describe, bool sum_first) const {
  PostOps p;
  std::size_t i = from, add = adds_before;
  for (; i < steps_.size(); ++i) {
    switch (steps_[i].kind) {
      case Kind::relu: p.ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f); continue;
      case Kind::gelu: p.ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f); continue;
      case Kind::scale: p.ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, steps_[i].factor, 0.0f); continue;
      case Kind::add: break;
    }
    if (sum_first && i == from) {
      p.ops.append_sum(1.0f);
      ++add;
      continue;
    }
    const Tensor& t = operand(inputs, add, info);
    if (t.dtype() != DType::f32) info.fail("fused Add operand must be float32, got {}", dtype_name(t.dtype()));
    const std::optional<dnnl::memory::desc> desc = describe(t);
    if (!desc) break;
    p.operands.push_back({static_cast<std::size_t>(p.ops.len()), add++, *desc});
    p.ops.append_binary(dnnl::algorithm::binary_add, *desc);
  }
  p.next_step = i;
  p.adds_used = add;
  return p;
}

Tensor Epilogue::apply(Tensor y, std::size_t from, std::size_t adds_before, Inputs inputs, const NodeInfo& info) const {
  std::size_t add = adds_before;
  for (std::size_t i = from; i < steps_.size(); ++i) {
    const Step& step = steps_[i];
    if (step.kind == Kind::add) {
      // The Add and the step right after it, if that is not another Add, in one pass.
      const Tensor& other = operand(inputs, add++, info);
      if (other.dtype() != DType::f32) info.fail("fused Add operand must be float32, got {}", dtype_name(other.dtype()));
      const Broadcast plan = plan_broadcast({y.shape(), other.shape()}, info);
      Tensor out = plan.shape == y.shape() ? y : allocate_checked(DType::f32, plan.shape, info);
      const float* a = y.values<float>().data();
      const float* b = other.values<float>().data();
      float* o = out.values<float>().data();
      const Step next = i + 1 < steps_.size() ? steps_[i + 1] : Step{Kind::add};
      if (next.kind != Kind::add) ++i;
      add_then(loops_, vector_op(next.kind), plan, a, b, o, next.factor);
      y = out;
      continue;
    }
    float* v = y.values<float>().data();
    parallel_for(static_cast<std::int64_t>(y.numel()), 16384, [&](std::int64_t begin, std::int64_t end) {
      loops_.map(vector_op(step.kind), v + begin, v + begin, end - begin, step.factor);
    });
  }
  return y;
}

}  // namespace cpuinfer::engine

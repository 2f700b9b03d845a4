// Epilogue steps: parsing, oneDNN post-ops, and our own loops (kernels/vector: compiled per ISA).
#include "engine/kernels/epilogue.h"

#include <cmath>
#include <utility>

#include "engine/passes/fusion.h"

namespace cpuinfer::engine {

namespace {

using Kind = Epilogue::Kind;

// The loop of kernels/vector for a step, where it has one.
std::optional<VectorOp> vector_op(Kind kind) {
  switch (kind) {
    case Kind::relu: return VectorOp::relu;
    case Kind::gelu: return VectorOp::gelu;
    case Kind::scale: return VectorOp::scale;
    case Kind::add:
    case Kind::clip:
    case Kind::hard_swish:
    case Kind::swish: break;
  }
  return std::nullopt;
}

// The steps without a vector loop, element by element.
void apply_scalar(const Epilogue::Step& step, float* v, std::int64_t n) {
  if (step.kind == Kind::clip) {
    const float lo = step.factors[0], hi = step.factors[1];
    for (std::int64_t i = 0; i < n; ++i) v[i] = v[i] < lo ? lo : (v[i] > hi ? hi : v[i]);
  } else if (step.kind == Kind::hard_swish) {  // x * clamp(x / 6 + 1/2, 0, 1)
    for (std::int64_t i = 0; i < n; ++i) {
      const float g = v[i] / 6.0f + 0.5f;
      v[i] *= g < 0.0f ? 0.0f : (g > 1.0f ? 1.0f : g);
    }
  } else {  // swish: x * sigmoid(x), with one exp of -|x|
    for (std::int64_t i = 0; i < n; ++i) {
      const float e = std::exp(-std::fabs(v[i])), s = 1.0f / (1.0f + e);
      v[i] *= v[i] >= 0.0f ? s : e * s;
    }
  }
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
    if (k < 0 || k > static_cast<std::int64_t>(Kind::swish)) NodeInfo(node).fail("unknown epilogue step {}", k);
    const auto kind = static_cast<Kind>(k);
    Step step{kind, {}};
    for (std::size_t f = 0; f < factor_count(kind); ++f) {
      if (next_factor >= factors.size()) NodeInfo(node).fail("epilogue step {} lacks its factors", k);
      step.factors.push_back(factors[next_factor++]);
    }
    steps_.push_back(step);
  }
  if (next_factor != factors.size()) NodeInfo(node).fail("{} factors for steps that take {}", factors.size(), next_factor);
}

const Tensor& Epilogue::operand(Inputs inputs, std::size_t add_index, const NodeInfo& info) const {
  return info.input(inputs, first_operand_ + add_index);
}

Epilogue::PostOps Epilogue::post_ops(std::size_t from, std::size_t adds_before, Inputs inputs, const NodeInfo& info,
                                     const DescribeOperand& describe, bool sum_first, const dnnl::post_ops& start) const {
  PostOps p;
  p.ops = start;
  std::size_t i = from, add = adds_before;
  // oneDNN 2.6 applies the parameters of the first eltwise post-op of an algorithm to every later
  // one of that algorithm in the chain (linear: Conv, Mul, Relu, Mul gave 1.07 of the range off; the
  // graph fuzzer's finds): the chain stops at a second scale or clip, and apply() does the rest.
  bool scaled = false, clipped = false;
  for (; i < steps_.size(); ++i) {
    if ((steps_[i].kind == Kind::scale && std::exchange(scaled, true)) || (steps_[i].kind == Kind::clip && std::exchange(clipped, true)))
      break;
    switch (steps_[i].kind) {
      case Kind::relu: p.ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f); continue;
      case Kind::gelu: p.ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f); continue;
      case Kind::scale: p.ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, steps_[i].factors[0], 0.0f); continue;
      case Kind::clip:
        p.ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, steps_[i].factors[0], steps_[i].factors[1]);
        continue;
      case Kind::hard_swish: p.ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_hardswish, 0.0f, 0.0f); continue;
      case Kind::swish: p.ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f); continue;
      case Kind::add: break;
    }
    if (sum_first && i == from) {
      p.ops.append_sum(1.0f);
      ++add;
      continue;
    }
    const Tensor& t = operand(inputs, add, info);
    // bfloat16: a blocked convolution's residual kept in bfloat16 (passes/bf16_compute.h)
    if (t.dtype() != DType::f32 && t.dtype() != DType::bf16) info.fail("fused Add operand must be float32, got {}", dtype_name(t.dtype()));
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
      const Step* next = i + 1 < steps_.size() ? &steps_[i + 1] : nullptr;
      const std::optional<VectorOp> op = next ? vector_op(next->kind) : std::nullopt;
      if (op) ++i;
      add_then(loops_, op.value_or(VectorOp::identity), plan, a, b, o, op && next->kind == Kind::scale ? next->factors[0] : 1.0f);
      y = out;
      continue;
    }
    float* v = y.values<float>().data();
    parallel_for(static_cast<std::int64_t>(y.numel()), 16384, [&](std::int64_t begin, std::int64_t end) {
      const std::optional<VectorOp> op = vector_op(step.kind);
      if (op) loops_.map(*op, v + begin, v + begin, end - begin, step.kind == Kind::scale ? step.factors[0] : 1.0f);
      else apply_scalar(step, v + begin, end - begin);
    });
  }
  return y;
}

}  // namespace cpuinfer::engine

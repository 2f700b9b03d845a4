// Epilogue steps: parsing, oneDNN post-ops, and our own loops (one template instance per
// activation, so that each loop vectorises).
#include "engine/kernels/epilogue.h"

#include <cmath>

#include "engine/passes/fusion.h"

namespace cpuinfer::engine {

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;
using Kind = Epilogue::Kind;

template <Kind K> float activate(float v, float factor) {
  if constexpr (K == Kind::relu) return v > 0.0f ? v : 0.0f;
  else if constexpr (K == Kind::gelu) return 0.5f * v * (1.0f + std::erf(v * kInvSqrt2));
  else if constexpr (K == Kind::scale) return v * factor;
  else return v;
}

// o = activate(a + b) with broadcasting.
template <Kind K> void add_then(const Broadcast& plan, const float* a, const float* b, float* o, float factor) {
  for_each_broadcast_row<2>(plan, [&](const auto& offsets, std::int64_t at, std::int64_t n, const auto& strides) {
    const float* pa = a + offsets[0];
    const float* pb = b + offsets[1];
    float* po = o + at;
    if (strides[0] == 1 && strides[1] == 1) {
      for (std::int64_t k = 0; k < n; ++k) po[k] = activate<K>(pa[k] + pb[k], factor);
    } else {
      for (std::int64_t k = 0; k < n; ++k) po[k] = activate<K>(pa[k * strides[0]] + pb[k * strides[1]], factor);
    }
  });
}

template <Kind K> void activate_all(float* v, std::int64_t count, float factor) {
  parallel_for(count, 16384, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t k = b; k < e; ++k) v[k] = activate<K>(v[k], factor);
  });
}

}  // namespace

Epilogue::Epilogue(const Node& node, std::size_t first_operand) : first_operand_(first_operand) {
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
      switch (next.kind) {
        case Kind::relu: add_then<Kind::relu>(plan, a, b, o, 1.0f); ++i; break;
        case Kind::gelu: add_then<Kind::gelu>(plan, a, b, o, 1.0f); ++i; break;
        case Kind::scale: add_then<Kind::scale>(plan, a, b, o, next.factor); ++i; break;
        case Kind::add: add_then<Kind::add>(plan, a, b, o, 1.0f); break;
      }
      y = out;
      continue;
    }
    float* v = y.values<float>().data();
    const auto count = static_cast<std::int64_t>(y.numel());
    switch (step.kind) {
      case Kind::relu: activate_all<Kind::relu>(v, count, 1.0f); break;
      case Kind::gelu: activate_all<Kind::gelu>(v, count, 1.0f); break;
      case Kind::scale: activate_all<Kind::scale>(v, count, step.factor); break;
      case Kind::add: break;
    }
  }
  return y;
}

}  // namespace cpuinfer::engine

// Epilogue steps: parsing, oneDNN post-ops, and the fallback loops.
#include "engine/kernels/epilogue.h"

#include <cmath>

#include "engine/passes/fusion.h"

namespace cpuinfer::engine {

namespace {
constexpr float kInvSqrt2 = 0.70710678118654752f;

}  // namespace

Epilogue::Epilogue(const Node& node, std::size_t first_operand) : first_operand_(first_operand) {
  for (const auto& name : node.get_strings(kEpilogueAttribute)) {
    if (name == "Add") steps_.push_back(Step::add);
    else if (name == "Relu") steps_.push_back(Step::relu);
    else if (name == "Gelu") steps_.push_back(Step::gelu);
    else NodeInfo(node).fail("unknown epilogue step '{}'", name);
  }
}

const Tensor& Epilogue::operand(Inputs inputs, std::size_t add_index, const NodeInfo& info) const {
  return info.input(inputs, first_operand_ + add_index);
}

bool Epilogue::to_post_ops(std::size_t from, dnnl::post_ops& ops) const {
  for (std::size_t i = from; i < steps_.size(); ++i)
    if (steps_[i] == Step::add) return false;
  for (std::size_t i = from; i < steps_.size(); ++i)
    ops.append_eltwise(1.0f, steps_[i] == Step::relu ? dnnl::algorithm::eltwise_relu : dnnl::algorithm::eltwise_gelu_erf,
                       0.0f, 0.0f);
  return true;
}

namespace {
// out[k] = act(a[k] (+ b[k])) for one activation known at compile time, so the loop vectorizes.
template <Epilogue::Step Act> float act(float v) {
  if constexpr (Act == Epilogue::Step::relu) return v > 0.0f ? v : 0.0f;
  else if constexpr (Act == Epilogue::Step::gelu) return 0.5f * v * (1.0f + std::erf(v * kInvSqrt2));
  else return v;
}

template <Epilogue::Step Act>
void add_then(const Broadcast& plan, const float* a, const float* b, float* o) {
  for_each_broadcast_row<2>(plan, [&](const auto& offsets, std::int64_t at, std::int64_t n, const auto& strides) {
    const float* pa = a + offsets[0];
    const float* pb = b + offsets[1];
    float* po = o + at;
    if (strides[0] == 1 && strides[1] == 1) {
      for (std::int64_t k = 0; k < n; ++k) po[k] = act<Act>(pa[k] + pb[k]);
    } else {
      for (std::int64_t k = 0; k < n; ++k) po[k] = act<Act>(pa[k * strides[0]] + pb[k * strides[1]]);
    }
  });
}

template <Epilogue::Step Act> void activate_all(float* v, std::int64_t count) {
  parallel_for(count, 16384, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t k = b; k < e; ++k) v[k] = act<Act>(v[k]);
  });
}
}  // namespace

Tensor Epilogue::apply(Tensor y, std::size_t from, std::size_t adds_before, Inputs inputs, const NodeInfo& info) const {
  std::size_t add = adds_before;
  std::size_t i = from;
  while (i < steps_.size()) {
    if (steps_[i] == Step::add) {
      // An Add and the activation right after it (if any), in one pass.
      const Tensor& other = operand(inputs, add++, info);
      if (other.dtype() != DType::f32) info.fail("fused Add operand must be float32, got {}", dtype_name(other.dtype()));
      const Broadcast plan = plan_broadcast({y.shape(), other.shape()}, info);
      Tensor out = plan.shape == y.shape() ? y : allocate_checked(DType::f32, plan.shape, info);
      const Step next = i + 1 < steps_.size() ? steps_[i + 1] : Step::add;
      const float* a = y.values<float>().data();
      const float* b = other.values<float>().data();
      float* o = out.values<float>().data();
      switch (next) {
        case Step::relu: add_then<Step::relu>(plan, a, b, o); ++i; break;
        case Step::gelu: add_then<Step::gelu>(plan, a, b, o); ++i; break;
        case Step::add: add_then<Step::add>(plan, a, b, o); break;
      }
      y = out;
    } else {
      float* v = y.values<float>().data();
      const auto count = static_cast<std::int64_t>(y.numel());
      if (steps_[i] == Step::relu) activate_all<Step::relu>(v, count);
      else activate_all<Step::gelu>(v, count);
    }
    ++i;
  }
  return y;
}

}  // namespace cpuinfer::engine

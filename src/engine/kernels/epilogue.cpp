// Epilogue steps: parsing, oneDNN post-ops, and the fallback loops.
#include "engine/kernels/epilogue.h"

#include <cmath>

#include "engine/passes/fusion.h"

namespace cpuinfer::engine {

namespace {
constexpr float kInvSqrt2 = 0.70710678118654752f;

float activate(Epilogue::Step s, float v) {
  switch (s) {
    case Epilogue::Step::relu: return v > 0.0f ? v : 0.0f;
    case Epilogue::Step::gelu: return 0.5f * v * (1.0f + std::erf(v * kInvSqrt2));
    case Epilogue::Step::add: break;
  }
  return v;
}
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

Tensor Epilogue::apply(Tensor y, std::size_t from, std::size_t adds_before, Inputs inputs, const NodeInfo& info) const {
  std::size_t add = adds_before;
  std::size_t i = from;
  while (i < steps_.size()) {
    // An Add with the activations right after it, in one pass.
    std::size_t end = i + 1;
    while (end < steps_.size() && steps_[end] != Step::add) ++end;
    if (steps_[i] == Step::add) {
      const Tensor& other = operand(inputs, add++, info);
      if (other.dtype() != DType::f32) info.fail("fused Add operand must be float32, got {}", dtype_name(other.dtype()));
      const Broadcast plan = plan_broadcast({y.shape(), other.shape()}, info);
      Tensor out = plan.shape == y.shape() ? y : allocate_checked(DType::f32, plan.shape, info);
      const float* a = y.values<float>().data();
      const float* b = other.values<float>().data();
      float* o = out.values<float>().data();
      for_each_broadcast_row<2>(plan, [&](const auto& offsets, std::int64_t at, std::int64_t n, const auto& strides) {
        for (std::int64_t k = 0; k < n; ++k) {
          float v = a[offsets[0] + k * strides[0]] + b[offsets[1] + k * strides[1]];
          for (std::size_t s = i + 1; s < end; ++s) v = activate(steps_[s], v);
          o[at + k] = v;
        }
      });
      y = out;
    } else {
      float* v = y.values<float>().data();
      parallel_for(static_cast<std::int64_t>(y.numel()), 16384, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t k = b; k < e; ++k)
          for (std::size_t s = i; s < end; ++s) v[k] = activate(steps_[s], v[k]);
      });
    }
    i = end;
  }
  return y;
}

}  // namespace cpuinfer::engine

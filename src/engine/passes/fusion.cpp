// Epilogue fusion over the topological order, with reader counts kept up to date.
#include "engine/passes/fusion.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace cpuinfer::engine {

namespace {

struct Steps {
  std::vector<std::int64_t> kinds;
  std::vector<float> factors;
  void add(EpilogueKind kind, std::vector<float> step_factors = {}) {
    kinds.push_back(static_cast<std::int64_t>(kind));
    factors.insert(factors.end(), step_factors.begin(), step_factors.end());
  }
};

class Fuser {
 public:
  explicit Fuser(Graph& g) : g_(g), removed_(g.nodes.size(), false), producer_(g.values.size(), -1) {
    for (ValueId out : g.outputs) graph_outputs_.insert(out);
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      for (ValueId in : g.nodes[i].inputs)
        if (in != kNoValue) readers_[in].push_back(i);
      for (ValueId out : g.nodes[i].outputs)
        if (out != kNoValue) producer_[static_cast<std::size_t>(out)] = static_cast<int>(i);
    }
  }

  std::size_t run() {
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      Node& n = g_.nodes[i];
      if (removed_[i] || !n.domain.empty() || (n.op_type != "Conv" && n.op_type != "MatMul") || n.outputs.size() != 1)
        continue;
      // Conv's optional bias keeps its slot so that Add operands start at a fixed index.
      if (n.op_type == "Conv") n.inputs.resize(3, kNoValue);
      Steps steps;
      while (true) {
        const ValueId v = n.outputs[0];
        if (graph_outputs_.count(v)) break;
        const auto& readers = readers_[v];
        if (readers.size() == 1 && fuse_single(n, v, g_.nodes[readers[0]], readers[0], steps)) continue;
        if (fuse_gelu(n, v, steps) || fuse_swish(n, v, steps)) continue;
        break;
      }
      if (!steps.kinds.empty()) {
        n.domain = kEngineDomain;
        n.op_type = "Fused" + n.op_type;
        n.attributes[kStepsAttribute] = std::move(steps.kinds);
        n.attributes[kFactorsAttribute] = std::move(steps.factors);
      }
    }
    std::vector<Node> kept;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed_[i]) kept.push_back(std::move(g_.nodes[i]));
    const std::size_t count = g_.nodes.size() - kept.size();
    g_.nodes = std::move(kept);
    return count;
  }

 private:
  const Tensor* scalar_constant(ValueId v) const {
    if (v == kNoValue) return nullptr;
    const Value& value = g_.values[static_cast<std::size_t>(v)];
    if (!value.constant || value.constant->dtype() != DType::f32 || value.constant->numel() != 1) return nullptr;
    return &*value.constant;
  }
  // A Clip's bounds when they are known at load: attributes before opset 11, constant inputs from
  // it (a bound left out is unbounded).
  std::optional<std::pair<float, float>> clip_bounds(const Node& c) const {
    float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
    if (g_.opset < 11) return std::pair{c.get_float("min", lo), c.get_float("max", hi)};
    for (std::size_t k : {1, 2}) {
      if (k >= c.inputs.size() || c.inputs[k] == kNoValue) continue;
      const Tensor* t = scalar_constant(c.inputs[k]);
      if (!t) return std::nullopt;
      (k == 1 ? lo : hi) = t->values<float>()[0];
    }
    return std::pair{lo, hi};
  }
  bool is_scalar(ValueId v, float expected) const {
    const Tensor* t = scalar_constant(v);
    return t && std::fabs(t->values<float>()[0] - expected) <= 1e-6f * std::max(1.0f, std::fabs(expected));
  }

  // The smallest rank n's output can have, from what is known at load time: a Conv's output has its
  // weights' rank; a MatMul by constant weights of rank r >= 2 has at least rank r - 1.
  std::size_t min_output_rank(const Node& n) const {
    const ValueId w = n.inputs.size() > 1 ? n.inputs[1] : kNoValue;
    const Value* weights = w == kNoValue ? nullptr : &g_.values[static_cast<std::size_t>(w)];
    if (!weights || !weights->constant) return 0;
    const std::size_t r = weights->constant->rank();
    return n.op_type == "Conv" ? r : (r >= 2 ? r - 1 : 0);
  }

  // n's output moves to `consumer`'s output; the consumer goes.
  void absorb(Node& n, std::size_t consumer) {
    Node& c = g_.nodes[consumer];
    n.outputs[0] = c.outputs[0];
    n.computes.insert(n.computes.end(), c.computes.begin(), c.computes.end());
    removed_[consumer] = true;
  }

  bool fuse_single(Node& n, ValueId v, Node& c, std::size_t ci, Steps& steps) {
    if (c.outputs.size() != 1 || !c.domain.empty()) return false;
    if (c.op_type == "Relu" && c.input_count() == 1) {
      steps.add(EpilogueKind::relu);
      absorb(n, ci);
      return true;
    }
    if (c.op_type == "HardSwish" && c.input_count() == 1) {
      steps.add(EpilogueKind::hard_swish);
      absorb(n, ci);
      return true;
    }
    if (c.op_type == "Clip" && c.inputs.size() >= 1 && c.inputs[0] == v) {  // ReLU6 in every MobileNet
      const auto bounds = clip_bounds(c);
      if (!bounds) return false;
      steps.add(EpilogueKind::clip, {bounds->first, bounds->second});
      absorb(n, ci);
      return true;
    }
    if ((c.op_type == "Div" || c.op_type == "Mul") && c.inputs.size() == 2 && c.input_count() == 2) {
      // By a float constant: a scale (division as multiplication by the reciprocal).
      const bool div = c.op_type == "Div";
      if (div && c.inputs[0] != v) return false;
      const ValueId other = c.inputs[0] == v ? c.inputs[1] : c.inputs[0];
      const Tensor* t = scalar_constant(other);
      // A one-element factor of higher rank than the output would broadcast the output to its rank.
      if (!t || other == v || t->rank() > min_output_rank(n)) return false;
      const float f = t->values<float>()[0];
      if (!std::isfinite(f) || (div && f == 0.0f)) return false;
      // A scale right after a scale becomes one multiplication (kernels/epilogue.h keeps oneDNN
      // from seeing two linear post-ops in one chain).
      if (!steps.kinds.empty() && steps.kinds.back() == static_cast<std::int64_t>(EpilogueKind::scale))
        steps.factors.back() *= div ? 1.0f / f : f;
      else
        steps.add(EpilogueKind::scale, {div ? 1.0f / f : f});
      absorb(n, ci);
      return true;
    }
    if (c.op_type == "Add" && c.input_count() == 2 && c.inputs.size() == 2) {
      const ValueId other = c.inputs[0] == v ? c.inputs[1] : c.inputs[0];
      if (other == v) return false;
      // The operand must exist before n runs: produced earlier in the order, or known up front.
      const int p = producer_[static_cast<std::size_t>(other)];
      const auto self = static_cast<int>(&n - g_.nodes.data());
      if (p >= self) return false;
      steps.add(EpilogueKind::add);
      n.inputs.push_back(other);
      auto& readers = readers_[other];
      std::replace(readers.begin(), readers.end(), ci, static_cast<std::size_t>(self));
      absorb(n, ci);
      return true;
    }
    return false;
  }

  // x -> Div(x, sqrt 2) -> Erf -> Add(1) -> Mul(x, .) -> Mul(., 0.5)
  bool fuse_gelu(Node& n, ValueId x, Steps& steps) {
    const auto& readers = readers_[x];
    if (readers.size() != 2) return false;
    for (int order = 0; order < 2; ++order) {
      const std::size_t di = readers[static_cast<std::size_t>(order)], mi = readers[static_cast<std::size_t>(1 - order)];
      const Node& div = g_.nodes[di];
      if (!div.domain.empty() || div.op_type != "Div" || div.inputs.size() != 2 || div.inputs[0] != x || !is_scalar(div.inputs[1], std::sqrt(2.0f)))
        continue;
      const std::size_t ei = single_reader(div.outputs[0], "Erf");
      if (ei == kNone) continue;
      const std::size_t ai = single_reader(g_.nodes[ei].outputs[0], "Add");
      if (ai == kNone) continue;
      const Node& add = g_.nodes[ai];
      const ValueId erf_out = g_.nodes[ei].outputs[0];
      const ValueId one = add.inputs.size() == 2 ? (add.inputs[0] == erf_out ? add.inputs[1] : add.inputs[0]) : kNoValue;
      if (!is_scalar(one, 1.0f)) continue;
      if (single_reader(add.outputs[0], "Mul") != mi) continue;
      const Node& mul = g_.nodes[mi];
      if (mul.inputs.size() != 2 || !((mul.inputs[0] == x && mul.inputs[1] == add.outputs[0]) ||
                                      (mul.inputs[1] == x && mul.inputs[0] == add.outputs[0])))
        continue;
      const std::size_t hi = single_reader(mul.outputs[0], "Mul");
      if (hi == kNone) continue;
      const Node& half = g_.nodes[hi];
      const ValueId half_const = half.inputs.size() == 2 ? (half.inputs[0] == mul.outputs[0] ? half.inputs[1] : half.inputs[0]) : kNoValue;
      if (!is_scalar(half_const, 0.5f)) continue;
      steps.add(EpilogueKind::gelu);
      n.outputs[0] = half.outputs[0];
      for (std::size_t r : {di, ei, ai, mi, hi}) {
        n.computes.insert(n.computes.end(), g_.nodes[r].computes.begin(), g_.nodes[r].computes.end());
        removed_[r] = true;
      }
      return true;
    }
    return false;
  }

  // x -> Sigmoid -> Mul(x, .): SiLU, EfficientNet's activation. (A Sigmoid alone is not fused:
  // oneDNN's logistic post-op moved efficientnet_b0's logits 1.6e-4 of their range from ORT's.)
  bool fuse_swish(Node& n, ValueId x, Steps& steps) {
    const auto& readers = readers_[x];
    if (readers.size() != 2) return false;
    for (int order = 0; order < 2; ++order) {
      const std::size_t si = readers[static_cast<std::size_t>(order)], mi = readers[static_cast<std::size_t>(1 - order)];
      const Node& sigmoid = g_.nodes[si];
      if (!sigmoid.domain.empty() || sigmoid.op_type != "Sigmoid" || sigmoid.input_count() != 1) continue;
      if (single_reader(sigmoid.outputs[0], "Mul") != mi) continue;
      const Node& mul = g_.nodes[mi];
      if (mul.inputs.size() != 2 || !((mul.inputs[0] == x && mul.inputs[1] == sigmoid.outputs[0]) ||
                                      (mul.inputs[1] == x && mul.inputs[0] == sigmoid.outputs[0])))
        continue;
      steps.add(EpilogueKind::swish);
      n.outputs[0] = mul.outputs[0];
      for (std::size_t r : {si, mi}) {
        n.computes.insert(n.computes.end(), g_.nodes[r].computes.begin(), g_.nodes[r].computes.end());
        removed_[r] = true;
      }
      return true;
    }
    return false;
  }

  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  // The node reading `v` when it is the only one and has type `op` (and v is not a graph output).
  std::size_t single_reader(ValueId v, const char* op) const {
    auto it = readers_.find(v);
    if (graph_outputs_.count(v) || it == readers_.end() || it->second.size() != 1) return kNone;
    const std::size_t r = it->second[0];
    const Node& n = g_.nodes[r];
    return n.domain.empty() && n.op_type == op && n.outputs.size() == 1 ? r : kNone;
  }

  Graph& g_;
  std::vector<bool> removed_;
  std::vector<int> producer_;
  std::set<ValueId> graph_outputs_;
  std::map<ValueId, std::vector<std::size_t>> readers_;
};

}  // namespace

std::size_t fuse_epilogues(Graph& graph) { return Fuser(graph).run(); }

std::string fused_type_label(const Node& node) {
  std::string label = node.source_type();
  if (node.domain != kEngineDomain) return label;
  for (std::int64_t kind : node.get_ints(kStepsAttribute)) {
    switch (static_cast<EpilogueKind>(kind)) {
      case EpilogueKind::add: label += "+Add"; break;
      case EpilogueKind::relu: label += "+Relu"; break;
      case EpilogueKind::gelu: label += "+Gelu"; break;
      case EpilogueKind::scale: label += "+Scale"; break;
      case EpilogueKind::clip: label += "+Clip"; break;
      case EpilogueKind::hard_swish: label += "+HardSwish"; break;
      case EpilogueKind::swish: label += "+Swish"; break;
      default: label += "+?"; break;
    }
  }
  return label;
}

}  // namespace cpuinfer::engine

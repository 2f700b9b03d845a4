// The blocked-layout pass: one walk over the topological order, tracking which values are held
// blocked (and with how many channels) and the reordered copies made so far.
#include "engine/passes/blocked_layout.h"

#include <algorithm>
#include <map>
#include <set>

namespace cpuinfer::engine {

namespace {

bool is_onnx(const Node& n, const char* op) { return n.domain.empty() && n.op_type == op; }

class Blocker {
 public:
  Blocker(Graph& g, const LayoutOptions& options)
      : g_(g), options_(options), channels_(g.values.size(), -1), graph_outputs_(g.outputs.begin(), g.outputs.end()) {}

  LayoutReport run() {
    std::vector<Node> nodes = std::move(g_.nodes);
    g_.nodes.clear();
    for (Node& n : nodes) {
      if (!convert_conv(n) && !convert_pool(n) && !convert_elementwise(n))
        for (ValueId& in : n.inputs)
          if (is_blocked(in)) in = plain_copy(in);
      g_.nodes.push_back(std::move(n));
      for (Node& r : after_) g_.nodes.push_back(std::move(r));
      after_.clear();
    }
    return report_;
  }

 private:
  bool is_blocked(ValueId v) const { return v != kNoValue && channels_[static_cast<std::size_t>(v)] >= 0; }
  std::int64_t channels(ValueId v) const { return channels_[static_cast<std::size_t>(v)]; }
  const Tensor* constant(ValueId v) const {
    const auto& c = g_.values[static_cast<std::size_t>(v)].constant;
    return c ? &*c : nullptr;
  }

  ValueId new_value(ValueId like, const char* suffix) {
    Value v{g_.values[static_cast<std::size_t>(like)].name + suffix, DType::f32, std::nullopt, std::nullopt};
    const ValueId id = g_.add_value(std::move(v));
    channels_.push_back(-1);
    return id;
  }

  Node reorder(const char* op, ValueId in, ValueId out, std::int64_t channels) {
    Node r;
    r.domain = kEngineDomain;
    r.op_type = op;
    r.name = g_.values[static_cast<std::size_t>(out)].name;
    r.inputs = {in};
    r.outputs = {out};
    r.attributes["block"] = std::int64_t{options_.block};
    if (channels >= 0) r.attributes["channels"] = channels;
    ++report_.reorders;
    return r;
  }

  // The plain copy of a blocked value, reordered right after the nodes emitted so far.
  ValueId plain_copy(ValueId v) {
    auto [it, fresh] = plain_copies_.try_emplace(v, kNoValue);
    if (fresh) {
      it->second = new_value(v, "/plain");
      g_.nodes.push_back(reorder("ToPlain", v, it->second, channels(v)));
    }
    return it->second;
  }

  ValueId blocked_copy(ValueId v, std::int64_t channels) {
    auto [it, fresh] = blocked_copies_.try_emplace(v, kNoValue);
    if (fresh) {
      it->second = new_value(v, "/blocked");
      channels_[static_cast<std::size_t>(it->second)] = channels;
      g_.nodes.push_back(reorder("ToBlocked", v, it->second, -1));
    }
    return it->second;
  }

  // The node writes its output blocked; a graph output gets its plain form through a ToPlain.
  void block_output(Node& n, std::int64_t channels) {
    const ValueId out = n.outputs[0];
    if (!graph_outputs_.count(out)) {
      channels_[static_cast<std::size_t>(out)] = channels;
      return;
    }
    const ValueId blocked = new_value(out, "/blocked");
    channels_[static_cast<std::size_t>(blocked)] = channels;
    n.outputs[0] = blocked;
    after_.push_back(reorder("ToPlain", blocked, out, channels));
  }

  bool convert_conv(Node& n) {
    const bool fused = n.domain == kEngineDomain && n.op_type == "FusedConv";
    if ((!is_onnx(n, "Conv") && !fused) || n.outputs.size() != 1 || n.inputs.size() < 2 || n.inputs[0] == kNoValue) return false;
    const Tensor* w = n.inputs[1] == kNoValue ? nullptr : constant(n.inputs[1]);
    if (!w || w->rank() != 4 || w->dtype() != DType::f32) return false;
    const std::int64_t group = n.get_int("group", 1);
    if (!options_.dilated && std::ranges::any_of(n.get_ints("dilations"), [](std::int64_t d) { return d > 1; })) return false;
    const std::int64_t in_channels = w->dim(1) * group, out_channels = w->dim(0);
    if (group != 1 && !(w->dim(1) == 1 && out_channels == group)) return false;  // plain or depthwise only
    for (std::size_t k = 3; k < n.inputs.size(); ++k) {  // fused Add operands
      const ValueId v = n.inputs[k];
      if (v == kNoValue) return false;
      const Tensor* c = constant(v);
      if (!(is_blocked(v) && channels(v) == out_channels) && !(c && c->dtype() == DType::f32 && blocked_operand_shape(c->shape(), out_channels)))
        return false;
    }
    n.inputs.resize(std::max<std::size_t>(n.inputs.size(), 3), kNoValue);
    ValueId& x = n.inputs[0];
    std::int64_t block_in = options_.block;
    if (!is_blocked(x)) {
      if (in_channels >= options_.block) x = blocked_copy(x, in_channels);
      else block_in = 0;  // an image's few channels: read plain
    }
    n.domain = kEngineDomain;
    n.op_type = "FusedConv";
    n.attributes["block_in"] = block_in;
    n.attributes["block_out"] = std::int64_t{options_.block};
    n.attributes["winograd"] = std::int64_t{options_.winograd ? 1 : 0};
    block_output(n, out_channels);
    ++report_.blocked_nodes;
    return true;
  }

  bool convert_pool(Node& n) {
    if ((!is_onnx(n, "MaxPool") && !is_onnx(n, "AveragePool")) || n.outputs.size() != 1 || n.inputs.empty() ||
        !is_blocked(n.inputs[0]) || n.get_ints("kernel_shape").size() != 2 || n.get_int("storage_order", 0) != 0)
      return false;
    const std::int64_t c = channels(n.inputs[0]);
    n.domain = kEngineDomain;
    n.attributes["block"] = std::int64_t{options_.block};
    n.attributes["channels"] = c;
    block_output(n, c);
    ++report_.blocked_nodes;
    return true;
  }

  // Operators that work on the stored form unchanged and keep the padding zero: Relu, and Add, Sub,
  // Mul, Max, Min of two blocked values of the same channel count (broadcasting over N, H, W is
  // the same in both layouts).
  bool convert_elementwise(Node& n) {
    if (!n.domain.empty() || n.outputs.size() != 1 || n.inputs.empty()) return false;
    static const std::set<std::string> binary{"Add", "Sub", "Mul", "Max", "Min"};
    if (n.op_type == "Relu" && n.inputs.size() == 1 && is_blocked(n.inputs[0])) {
      block_output(n, channels(n.inputs[0]));
      ++report_.blocked_nodes;
      return true;
    }
    if (binary.count(n.op_type) && n.inputs.size() == 2 && is_blocked(n.inputs[0]) && is_blocked(n.inputs[1]) &&
        channels(n.inputs[0]) == channels(n.inputs[1])) {
      block_output(n, channels(n.inputs[0]));
      ++report_.blocked_nodes;
      return true;
    }
    return false;
  }

  Graph& g_;
  LayoutOptions options_;
  std::vector<std::int64_t> channels_;  // per value: channels when held blocked, else -1
  std::set<ValueId> graph_outputs_;
  std::map<ValueId, ValueId> plain_copies_, blocked_copies_;
  std::vector<Node> after_;  // the ToPlain of the current node's graph output
  LayoutReport report_;
};

}  // namespace

std::optional<Shape> blocked_operand_shape(const Shape& s, std::int64_t channels) {
  if (s.size() > 4) return std::nullopt;
  if (std::ranges::all_of(s, [](std::int64_t d) { return d == 1; })) return Shape{1, 1, 1, 1};
  if (s.size() < 3) return std::nullopt;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] != (4 - s.size() + i == 1 ? channels : 1)) return std::nullopt;
  return Shape{1, channels, 1, 1};
}

LayoutReport block_layouts(Graph& graph, const LayoutOptions& options) { return Blocker(graph, options).run(); }

}  // namespace cpuinfer::engine

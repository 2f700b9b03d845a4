// Prefix search, then node bypassing to a fixed point.
#include "fuzz/graphs/graph_shrinker.h"

#include <set>
#include <string>

namespace cpuinfer::fuzz {

onnx::ModelProto without_dead_nodes(const onnx::ModelProto& model) {
  onnx::ModelProto m = model;
  onnx::GraphProto& g = *m.mutable_graph();
  std::set<std::string> needed;
  for (const auto& o : g.output()) needed.insert(o.name());
  std::vector<bool> keep(static_cast<std::size_t>(g.node_size()), false);
  for (int i = g.node_size() - 1; i >= 0; --i) {
    const onnx::NodeProto& n = g.node(i);
    bool used = false;
    for (const auto& o : n.output()) used = used || needed.count(o);
    if (!used) continue;
    keep[static_cast<std::size_t>(i)] = true;
    for (const auto& in : n.input()) needed.insert(in);
  }
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (int i = 0; i < g.node_size(); ++i)
    if (keep[static_cast<std::size_t>(i)]) *nodes.Add() = g.node(i);
  g.mutable_node()->Swap(&nodes);
  google::protobuf::RepeatedPtrField<onnx::TensorProto> inits;
  for (const auto& t : g.initializer())
    if (needed.count(t.name())) *inits.Add() = t;
  g.mutable_initializer()->Swap(&inits);
  return m;
}

namespace {

onnx::ModelProto with_output(const onnx::ModelProto& model, const std::string& value) {
  onnx::ModelProto m = model;
  auto* outputs = m.mutable_graph()->mutable_output();
  outputs->Clear();
  auto* o = outputs->Add();
  o->set_name(value);
  o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return without_dead_nodes(m);
}

// Node i removed, readers of its output reading its first input instead.
onnx::ModelProto bypassed(const onnx::ModelProto& model, int i) {
  onnx::ModelProto m = model;
  onnx::GraphProto& g = *m.mutable_graph();
  const std::string from = g.node(i).output(0), to = g.node(i).input(0);
  for (auto& n : *g.mutable_node())
    for (auto& in : *n.mutable_input())
      if (in == from) in = to;
  for (auto& o : *g.mutable_output())
    if (o.name() == from) o.set_name(to);
  g.mutable_node()->DeleteSubrange(i, 1);
  return without_dead_nodes(m);
}

bool is_graph_input(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& in : g.input())
    if (in.name() == name) return true;
  return false;
}

}  // namespace

onnx::ModelProto shrink_graph(const onnx::ModelProto& model, const std::function<bool(const onnx::ModelProto&)>& fails) {
  onnx::ModelProto best = without_dead_nodes(model);
  // The shortest failing prefix.
  for (const auto& n : best.graph().node()) {
    if (n.op_type() == "Constant" || n.output_size() == 0) continue;
    const onnx::ModelProto candidate = with_output(best, n.output(0));
    if (candidate.graph().node_size() < best.graph().node_size() && fails(candidate)) {
      best = candidate;
      break;
    }
  }
  // Nodes bypassed while the failure stays.
  for (bool progress = true; progress;) {
    progress = false;
    for (int i = best.graph().node_size() - 1; i >= 0; --i) {
      const onnx::NodeProto& n = best.graph().node(i);
      if (n.op_type() == "Constant" || n.input_size() == 0 || n.output_size() != 1) continue;
      const std::string& first = n.input(0);
      if (first.empty()) continue;
      // The first input must be a value (not a constant): a graph input or a node's output.
      bool produced = is_graph_input(best.graph(), first);
      for (const auto& p : best.graph().node())
        if (p.op_type() != "Constant" && p.output_size() > 0 && p.output(0) == first) produced = true;
      if (!produced) continue;
      onnx::ModelProto candidate = bypassed(best, i);
      if (fails(candidate)) {
        best = std::move(candidate);
        progress = true;
        break;
      }
    }
  }
  return best;
}

}  // namespace cpuinfer::fuzz

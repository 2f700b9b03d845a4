// Constant folding in one pass over the topological order.
#include "engine/passes/constant_folding.h"

#include "core/error.h"

namespace cpuinfer::engine {

std::size_t fold_constants(Graph& graph, const Evaluate& evaluate) {
  std::vector<Node> kept;
  std::size_t folded = 0;
  for (Node& node : graph.nodes) {
    bool constant = !node.outputs.empty();
    std::vector<const Tensor*> args;
    for (ValueId in : node.inputs) {
      if (in == kNoValue) {
        args.push_back(nullptr);
        continue;
      }
      const Value& v = graph.values[static_cast<std::size_t>(in)];
      if (!v.constant) {
        constant = false;
        break;
      }
      args.push_back(&*v.constant);
    }
    if (!constant) {
      kept.push_back(std::move(node));
      continue;
    }
    std::vector<Tensor> outs = evaluate(node, args);
    if (outs.size() < node.outputs.size())
      fail("node {}: produced {} outputs, the graph reads {}", node.label(), outs.size(), node.outputs.size());
    for (std::size_t k = 0; k < node.outputs.size(); ++k) {
      if (node.outputs[k] == kNoValue) continue;
      Value& out = graph.values[static_cast<std::size_t>(node.outputs[k])];
      out.constant = std::move(outs[k]);
      out.dtype = out.constant->dtype();
    }
    ++folded;
  }
  graph.nodes = std::move(kept);

  std::vector<bool> read(graph.values.size(), false);
  for (const Node& node : graph.nodes)
    for (ValueId in : node.inputs)
      if (in != kNoValue) read[static_cast<std::size_t>(in)] = true;
  for (ValueId out : graph.outputs) read[static_cast<std::size_t>(out)] = true;
  for (std::size_t v = 0; v < graph.values.size(); ++v)
    if (!read[v]) graph.values[v].constant.reset();
  return folded;
}

}  // namespace cpuinfer::engine

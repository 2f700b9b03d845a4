// Constant folding in one pass over the topological order. Memory stays bounded: nodes nobody
// reads are dropped unevaluated, a constant is released as soon as its last reader has been
// folded, and once the constants made by folding pass a budget, the remaining nodes are left to
// run time.
#include "engine/passes/constant_folding.h"

#include <set>

#include "core/error.h"

namespace cpuinfer::engine {

namespace {
constexpr std::size_t kFoldedBytesBudget = std::size_t{2} << 30;
}

std::size_t fold_constants(Graph& graph, const Evaluate& evaluate) {
  std::vector<std::size_t> readers(graph.values.size(), 0);
  for (const Node& node : graph.nodes)
    for (ValueId in : node.inputs)
      if (in != kNoValue) ++readers[static_cast<std::size_t>(in)];
  std::set<ValueId> outputs(graph.outputs.begin(), graph.outputs.end());
  auto needed = [&](ValueId v) { return v != kNoValue && (readers[static_cast<std::size_t>(v)] > 0 || outputs.count(v)); };

  // Dead code first, from the back, so that chains of unread nodes all go.
  std::vector<bool> dead(graph.nodes.size(), false);
  for (std::size_t i = graph.nodes.size(); i-- > 0;) {
    const Node& node = graph.nodes[i];
    bool used = false;
    for (ValueId out : node.outputs) used = used || needed(out);
    if (used) continue;
    dead[i] = true;
    for (ValueId in : node.inputs)
      if (in != kNoValue) --readers[static_cast<std::size_t>(in)];
  }

  std::vector<Node> kept;
  std::size_t folded = 0, folded_bytes = 0;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& node = graph.nodes[i];
    if (dead[i]) {
      ++folded;
      continue;
    }
    bool constant = folded_bytes < kFoldedBytesBudget;
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
      folded_bytes += outs[k].nbytes();
      out.constant = std::move(outs[k]);
      out.dtype = out.constant->dtype();
    }
    for (ValueId in : node.inputs) {
      if (in == kNoValue) continue;
      if (--readers[static_cast<std::size_t>(in)] == 0 && !outputs.count(in))
        graph.values[static_cast<std::size_t>(in)].constant.reset();
    }
    ++folded;
  }
  graph.nodes = std::move(kept);
  release_unread_constants(graph);  // initializers only dead nodes read, say
  return folded;
}

}  // namespace cpuinfer::engine

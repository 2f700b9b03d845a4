// Constant folding: every node whose inputs are all known at load time (initializers, Constant
// nodes, and what is computed from them: torch's Identity on weights, shape arithmetic on
// constants) is evaluated once with its kernel and removed; its outputs become constants.
// Nodes whose outputs nobody reads are removed unevaluated; constants are released as soon as
// nothing reads them; past 2 GiB of folded constants the rest is left to run time.
#pragma once

#include <functional>
#include <vector>

#include "engine/graph.h"
#include "engine/kernels/kernel.h"

namespace cpuinfer::engine {

using Evaluate = std::function<std::vector<Tensor>(const Node& node, Inputs inputs)>;

// Returns the number of nodes folded or removed.
std::size_t fold_constants(Graph& graph, const Evaluate& evaluate);

}  // namespace cpuinfer::engine

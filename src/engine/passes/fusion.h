// Epilogue fusion: element-wise work that directly follows a Conv or MatMul is folded into that
// node, which then applies it to its output before anyone reads it, instead of a separate pass
// over memory per operator. Fused, in order:
//   Add   an Add of the output and any other tensor (bias, residual, attention mask); repeatable;
//   Scale a Mul or Div by a float scalar constant (attention's 1/sqrt(d)), as a multiplication;
//   Relu  ResNet's activation;
//   Gelu  BERT's activation as torch exports it: x * 0.5 * (1 + erf(x / sqrt(2))), five nodes.
// A step is fused only when the intermediate value has no other reader and is not a graph output.
// The steps are recorded in the node's "cpuinfer.epilogue" attribute; Add operands are appended to
// its inputs, in order, after its own inputs.
#pragma once

#include <cstddef>

#include "engine/graph.h"

namespace cpuinfer::engine {

inline constexpr const char* kEpilogueAttribute = "cpuinfer.epilogue";

// Returns the number of nodes removed.
std::size_t fuse_epilogues(Graph& graph);

}  // namespace cpuinfer::engine

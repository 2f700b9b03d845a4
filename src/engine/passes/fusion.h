// Epilogue fusion: element-wise work that directly follows a Conv or MatMul is folded into that
// node, which then applies it to its output before anyone reads it, instead of a separate pass
// over memory per operator. Fused, in order:
//   Add   an Add of the output and any other tensor (bias, residual, attention mask); repeatable;
//   Scale a Mul or Div by a float scalar constant (attention's 1/sqrt(d)), as a multiplication
//         (consecutive ones as one);
//   Relu  ResNet's activation;
//   Gelu  BERT's activation as torch exports it: x * 0.5 * (1 + erf(x / sqrt(2))), five nodes.
// A step is fused only when the intermediate value has no other reader and is not a graph output.
// A node that took steps becomes the engine-domain operator FusedConv or FusedMatMul: the ONNX
// operator's attributes plus "steps" (ints, EpilogueKind in order) and "factors" (floats, one per
// Scale step, in order). Add operands are appended to its inputs, in order, after its own inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/graph.h"

namespace cpuinfer::engine {

// Factors: scale takes one (the factor), clip two (the bounds); the others none.
enum class EpilogueKind : std::int64_t { add = 0, relu = 1, gelu = 2, scale = 3, clip = 4, hard_swish = 5, swish = 6 };
inline std::size_t factor_count(EpilogueKind kind) {
  return kind == EpilogueKind::scale ? 1 : kind == EpilogueKind::clip ? 2 : 0;
}
inline constexpr const char* kStepsAttribute = "steps";
inline constexpr const char* kFactorsAttribute = "factors";

// Returns the number of nodes removed.
std::size_t fuse_epilogues(Graph& graph);

// What a node computes, for profiles: its type, with a fused node's steps ("Conv+Add+Relu"); the
// engine's own operators without their domain ("MaxPool", "ToPlain").
std::string fused_type_label(const Node& node);

}  // namespace cpuinfer::engine

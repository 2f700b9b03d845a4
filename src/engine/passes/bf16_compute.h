// bfloat16 compute: the products that carry a model's work (convolutions and MatMuls by constant
// weights, with their fused steps, and the projection of fused attention) take bfloat16 inputs and
// weights and accumulate in float32 (oneDNN's AVX512_BF16 kernels: twice float32's rate; no
// Winograd). Their outputs, and everything else (LayerNorm, Softmax and attention's own products,
// residual Adds, pooling, activations), stay float32. The weights are converted once, at load; the
// activations per product. Marked nodes carry the attribute "bf16" = 1 (a plain MatMul or Conv
// becomes cpuinfer:FusedMatMul or cpuinfer:FusedConv).
#pragma once

#include <cstddef>

#include "engine/graph.h"

namespace cpuinfer::engine {

inline constexpr const char* kBf16Attribute = "bf16";

// Whether this CPU runs bfloat16 products natively (AVX512_BF16, under the engine's ISA cap): ""
// when it does, else "this CPU lacks AVX512_BF16" (or why the cap excludes it).
std::string bf16_unsupported_reason();

// Returns the number of nodes marked.
std::size_t compute_in_bf16(Graph& graph);

}  // namespace cpuinfer::engine

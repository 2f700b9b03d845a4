// bfloat16 compute: the products that carry a model's work (convolutions and MatMuls by constant
// weights, with their fused steps, and fused attention: its projection and its Q K^T and P V,
// kernels/attention.cpp) take bfloat16 inputs and weights and accumulate in float32 (oneDNN's
// AVX512_BF16 kernels: twice float32's rate; no Winograd). Their fused steps (bias, residual Adds,
// activations) run in float32 on the sums; LayerNorm, Softmax and everything else stay float32.
// The weights are converted once, at load; the activations per product, unless a convolution
// already wrote them in bfloat16 (keep_bf16_activations below). Marked nodes carry the attribute
// "bf16" = 1 (a plain MatMul or Conv becomes cpuinfer:FusedMatMul or cpuinfer:FusedConv).
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

// After the blocked layout (passes/blocked_layout.h): a marked blocked convolution whose output
// only bfloat16 consumers read writes it in bfloat16 (attribute kBf16OutputAttribute), halving the
// traffic between convolutions and saving the next one's rounding pass. bfloat16 consumers: a
// marked blocked convolution (as its input or its fused residual Add's operand), a blocked pooling
// whose own readers are such (pooling keeps its input's type), a ToPlain (marked to give float32).
// A fused residual Add's operand and the output placed over it have one type: a convolution and the
// producer of its residual operand write bfloat16 both or neither. The values stored are what the
// next product would have rounded anyway, except the residual stream, which is held in bfloat16
// between blocks (its Adds still run in float32 inside the convolution). Returns the convolutions marked.
inline constexpr const char* kBf16OutputAttribute = "bf16_output";
// On a ToPlain reading such an output: give float32 (the rest of the model's type).
inline constexpr const char* kFloatOutputAttribute = "float_output";
std::size_t keep_bf16_activations(Graph& graph);

}  // namespace cpuinfer::engine

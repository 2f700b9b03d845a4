// Attention fusion: multi-head self-attention as torch exports BERT-style models becomes one
// engine operator, cpuinfer:Attention (kernels/attention.cpp). Matched, from each Softmax back and
// forward:
//   q, k, v  = MatMul(x, Wq|Wk|Wv) (+ bias), with constant weights, all three of the same x;
//   heads    = Transpose(Reshape(q, [B, L, heads, size]), 0 2 1 3); K's transposed 0 2 3 1;
//   scores   = MatMul(Q, K) (/ or * a scalar constant) (+ mask);
//   Softmax(scores, last axis);  context = MatMul(P, V);
//   output   = Reshape(Transpose(context, 0 2 1 3), [B, L, heads * size or -1]).
// The Reshape targets may be constants (0 copies a dimension) or computed from Shape as torch
// writes them; their B and L must be the input's own dimensions. Every intermediate value must
// be read only inside the pattern (the Shape arithmetic included), else the nodes stay as they
// are and run unfused, correctly.
// The Attention node: inputs x, W = [Wq Wk Wv] (constant, [hidden, 3 x width]), bias (constant,
// 3 x width), the mask (optional: the value added to the scores, broadcast to [B, heads, L, L]);
// attributes num_heads and scale.
#pragma once

#include <cstddef>

#include "engine/graph.h"

namespace cpuinfer::engine {

inline constexpr const char* kAttentionOp = "Attention";

// Returns the number of attention subgraphs fused.
std::size_t fuse_attention(Graph& graph);

}  // namespace cpuinfer::engine

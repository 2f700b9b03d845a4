// Padding-free batches. A batch of texts padded to its longest one spends most of its work on
// padding (48% of BERT's tokens at batch 8 on review-length texts). When every fused attention
// (passes/attention_fusion.h) of a model reads the same mask, and everything between them
// works token by token, the engine runs that region on the real tokens only:
//   PackTokens(x [B, L, H], mask) -> packed [1, T, H], offsets [B + 1]  where the region starts;
//   the region's nodes unchanged: they see a batch of one sequence of T tokens;
//   Attention gets the offsets and attends within each sequence (kernels/attention.cpp);
//   FirstToken(packed, offsets) -> [B, H]  for each Gather of token 0 (BERT's pooler), where it ends.
// Past the last attention only the first tokens are read: the nodes between it and the Gather
// compute them alone (BERT's last layer: its output projection, LayerNorms and feed-forward for one
// token per sequence instead of all), the last attention computes only its first queries
// (first_query_only), and FirstToken (keep_rank) takes the first tokens of what such nodes also
// read in full (the residual). The outputs are the same: each of those tokens' values depends
// only on its own row there.
// Token by token: MatMul by constant weights (fused epilogues included), element-wise operators
// whose other operands are packed too or constants broadcast along the hidden axis,
// LayerNormalization and ReduceMean over the last axis. The region must end only in Gathers of
// token 0 (no graph output, no other reader): outputs are then exactly those of the padded batch.
//
// At run time PackTokens reads the lengths from the mask (packed_lengths): sequence b keeps the
// keys up to the last one some query may see (mask above -1e4); the keys after it get softmax
// weight exactly 0 in the padded batch too. Masks from which no length follows (left padding, a
// row masked entirely, a mask that does not vary over keys) run the region on the padded rows as
// they are: the same nodes, every sequence L long.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "engine/graph.h"

namespace cpuinfer::engine {

inline constexpr const char* kPackTokensOp = "PackTokens";
inline constexpr const char* kFirstTokenOp = "FirstToken";
// FirstToken's attributes: keep_rank, output [1, B, H] instead of [B, H]; rows_selected, its input
// holds one row per sequence already ([1, B, H]). Attention's: first_query_only, output [1, B, width],
// the attention of each sequence's first token.
inline constexpr const char* kKeepRank = "keep_rank";
inline constexpr const char* kRowsSelected = "rows_selected";
inline constexpr const char* kFirstQueryOnly = "first_query_only";
// A mask value at or below this hides a key: exp(-1e4 + score - max) is 0 in float32.
inline constexpr float kHiddenKey = -1.0e4f;

// Returns 1 when the graph's attention region was packed, 0 when it does not qualify.
std::size_t pack_tokens(Graph& graph);

// The length of each of `batch` sequences of `length` tokens under an additive attention mask
// (broadcast to [batch, heads, queries, length]): 1 + the last key that is not hidden from every
// query. nullopt when some sequence has none, or the mask's last dimension is not `length`.
std::optional<std::vector<std::int64_t>> packed_lengths(const Tensor& mask, std::int64_t batch, std::int64_t length);

}  // namespace cpuinfer::engine

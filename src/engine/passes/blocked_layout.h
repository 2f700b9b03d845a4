// Blocked activation layout for convolutional networks, in the spirit of ONNX Runtime's NCHWc
// transformer. 2-D convolutions, and the pooling that reads their outputs, keep activations in
// oneDNN's blocked layout: logical [N, C, H, W] stored as [N, ceil(C/b), H, W, b], channels in
// blocks of b = 16 (AVX-512) or 8 (below), the last block zero-padded. oneDNN's direct and
// Winograd convolutions read and write it, with the fused steps as post-ops.
//
// Reorders are inserted only at the region's edges: cpuinfer:ToBlocked where a plain value enters
// it (a graph input or a plain operator's output read by a convolution with at least b input
// channels; fewer, as in an image's 3, are read plain), cpuinfer:ToPlain where a blocked value is
// read by an operator that needs the plain layout or is a graph output. Each value is reordered at
// most once per direction.
//
// A convolution joins the region when its weights are a constant of rank 4 and each fused Add's
// operand is either blocked with the convolution's output channels (ResNet's residuals) or a
// per-channel constant; otherwise it stays plain. Relu, and Add/Sub/Mul/Max/Min of two blocked
// values with the same channels, run unchanged on the stored form and stay in the region.
// Converted convolutions and pooling become engine-domain operators:
// cpuinfer:FusedConv (block_in, block_out, winograd), cpuinfer:MaxPool/AveragePool (block,
// channels).
#pragma once

#include <cstddef>
#include <optional>

#include "engine/graph.h"

namespace cpuinfer::engine {

struct LayoutOptions {
  int block = 16;         // channels per block: 16 or 8 (engine/isa.h, channel_block())
  bool winograd = true;   // let 3x3 stride-1 convolutions use Winograd where oneDNN offers it
  // Dilated convolutions blocked too. oneDNN 2.6 has blocked dilated kernels at avx512 only: below,
  // a dilated convolution stays plain, where its gemm convolution takes dilations (DeepLab's atrous
  // 3x3 over 14x14 at dilation 12: 2.2 s on oneDNN's reference kernel, 1-2 ms plain; AVX2 EPYC).
  bool dilated = true;
};

struct LayoutReport {
  std::size_t blocked_nodes = 0;  // convolutions, pooling and element-wise nodes now in the blocked layout
  std::size_t reorders = 0;       // ToBlocked and ToPlain nodes inserted
};

LayoutReport block_layouts(Graph& graph, const LayoutOptions& options);

// How a constant fused Add's operand of `shape` broadcasts against a blocked convolution's output
// [N, channels, H, W], as the 4-D shape oneDNN's binary post-op reads it: {1, channels, 1, 1} for
// one value per channel (rank 3 or 4, the channel axis present), {1, 1, 1, 1} for one value of
// rank 0 to 4. nullopt for anything else (a [channels] vector broadcasts along W, not channels).
std::optional<Shape> blocked_operand_shape(const Shape& shape, std::int64_t channels);

}  // namespace cpuinfer::engine

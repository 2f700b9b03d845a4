// How a model is loaded and run.
#pragma once

#include <cstddef>

namespace cpuinfer {

// The arithmetic of a model's products.
enum class Precision {
  f32,   // float32; a quantized (QDQ) model's int8 operators run as their float definition says
  bf16,  // bfloat16 products with float32 sums (needs AVX512_BF16: cpuinfer::Unsupported without)
  int8,  // a quantized model's int8 patterns on int8 kernels (uint8 x int8, VNNI where present)
};

struct Options {
  // Intra-op threads of each run. Thread budget: a model runs at most max(1, cores / threads) runs
  // at once; more wait for a slot, so concurrent runs x threads stay within the cores. 0: all the
  // cores this process may use.
  int threads = 1;
  Precision precision = Precision::f32;
  bool fuse = true;            // attention and epilogue fusion; off: every node runs on its own
  bool pack_tokens = true;     // padding-free batches around fused attention
  bool blocked_layout = true;  // convolutions in oneDNN's blocked layout; off: plain
  bool winograd = true;        // Winograd for 3x3 stride-1 convolutions where oneDNN offers it
  // The largest tensor, in bytes, that a run takes as input or makes from data or attributes
  // (ConstantOfShape, Expand, Tile, Resize, ...; loading folds constants under it too). Larger ones
  // are refused with cpuinfer::Error naming the input or node, before any memory is taken: a
  // service's guard against a request or model that would exhaust memory. 0: the engine's 8 GiB.
  std::size_t max_tensor_bytes = 0;
};

}  // namespace cpuinfer

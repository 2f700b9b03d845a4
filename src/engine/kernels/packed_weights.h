// A convolution's constant weights in the layouts oneDNN's primitives ask for: reordered once per
// layout and shared by every input shape that asks for the same layout.
//
// Memory (ResNet-101 holds 178 MB of weights): the plain weights are the source of every reorder
// only as long as a layout may still need them. oneDNN reorders into its Winograd layouts from
// plain weights only, so a convolution that may run Winograd keeps them; any other keeps its first
// blocked layout as the source and frees the plain copy. Winograd layouts depend on the problem's
// shape (batch, image size) and hold four times the plain bytes (F(4x4, 3x3) tiles), so only the
// latest is kept: a session alternating between batch sizes re-packs (about 10 ms per 256-channel
// convolution) rather than holding one transformed copy per batch size.
#pragma once

#include <memory>
#include <vector>

#include "engine/kernels/dnnl_support.h"

namespace cpuinfer::engine {

class PackedWeights {
 public:
  // `plain`: the weights as the model gives them; `logical`: their dims as oneDNN sees them (groups
  // split out). `winograd`: a Winograd layout may be asked for.
  PackedWeights(const Tensor& plain, const Shape& logical, bool winograd);
  // The weights in layout `desc`.
  dnnl::memory get(const dnnl::memory::desc& desc);

 private:
  // A layout in storage of our own (core/aligned_storage.h): freed, it leaves the RSS.
  struct Layout {
    std::shared_ptr<std::byte[]> storage;
    dnnl::memory memory;
  };

  Tensor plain_;   // while it may be the source of a reorder
  Layout source_;  // over plain_, or the first blocked layout
  bool winograd_;
  std::vector<Layout> layouts_;
};

}  // namespace cpuinfer::engine

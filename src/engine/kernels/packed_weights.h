// A convolution's constant weights in the layouts oneDNN's primitives ask for: reordered once per
// layout and shared by every input shape that asks for the same layout.
//
// Memory (ResNet-101 holds 178 MB of weights): one copy is the source of later reorders, the plain
// weights until the first blocked layout exists, that layout after (the plain copy is then freed);
// a layout with oneDNN's extra data (int8 compensation and scaling) never becomes the source.
// oneDNN reorders into its Winograd layouts from plain weights only: from a blocked source they go
// through a temporary plain copy. Winograd layouts depend on the problem's shape (batch, image
// size) and hold four times the plain bytes (F(4x4, 3x3) tiles), so only the latest is kept: a
// session alternating between batch sizes re-packs (about 10 ms per 256-channel convolution)
// rather than holding one transformed copy per batch size.
//
// Shared by every run of a model, on any thread: get() locks, and what it returns keeps its
// storage alive until the caller lets go, though another run replaces the layout meanwhile.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "engine/kernels/dnnl_support.h"

namespace cpuinfer::engine {

class PackedWeights {
 public:
  // `plain`: the weights as the model gives them; `logical`: their dims as oneDNN sees them (groups
  // split out).
  PackedWeights(const Tensor& plain, const Shape& logical);
  // The weights in one layout, and what keeps their storage: hold it until the primitive that
  // reads them has run.
  struct Held {
    dnnl::memory memory;
    std::shared_ptr<const void> storage;
  };
  // The weights in layout `desc`; with `taps`, the sub-block of desc's dims starting at those
  // offsets (a convolution that skips the taps that only ever read padding).
  Held get(const dnnl::memory::desc& desc, const dnnl::memory::dims& taps = {});

 private:
  // A layout in storage of our own (core/aligned_storage.h): freed, it leaves the RSS.
  struct Layout {
    std::shared_ptr<const void> storage;  // our bytes, or (the plain source) the model's tensor
    dnnl::memory memory;
    dnnl::memory::dims taps;  // offsets of a sub-block, or empty
  };
  static Layout allocate(const dnnl::memory::desc& desc);
  void reorder_into(const dnnl::memory& to, const dnnl::memory::dims& taps) const;

  std::mutex mutex_;
  bool plain_source_ = true;
  Shape logical_;
  Layout source_;  // over the plain weights, or the first blocked layout
  std::vector<Layout> layouts_;
};

}  // namespace cpuinfer::engine

// oneDNN plumbing shared by the convolution, pooling and matmul kernels: the CPU engine, a stream
// per thread, memory descriptors for plain (row-major) tensors, and spatial-window arithmetic
// (auto_pad, ceil_mode) shared by convolutions and pooling.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <memory>
#include <string>
#include <vector>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();
// "oneDNN 2.6.3 (cpu runtime: OpenMP)"
std::string dnnl_version_string();

dnnl::memory::dims dnnl_dims(const Shape& shape);
// oneDNN's element type of ours (f32, bf16, u8, i8, i32); Unsupported for the others.
dnnl::memory::data_type dnnl_type(DType dtype);
// Row-major descriptor of a shape (float32 unless told).
dnnl::memory::desc plain_desc(const Shape& shape, dnnl::memory::data_type type = dnnl::memory::data_type::f32);
// The blocked activation layout (passes/blocked_layout.h): logical [N, C, H, W] stored as
// [N, ceil(C / block), H, W, block], the last block zero-padded. Descriptors take logical dims.
dnnl::memory::desc blocked_desc(const Shape& logical, int block, dnnl::memory::data_type type = dnnl::memory::data_type::f32);
Shape blocked_shape(const Shape& logical, int block);
// The int8 region's layout (passes/int8_regions.h): logical [N, C, H, W] stored NHWC.
dnnl::memory::desc nhwc_desc(const Shape& logical, dnnl::memory::data_type type = dnnl::memory::data_type::u8);
// The logical [N, C, H, W] of a blocked tensor with `channels` channels; an Error naming the node
// when the tensor is not [N, ceil(channels / block), H, W, block].
Shape logical_shape(const Tensor& blocked, std::int64_t channels, int block, const NodeInfo& info);

// Scratchpads. Primitives are made with user_scratchpad() and run with a Scratchpad, which takes
// its storage as a tensor does: in a run, from the session's memory plan (a block that lives for
// one node, placed among the dead activations), else from the heap. oneDNN's own (library mode)
// came from the C heap, where what Winograd's batch-1 primitives used stayed in the RSS (118 MB on
// ResNet-101) after they ran. The storage is taken after the node's outputs (the memory plan's
// in-place rule reads a node's first block as its first output).
dnnl::primitive_attr user_scratchpad(dnnl::primitive_attr attr = {});
class Scratchpad {
 public:
  explicit Scratchpad(const dnnl::memory::desc& desc);
  const dnnl::memory& memory() const { return memory_; }

 private:
  std::shared_ptr<std::byte[]> storage_;
  dnnl::memory memory_;
};

// A memory object over a tensor's storage (oneDNN does not write to source arguments).
dnnl::memory wrap(const dnnl::memory::desc& desc, const Tensor& tensor);

// The attributes of a sliding window over the spatial dimensions (Conv, MaxPool, AveragePool).
struct Window {
  std::vector<std::int64_t> kernel, strides, dilations, pads;  // pads: begins then ends
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;

  static Window from(const Node& node, const NodeInfo& info);
  // Output spatial sizes and the begin/end paddings for given input spatial sizes, with the
  // end paddings grown so that oneDNN's floor rule yields the ceil_mode sizes.
  struct Resolved {
    std::vector<std::int64_t> out, pad_begin, pad_end;
    std::vector<std::int64_t> given_pad_end;  // before ceil_mode grew it: the padding the model asks for
  };
  Resolved resolve(const std::vector<std::int64_t>& in, const NodeInfo& info) const;
  // oneDNN's strides and dilations over `spatial` dimensions (1 and 0 where not given: oneDNN
  // counts the gaps a dilation leaves).
  dnnl::memory::dims dnnl_strides(std::size_t spatial) const;
  dnnl::memory::dims dnnl_dilations(std::size_t spatial) const;
};

}  // namespace cpuinfer::engine

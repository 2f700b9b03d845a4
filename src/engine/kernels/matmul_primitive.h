// oneDNN's matmul primitive as the MatMul, Gemm and Attention kernels use it: made once per shape
// (with its weights' layout chosen by oneDNN for a `format_tag::any` weights descriptor) and run
// with a scratchpad from the session's memory plan.
#pragma once

#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/kernels/dnnl_support.h"

namespace cpuinfer::engine {

struct MatmulPlan {
  dnnl::memory::desc a, b, bias, c, scratchpad;
  dnnl::matmul primitive;
};

// a: M x K (or batched), b: K x N; descriptors may carry strides (transposed operands). A zero
// `bias` descriptor: no bias.
MatmulPlan make_matmul(const dnnl::memory::desc& a, const dnnl::memory::desc& b, const dnnl::memory::desc& bias,
                       const dnnl::memory::desc& c, const dnnl::primitive_attr& attr);

// `b`: the weights in plan.b's layout. `extra`: further arguments (binary post-ops' operands) by
// oneDNN argument index.
void execute(MatmulPlan& plan, const Tensor& a, const dnnl::memory& b, const Tensor* bias, Tensor& c,
             const std::vector<std::pair<int, dnnl::memory>>& extra = {});
// Over memory the caller placed (views into larger tensors), without bias or post-op operands.
void execute(MatmulPlan& plan, const dnnl::memory& a, const dnnl::memory& b, const dnnl::memory& c);

}  // namespace cpuinfer::engine

// oneDNN's matmul primitive as the MatMul, Gemm and Attention kernels use it: made once per shape
// (with its weights' layout chosen by oneDNN for a `format_tag::any` weights descriptor) and run
// with a scratchpad from the session's memory plan.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/kernels/dnnl_support.h"

namespace cpuinfer::engine {

// Products by constant weights run in blocks of rows, so that their primitives do not depend on
// the row count: a new sequence length would otherwise make (JIT-compile) a primitive per layer,
// about 1 ms each. oneDNN's brgemm runs 32 rows at the rate of 256 (0.9 us per row of a
// 768 x 768 int8 product on Zen 5), so little is lost to blocking.
inline constexpr std::int64_t kLargeRowBlock = 256, kSmallRowBlock = 32;
// Calls run(block, first, count) over [0, rows): blocks of kLargeRowBlock, then kSmallRowBlock
// rows, then the rest (count < block = kSmallRowBlock), which the caller pads to a block.
void for_each_row_block(std::int64_t rows, const std::function<void(std::int64_t block, std::int64_t first, std::int64_t count)>& run);

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
void execute(const MatmulPlan& plan, const Tensor& a, const dnnl::memory& b, const Tensor* bias, Tensor& c,
             const std::vector<std::pair<int, dnnl::memory>>& extra = {});
// With every argument given (the scratchpad is added).
void execute(const MatmulPlan& plan, std::unordered_map<int, dnnl::memory> args);
// Over memory the caller placed (views into larger tensors), without bias or post-op operands.
void execute(const MatmulPlan& plan, const dnnl::memory& a, const dnnl::memory& b, const dnnl::memory& c);

}  // namespace cpuinfer::engine

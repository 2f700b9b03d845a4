// The element-wise steps fused into a Conv or MatMul (see passes/fusion.h), applied to the
// kernel's output. A kernel hands the leading steps oneDNN can do to its primitive (a bias, post-
// ops) and applies the rest here, in one pass over the output per Add.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/kernels/kernel_util.h"
#include "engine/kernels/vector/vector_loops.h"
#include "engine/passes/fusion.h"

namespace cpuinfer::engine {

class Epilogue {
 public:
  using Kind = EpilogueKind;
  struct Step {
    Kind kind;
    std::vector<float> factors;  // scale: the factor; clip: the bounds (passes/fusion.h factor_count)
  };

  // Reads the node's steps and factors (passes/fusion.h); Add operands are the node's inputs from
  // `first_operand` on.
  Epilogue(const Node& node, std::size_t first_operand);

  const std::vector<Step>& steps() const { return steps_; }
  // The operand of the k-th Add step.
  const Tensor& operand(Inputs inputs, std::size_t add_index, const NodeInfo& info) const;

  // Steps as oneDNN post-ops. Activations and scales become eltwise post-ops; an Add becomes a
  // binary post-op when `describe` gives its operand a descriptor, or, with `sum_first` when step
  // `from` is an Add, a sum into the output for it (the output was placed over its operand).
  // The steps stop at the first Add `describe` refuses, or at a second scale or clip (oneDNN 2.6
  // gives a later eltwise post-op of an algorithm the first one's parameters); apply() does the rest.
  using DescribeOperand = std::function<std::optional<dnnl::memory::desc>(const Tensor& operand)>;
  struct BinaryOperand {
    std::size_t post_op, add_index;
    dnnl::memory::desc desc;
  };
  struct PostOps {
    dnnl::post_ops ops;
    std::vector<BinaryOperand> operands;
    std::size_t next_step = 0, adds_used = 0;  // where apply() goes on
  };
  // `start`: post-ops the kernel itself needs first (an int8 product's row scale); the steps follow.
  PostOps post_ops(std::size_t from, std::size_t adds_before, Inputs inputs, const NodeInfo& info,
                   const DescribeOperand& describe, bool sum_first, const dnnl::post_ops& start = {}) const;
  // Applies steps [from, end) to y (float32), returning the result (y itself, unless an Add
  // broadcasts it to a larger shape). `adds_before` Add operands were consumed by earlier steps.
  Tensor apply(Tensor y, std::size_t from, std::size_t adds_before, Inputs inputs, const NodeInfo& info) const;

 private:
  std::vector<Step> steps_;
  std::size_t first_operand_;
  const VectorLoops& loops_;  // of the engine's ISA, chosen when the kernel is made
};

}  // namespace cpuinfer::engine

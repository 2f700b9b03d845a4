// A kernel executes one node. It is made once at load time from the node (attributes checked
// there), given the node's constant inputs to prepack, and run for every inference on the node's input tensors, whose shapes may change from
// run to run (symbolic batch and sequence dimensions): shape-dependent state, such as a oneDNN
// primitive, is cached by the kernel per shape.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/graph.h"

namespace cpuinfer::engine {

// One pointer per node input; nullptr for an optional input left out.
using Inputs = std::span<const Tensor* const>;

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Load time, once per constant input, before any run: a kernel may prepare its own form of the
  // constant (weights reordered for oneDNN) and return true to take it over. It then never reads
  // that input at run, where it is passed as nullptr, and the session frees its own copy once
  // every node reading the constant has taken it.
  virtual bool prepack(std::size_t input, const Tensor& constant) {
    (void)input;
    (void)constant;
    return false;
  }
  // Whether the first output may be placed over input `input` when that input dies here and is
  // as large: the kernel reads each element of it before writing the output element at the same
  // place (element-wise operators). The session's memory plan decides (engine/memory/).
  virtual bool may_overwrite(std::size_t input) const {
    (void)input;
    return false;
  }
  // One tensor per node output. Throws cpuinfer::Error for inputs the operator rejects (wrong
  // shapes, out-of-range indices) and cpuinfer::Unsupported for element types it lacks.
  virtual std::vector<Tensor> run(Inputs inputs) = 0;
};

// Made at load time; throws cpuinfer::Error for invalid attributes and cpuinfer::Unsupported for
// attribute values the kernel does not implement.
using KernelFactory = std::function<std::unique_ptr<Kernel>(const Node& node, std::int64_t opset)>;
using KernelTable = std::map<std::string, KernelFactory>;

// A kernel that is a plain function of the node and its inputs (most operators); `elementwise`:
// its first output may overwrite any input of its size (Kernel::may_overwrite).
using KernelFunction = std::function<std::vector<Tensor>(Inputs inputs)>;
std::unique_ptr<Kernel> make_function_kernel(KernelFunction function, bool elementwise = false);

// Every operator the engine runs, by Node::qualified_type(): "Conv", "cpuinfer:FusedConv".
const KernelTable& kernel_table();
// Throws cpuinfer::Unsupported naming the node and operator when there is no kernel for it.
std::unique_ptr<Kernel> make_kernel(const Node& node, std::int64_t opset);

// The operator families, each in its own file, add their kernels to the table.
void add_elementwise_kernels(KernelTable& table);
void add_shape_kernels(KernelTable& table);
void add_data_movement_kernels(KernelTable& table);
void add_reduction_kernels(KernelTable& table);
void add_normalization_kernels(KernelTable& table);
void add_convolution_kernels(KernelTable& table);
void add_pooling_kernels(KernelTable& table);
void add_matmul_kernels(KernelTable& table);
void add_layout_kernels(KernelTable& table);

}  // namespace cpuinfer::engine

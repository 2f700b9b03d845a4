// The kernel table: every operator family registers its operators here, explicitly.
#include "engine/kernels/kernel.h"

#include "core/error.h"

namespace cpuinfer::engine {

namespace {
class FunctionKernel final : public Kernel {
 public:
  FunctionKernel(KernelFunction f, bool elementwise) : f_(std::move(f)), elementwise_(elementwise) {}
  bool may_overwrite(std::size_t) const override { return elementwise_; }
  std::vector<Tensor> run(Inputs inputs) override { return f_(inputs); }

 private:
  KernelFunction f_;
  bool elementwise_;
};
}  // namespace

std::unique_ptr<Kernel> make_function_kernel(KernelFunction function, bool elementwise) {
  return std::make_unique<FunctionKernel>(std::move(function), elementwise);
}

const KernelTable& kernel_table() {
  static const KernelTable table = [] {
    KernelTable t;
    add_elementwise_kernels(t);
    add_shape_kernels(t);
    add_data_movement_kernels(t);
    add_reduction_kernels(t);
    add_normalization_kernels(t);
    add_convolution_kernels(t);
    add_pooling_kernels(t);
    add_matmul_kernels(t);
    add_layout_kernels(t);
    return t;
  }();
  return table;
}

std::unique_ptr<Kernel> make_kernel(const Node& node, std::int64_t opset) {
  auto it = kernel_table().find(node.qualified_type());
  if (it == kernel_table().end())
    throw Unsupported(fmt::format("node '{}': operator {} is not supported", node.name, node.qualified_type()));
  return it->second(node, opset);
}

}  // namespace cpuinfer::engine

// The kernel table: every operator family registers its operators here, explicitly.
#include "engine/kernels/kernel.h"

#include <algorithm>

#include "core/error.h"
#include "engine/kernels/half_as_float.h"
#include "engine/onnx/operator_versions.h"
#include "engine/passes/bf16_compute.h"

namespace cpuinfer::engine {

namespace {

bool has(const std::vector<DType>& types, DType t) { return std::find(types.begin(), types.end(), t) != types.end(); }

// Kernels without a half-precision form take float16 and bfloat16 where they take float32
// (kernels/half_as_float.h).
bool accepts(const KernelRegistration& r, DType t) {
  if (r.types.empty() || has(r.types, t)) return true;
  return (t == DType::f16 || t == DType::bf16) && has(r.types, DType::f32);
}

class FunctionKernel final : public Kernel {
 public:
  FunctionKernel(KernelFunction f, bool elementwise) : f_(std::move(f)), elementwise_(elementwise) {}
  bool may_overwrite(std::size_t) const override { return elementwise_; }
  std::vector<Tensor> run(Inputs inputs) const override { return f_(inputs); }

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
    add_activation_kernels(t);
    add_variadic_kernels(t);
    add_indexing_kernels(t);
    add_generator_kernels(t);
    add_sorting_kernels(t);
    add_detection_kernels(t);
    add_resize_kernels(t);
    add_shape_kernels(t);
    add_data_movement_kernels(t);
    add_reduction_kernels(t);
    add_normalization_kernels(t);
    add_convolution_kernels(t);
    add_conv_transpose_kernels(t);
    add_pooling_kernels(t);
    add_max_unpool_kernels(t);
    add_recurrent_kernels(t);
    add_determinant_kernels(t);
    add_einsum_kernels(t);
    add_spectral_kernels(t);
    add_ngram_kernels(t);
    add_sampling_kernels(t);
    add_quantization_kernels(t);
    add_matmul_kernels(t);
    add_attention_kernels(t);
    add_token_packing_kernels(t);
    add_layout_kernels(t);
    add_int8_convolution_kernels(t);
    add_int8_nhwc_kernels(t);
    return t;
  }();
  return table;
}

void KernelTable::add(const std::string& qualified_op, KernelFactory make, OpsetRange opsets, std::vector<DType> types) {
  by_op_[qualified_op].push_back({opsets, std::move(types), std::move(make)});
}

std::vector<std::string> KernelTable::operators() const {
  std::vector<std::string> ops;
  for (const auto& [op, registrations] : by_op_) ops.push_back(op);
  return ops;
}

std::int64_t semantic_opset(const Node& node, std::int64_t opset) {
  if (!node.domain.empty() || opset <= kNewestOpset) return opset;
  if (opset > newest_known_opset())
    throw Unsupported(node.label(), fmt::format("opset {} is newer than the newest ONNX opset the engine knows ({})", opset,
                                                newest_known_opset()));
  std::int64_t since = kNewestOpset;
  for (const OperatorVersion& v : versions_after_17(node.op_type))
    if (v.version <= opset && v.change != OperatorChange::types) since = v.version;
  return since;
}

const KernelRegistration& KernelTable::find(const Node& node, std::int64_t model_opset, std::optional<DType> type) const {
  const std::string op = node.qualified_type();
  auto it = by_op_.find(op);
  if (it == by_op_.end()) throw Unsupported(node.label(), fmt::format("operator {} is not supported", op));
  const bool versioned = node.domain.empty();
  const std::int64_t opset = semantic_opset(node, model_opset);
  std::vector<std::string> ranges, types;
  for (const KernelRegistration& r : it->second) {
    if (versioned && (opset < r.opsets.first || opset > r.opsets.last)) {
      ranges.push_back(fmt::format("{} to {}", r.opsets.first, r.opsets.last));
      continue;
    }
    if (type && !accepts(r, *type)) {
      for (DType t : r.types) types.push_back(dtype_name(t));
      continue;
    }
    return r;
  }
  if (!types.empty())
    throw Unsupported(node.label(), fmt::format("{} on {} is not supported (kernels for {})", op, dtype_name(*type), fmt::join(types, ", ")));
  if (opset > kNewestOpset) {  // the operator changed after the opsets the kernels follow
    for (const OperatorVersion& v : versions_after_17(node.op_type))
      if (v.version == opset)
        throw Unsupported(node.label(), fmt::format("{}-{} {}: not supported (kernels for opsets {})", op, opset, v.what,
                                                    fmt::join(ranges, ", ")));
  }
  throw Unsupported(node.label(), fmt::format("{} opset {} is not supported (kernels for opsets {})", op, opset, fmt::join(ranges, ", ")));
}

std::unique_ptr<Kernel> make_kernel(const Node& node, std::int64_t opset, std::optional<DType> type) {
  const KernelRegistration& r = kernel_table().find(node, opset, type);
  std::unique_ptr<Kernel> kernel = r.make(node, semantic_opset(node, opset));
  // A bfloat16 product (passes/bf16_compute.h) takes bfloat16 activations as they are.
  const bool takes_bf16 = has(r.types, DType::bf16) || node.get_int(kBf16Attribute, 0) != 0;
  return has(r.types, DType::f16) ? std::move(kernel) : half_as_float(std::move(kernel), takes_bf16);
}

}  // namespace cpuinfer::engine

// A kernel executes one node, in three steps, as XNNPACK's operators and ONNX Runtime's kernels do:
//  - made once at load time from the node (attributes checked there), and given the node's
//    constant inputs to prepack (weights reordered once, the session's copy freed);
//  - planned per input shapes (batch, sequence): shape-dependent state, such as a oneDNN
//    primitive, is kept in the kernel's LRU PlanCache (kernels/plan_cache.h), shared by the runs
//    on every thread;
//  - run, taking its outputs' storage from the session (engine/memory/run_memory.h: the memory
//    plan of the shapes, in place where may_overwrite() allows).
// Kernels are registered by operator, the opsets whose semantics they follow, and the element
// types of their first input (KernelTable).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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
  // place (element-wise operators), and allocates its first output before any other tensor. The
  // session's memory plan decides (engine/memory/run_memory.h).
  virtual bool may_overwrite(std::size_t input) const {
    (void)input;
    return false;
  }
  // One tensor per node output. Throws cpuinfer::Error for inputs the operator rejects (wrong
  // shapes, out-of-range indices) and cpuinfer::Unsupported for element types it lacks.
  // Any number of runs at once, on any threads (engine/session.h): what a kernel caches at run
  // time (plans, weight layouts) locks itself and is held while used (kernels/plan_cache.h).
  virtual std::vector<Tensor> run(Inputs inputs) const = 0;
};

// Made at load time; throws cpuinfer::Error for invalid attributes and cpuinfer::Unsupported for
// attribute values the kernel does not implement.
using KernelFactory = std::function<std::unique_ptr<Kernel>(const Node& node, std::int64_t opset)>;

// The newest opset of ONNX's default domain whose operators the kernels follow: ONNX 1.12's
// (Debian 12), whose node tests pin them (tests/engine/onnx_node_conformance.cpp).
inline constexpr std::int64_t kNewestOpset = 17;
struct OpsetRange {
  std::int64_t first = 1, last = kNewestOpset;
};

// The opset whose meaning a node follows in a model of default-domain `opset`: the opset itself up
// to kNewestOpset; past it, the newest version of the operator (onnx/operator_versions.h) no later
// than `opset` that changed more than element types, or kNewestOpset when none did (Relu in an
// opset-19 model is Relu-14, as at opset 17). Kernels are registered and made with this opset.
// Throws cpuinfer::Unsupported for an opset newer than ONNX's newest that the engine knows.
std::int64_t semantic_opset(const Node& node, std::int64_t opset);

struct KernelRegistration {
  OpsetRange opsets;         // of the default domain; the engine's own domain has no versions
  std::vector<DType> types;  // of input 0, checked at load where the graph knows it; empty: the kernel checks at run
  KernelFactory make;
};

class KernelTable {
 public:
  // `qualified_op`: "Conv", or "cpuinfer:FusedConv" in the engine's domain.
  void add(const std::string& qualified_op, KernelFactory make, OpsetRange opsets = {}, std::vector<DType> types = {});
  // Every operator with a kernel, sorted.
  std::vector<std::string> operators() const;
  // The kernel for `node` in a model of default-domain `opset`, its input 0 of type `type` where
  // known. Past kNewestOpset the operator's own history decides (semantic_opset). Throws
  // cpuinfer::Unsupported naming the node: no kernel for the operator, none for the opset
  // ("ReduceMean-18 axes became an input: not supported (kernels for opsets 1 to 17)"), or none for the type.
  const KernelRegistration& find(const Node& node, std::int64_t opset, std::optional<DType> type) const;

 private:
  std::map<std::string, std::vector<KernelRegistration>> by_op_;
};

// A kernel that is a plain function of the node and its inputs (most operators); `elementwise`:
// its first output may overwrite any input of its size (Kernel::may_overwrite).
using KernelFunction = std::function<std::vector<Tensor>(Inputs inputs)>;
std::unique_ptr<Kernel> make_function_kernel(KernelFunction function, bool elementwise = false);

// Every operator the engine runs, by Node::qualified_type(): "Conv", "cpuinfer:FusedConv".
const KernelTable& kernel_table();
// The node's kernel (KernelTable::find, then its factory).
std::unique_ptr<Kernel> make_kernel(const Node& node, std::int64_t opset, std::optional<DType> type = std::nullopt);

// The operator families, each in its own file, add their kernels to the table.
void add_elementwise_kernels(KernelTable& table);
void add_activation_kernels(KernelTable& table);
void add_variadic_kernels(KernelTable& table);
void add_indexing_kernels(KernelTable& table);
void add_generator_kernels(KernelTable& table);
void add_sorting_kernels(KernelTable& table);
void add_detection_kernels(KernelTable& table);
void add_resize_kernels(KernelTable& table);
void add_shape_kernels(KernelTable& table);
void add_data_movement_kernels(KernelTable& table);
void add_reduction_kernels(KernelTable& table);
void add_normalization_kernels(KernelTable& table);
void add_convolution_kernels(KernelTable& table);
void add_conv_transpose_kernels(KernelTable& table);
void add_pooling_kernels(KernelTable& table);
void add_max_unpool_kernels(KernelTable& table);
void add_recurrent_kernels(KernelTable& table);
void add_determinant_kernels(KernelTable& table);
void add_einsum_kernels(KernelTable& table);
void add_spectral_kernels(KernelTable& table);
void add_ngram_kernels(KernelTable& table);
void add_sampling_kernels(KernelTable& table);
void add_quantization_kernels(KernelTable& table);
void add_matmul_kernels(KernelTable& table);
void add_attention_kernels(KernelTable& table);
void add_token_packing_kernels(KernelTable& table);
void add_layout_kernels(KernelTable& table);
void add_int8_convolution_kernels(KernelTable& table);
void add_int8_nhwc_kernels(KernelTable& table);

}  // namespace cpuinfer::engine

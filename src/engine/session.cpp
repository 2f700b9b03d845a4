// Session: load-time constant folding and kernel creation; the run loop with input checks, value
// lifetimes and optional per-node timing.
#include "engine/session.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <new>

#include "core/error.h"
#include "engine/kernels/dnnl_support.h"
#include "engine/isa.h"
#include "engine/onnx/import.h"
#include "engine/passes/attention_fusion.h"
#include "engine/passes/bf16_compute.h"
#include "engine/passes/blocked_layout.h"
#include "engine/passes/constant_folding.h"
#include "engine/passes/dynamic_int8.h"
#include "engine/passes/int8_regions.h"
#include "engine/passes/fusion.h"
#include "engine/passes/token_packing.h"
#include "engine/threads.h"

namespace cpuinfer::engine {

namespace {

// Runs a kernel; an error that names no node gets this one.
std::vector<Tensor> run_kernel(const Kernel& kernel, const Node& node, Inputs inputs) {
  try {
    return kernel.run(inputs);
  } catch (const Unsupported& e) {
    if (!e.node().empty()) throw;
    throw Unsupported(node.label(), e.what());
  } catch (const Error& e) {
    if (!e.node().empty()) throw;
    throw Error(node.label(), e.what());
  } catch (const std::bad_alloc&) {
    throw Error(node.label(), "out of memory");
  }
}

TensorSpec spec_of(const Value& v) { return {v.name, v.dtype, v.shape}; }

}  // namespace

Session::Session(Graph graph, SessionOptions options)
    : graph_(std::move(graph)), options_(options), own_(options.poison_storage) {
  if (options_.bf16)
    if (const std::string why = bf16_unsupported_reason(); !why.empty()) throw Unsupported(why);
  report_.imported_nodes = graph_.nodes.size();
  report_.producer = graph_.producer;
  report_.opset = graph_.opset;
  set_threads(options_.threads);

  // Every node must have a kernel for its operator, opset and (where known) element type before
  // anything runs; the first refusal is reported with how many others there are.
  std::optional<Unsupported> first_missing;
  std::size_t missing = 0;
  for (const Node& node : graph_.nodes) {
    try {
      kernel_table().find(node, graph_.opset, first_input_type(node));
    } catch (const Unsupported& e) {
      if (!missing++) first_missing = e;
    }
  }
  if (first_missing)
    throw Unsupported(first_missing->node(), missing > 1 ? fmt::format("{} (nor are {} other nodes)", first_missing->detail(), missing - 1)
                                                         : first_missing->detail());

  // Before folding, which would turn quantized weights into float ones.
  if (options_.int8) report_.int8_nodes = fold_dynamic_int8(graph_) + form_int8_regions(graph_);
  report_.folded_nodes = fold_constants(graph_, [this](const Node& node, Inputs inputs) {
    auto kernel = make_kernel(node, graph_.opset);
    std::vector<Tensor> outputs = run_kernel(*kernel, node, inputs);
    operators_run_.insert(node.computes.begin(), node.computes.end());
    return outputs;
  });
  if (options_.fuse) {
    report_.attention_nodes = fuse_attention(graph_);
    report_.fused_nodes = fuse_epilogues(graph_);
    if (options_.pack_tokens) report_.packed_tokens = pack_tokens(graph_) != 0;
  }
  if (options_.bf16) report_.bf16_nodes = compute_in_bf16(graph_);
  report_.isa = engine_isa_description();
  if (options_.blocked_layout) {
    const LayoutReport layout = block_layouts(graph_, {channel_block(), options_.winograd, engine_isa() == Isa::avx512});
    report_.blocked_nodes = layout.blocked_nodes;
    report_.reorders = layout.reorders;
    if (options_.bf16) report_.bf16_outputs = keep_bf16_activations(graph_);
  }
  for (const Node& node : graph_.nodes) kernels_.push_back(make_kernel(node, graph_.opset, first_input_type(node)));
  prepack_constants();
  ran_ = std::make_unique<std::atomic<bool>[]>(graph_.nodes.size());

  // Value lifetimes: release each computed value after its last reader.
  std::vector<int> last_use(graph_.values.size(), -1);
  for (std::size_t i = 0; i < graph_.nodes.size(); ++i)
    for (ValueId in : graph_.nodes[i].inputs)
      if (in != kNoValue) last_use[static_cast<std::size_t>(in)] = static_cast<int>(i);
  for (ValueId out : graph_.outputs) last_use[static_cast<std::size_t>(out)] = static_cast<int>(graph_.nodes.size());
  release_after_.assign(graph_.nodes.size(), {});
  for (std::size_t v = 0; v < last_use.size(); ++v)
    if (last_use[v] >= 0 && last_use[v] < static_cast<int>(graph_.nodes.size()) && !graph_.values[v].constant)
      release_after_[static_cast<std::size_t>(last_use[v])].push_back(static_cast<ValueId>(v));
  overwritable_.assign(graph_.nodes.size(), {});
  for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& node = graph_.nodes[i];
    for (std::size_t k = 0; k < node.inputs.size(); ++k) {
      const ValueId in = node.inputs[k];
      const bool dies_here = in != kNoValue && last_use[static_cast<std::size_t>(in)] == static_cast<int>(i) &&
                             std::ranges::count(node.inputs, in) == 1;
      if (dies_here && kernels_[i]->may_overwrite(k)) overwritable_[i].push_back(k);
    }
  }

  for (ValueId in : graph_.inputs) inputs_.push_back(spec_of(graph_.values[static_cast<std::size_t>(in)]));
  for (ValueId out : graph_.outputs) outputs_.push_back(spec_of(graph_.values[static_cast<std::size_t>(out)]));
}

Session::~Session() = default;

std::optional<DType> Session::first_input_type(const Node& node) const {
  if (node.inputs.empty() || node.inputs[0] == kNoValue) return std::nullopt;
  const Value& v = graph_.values[static_cast<std::size_t>(node.inputs[0])];
  return v.constant ? std::optional<DType>(v.constant->dtype()) : v.dtype;
}

void Session::prepack_constants() {
  std::vector<std::size_t> readers(graph_.values.size(), 0), takers(graph_.values.size(), 0);
  taken_.assign(graph_.nodes.size(), {});
  for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& node = graph_.nodes[i];
    taken_[i].assign(node.inputs.size(), false);
    for (std::size_t k = 0; k < node.inputs.size(); ++k) {
      const ValueId in = node.inputs[k];
      if (in == kNoValue || !graph_.values[static_cast<std::size_t>(in)].constant) continue;
      ++readers[static_cast<std::size_t>(in)];
      try {
        taken_[i][k] = kernels_[i]->prepack(k, *graph_.values[static_cast<std::size_t>(in)].constant);
      } catch (const std::bad_alloc&) {
        fail("node {}: out of memory preparing its constant input {}", node.label(), k);
      }
      takers[static_cast<std::size_t>(in)] += taken_[i][k];
    }
  }
  for (ValueId out : graph_.outputs) takers[static_cast<std::size_t>(out)] = 0;  // the caller reads it
  for (std::size_t v = 0; v < graph_.values.size(); ++v)
    if (readers[v] > 0 && takers[v] == readers[v]) graph_.values[v].constant.reset();
}

void Session::check_inputs(std::span<const Tensor> inputs) const {
  if (inputs.size() != inputs_.size())
    fail("the model takes {} inputs, got {}", inputs_.size(), inputs.size());
  std::map<std::string, std::pair<std::int64_t, std::string>> bound;  // symbol -> size, input that bound it
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec& spec = inputs_[i];
    const Tensor& t = inputs[i];
    // A default-constructed Tensor: no shape, no storage (a scalar has one element and storage).
    if (!t.storage() && t.numel() != checked_numel(t.shape(), dtype_size(t.dtype())))
      fail("input '{}' is an empty Tensor (default-constructed: no shape, no storage)", spec.name);
    if (spec.dtype && t.dtype() != *spec.dtype)
      fail("input '{}' must be {}, got {}", spec.name, dtype_name(*spec.dtype), dtype_name(t.dtype()));
    if (!spec.shape) continue;
    const auto& dims = *spec.shape;
    if (dims.size() != t.rank())
      fail("input '{}' must have shape {}, got {}", spec.name, dims_string(dims), shape_string(t.shape()));
    for (std::size_t d = 0; d < dims.size(); ++d) {
      if (dims[d].is_static() && dims[d].value != t.dim(d))
        fail("input '{}' must have shape {}, got {}", spec.name, dims_string(dims), shape_string(t.shape()));
      if (!dims[d].is_static() && !dims[d].symbol.empty()) {
        auto [it, fresh] = bound.try_emplace(dims[d].symbol, t.dim(d), spec.name);
        if (!fresh && it->second.first != t.dim(d))
          fail("input '{}' has {} = {}, input '{}' has {} = {}", spec.name, dims[d].symbol, t.dim(d), it->second.second,
               dims[d].symbol, it->second.first);
      }
    }
  }
}

RunMemory::Stats Session::memory_stats() const {
  const std::lock_guard lock(own_mutex_);
  return own_.memory_stats();
}

std::set<std::string> Session::operators_run() const {
  const std::lock_guard lock(operators_mutex_);
  return operators_run_;
}

std::vector<Tensor> Session::run(std::span<const Tensor> inputs, Profile* profile) {
  const std::lock_guard lock(own_mutex_);
  return run(own_, inputs, profile);
}

std::vector<Tensor> Session::run(RunContext& context, std::span<const Tensor> inputs, Profile* profile) const {
  check_inputs(inputs);
  set_threads(options_.threads);
  RunMemory& memory = context.memory_;
  std::vector<Shape> binding;
  for (const Tensor& t : inputs) binding.push_back(t.shape());
  memory.begin_run(binding);
  StorageSource::Scope scope(memory);
  std::vector<Tensor> values(graph_.values.size());
  std::vector<bool> present(graph_.values.size(), false);
  // Values holding each block the run made (views share one): an input is overwritten in place
  // only when the value dying at the step is its block's only holder. Blocks of constants and of
  // the run's inputs are never overwritten.
  std::unordered_map<const void*, int> holders;
  std::unordered_set<const void*> pinned;
  for (std::size_t v = 0; v < graph_.values.size(); ++v)
    if (graph_.values[v].constant) {
      values[v] = *graph_.values[v].constant;
      present[v] = true;
      pinned.insert(values[v].data());
    }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    values[static_cast<std::size_t>(graph_.inputs[i])] = inputs[i];
    present[static_cast<std::size_t>(graph_.inputs[i])] = true;
    pinned.insert(inputs[i].data());
  }
  if (profile && !profile->nodes.empty() && profile->nodes.size() != graph_.nodes.size())
    fail("the profile passed in belongs to another session");
  if (profile && profile->nodes.empty())
    for (const Node& node : graph_.nodes) {
      profile->nodes.push_back({node.name, fused_type_label(node), {}, 0});  // "MatMul+Add+Gelu"
    }

  std::vector<const Tensor*> args;
  for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& node = graph_.nodes[i];
    args.clear();
    for (std::size_t k = 0; k < node.inputs.size(); ++k) {
      const ValueId in = node.inputs[k];
      if (in == kNoValue || taken_[i][k]) {
        args.push_back(nullptr);
        continue;
      }
      if (!present[static_cast<std::size_t>(in)])
        fail("node {}: input '{}' was not computed", node.label(), graph_.values[static_cast<std::size_t>(in)].name);
      args.push_back(&values[static_cast<std::size_t>(in)]);
    }
    std::vector<const Tensor*> overwritable;
    for (std::size_t k : overwritable_[i])
      if (args[k] && !pinned.count(args[k]->data()) && holders[args[k]->data()] == 1) overwritable.push_back(args[k]);
    memory.begin_step(i, std::move(overwritable));
    const auto start = std::chrono::steady_clock::now();
    std::vector<Tensor> outs = run_kernel(*kernels_[i], node, args);
    if (!ran_[i].load(std::memory_order_relaxed)) {
      const std::lock_guard lock(operators_mutex_);
      operators_run_.insert(node.computes.begin(), node.computes.end());
      ran_[i] = true;
    }
    if (profile) {
      profile->nodes[i].total += std::chrono::steady_clock::now() - start;
      ++profile->nodes[i].calls;
    }
    if (outs.size() < node.outputs.size())
      fail("node {}: produced {} outputs, the graph reads {}", node.label(), outs.size(), node.outputs.size());
    // The in-place rule (memory/run_memory.h): a block taken over a dying input went to the first
    // allocation, which must be the output; any other use overwrote the input under the kernel.
    if (const std::byte* handed = memory.handed_in_place(); handed && (outs.empty() || outs[0].storage().get() != handed))
      fail("node {}: its kernel's first allocation was not its output, but the memory plan placed it over an input (the "
           "in-place rule of memory/run_memory.h)", node.label());
    for (std::size_t k = 0; k < node.outputs.size(); ++k) {
      const ValueId out = node.outputs[k];
      if (out == kNoValue) continue;
      values[static_cast<std::size_t>(out)] = std::move(outs[k]);
      present[static_cast<std::size_t>(out)] = true;
      ++holders[values[static_cast<std::size_t>(out)].data()];
    }
    for (ValueId v : release_after_[i]) {
      auto it = holders.find(values[static_cast<std::size_t>(v)].data());
      if (it != holders.end() && --it->second == 0) holders.erase(it);
      values[static_cast<std::size_t>(v)] = Tensor();
    }
  }
  if (profile) ++profile->runs;
  std::vector<Tensor> result;
  for (ValueId out : graph_.outputs) {
    if (!present[static_cast<std::size_t>(out)]) fail("graph output '{}' was not computed", graph_.values[static_cast<std::size_t>(out)].name);
    result.push_back(values[static_cast<std::size_t>(out)]);
  }
  memory.begin_step(graph_.nodes.size(), {});  // values no node read are released after the last step
  values.clear();
  memory.end_run(result);
  return result;
}

std::string engine_version() { return fmt::format("cpuinfer engine, {} path, {}", engine_isa_description(), dnnl_version_string()); }

std::unique_ptr<Session> load_onnx_session(const std::filesystem::path& model, SessionOptions options) {
  return std::make_unique<Session>(import_onnx_file(model), options);
}

}  // namespace cpuinfer::engine

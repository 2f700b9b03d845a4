// A loaded model ready to run: the imported graph with its constants folded, one kernel per
// remaining node, and the declared inputs whose symbolic dimensions (batch, sequence) are bound
// anew on every run, so one session serves every batch size and sequence length.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/profile.h"
#include "engine/kernels/kernel.h"
#include "engine/memory/run_memory.h"

namespace cpuinfer::engine {

struct SessionOptions {
  int threads = 1;            // OpenMP threads of the kernels and oneDNN
  bool fuse = true;           // attention and epilogue fusion (passes/attention_fusion.h, fusion.h); off: every node runs on its own
  bool pack_tokens = true;    // padding-free batches around fused attention (passes/token_packing.h)
  bool bf16 = false;          // bfloat16 products (passes/bf16_compute.h); the CPU must have AVX512_BF16
  bool int8 = true;           // a quantized model's int8 patterns on int8 kernels (passes/dynamic_int8.h); off: reference kernels
  bool blocked_layout = true; // convolutions in the blocked layout (passes/blocked_layout.h); off: plain
  bool winograd = true;       // Winograd for 3x3 stride-1 blocked convolutions where oneDNN offers it
  bool poison_storage = false;// tests: tensors a run allocates start as NaN (core/storage_pool.h)
};

struct LoadReport {
  std::size_t imported_nodes = 0;
  std::size_t folded_nodes = 0;  // evaluated at load time (constants, weights' Identity, shape arithmetic)
  std::size_t fused_nodes = 0;   // folded into a Conv or MatMul before them
  std::size_t attention_nodes = 0;  // multi-head attention subgraphs fused into one node each
  bool packed_tokens = false;    // padded batches run on their real tokens (passes/token_packing.h)
  std::size_t bf16_nodes = 0;    // products computed in bfloat16 (passes/bf16_compute.h)
  std::size_t bf16_outputs = 0;  // of which convolutions writing their output in bfloat16
  std::size_t int8_nodes = 0;    // quantized patterns run on int8 kernels
  std::size_t blocked_nodes = 0; // convolutions, pooling, element-wise nodes in the blocked layout
  std::size_t reorders = 0;      // layout conversions at the blocked region's edges
  std::string isa;               // the ISA path (engine/isa.h)
  std::string producer;
  std::int64_t opset = 0;
};

// What one run in flight needs of its own: its memory (the arena of the inputs' shapes, the pool
// its outputs come from; engine/memory/run_memory.h). One per thread, or per request in flight,
// reused across runs: its arena is then warm.
class RunContext {
 public:
  explicit RunContext(bool poison_storage = false) : memory_(poison_storage) {}
  RunMemory::Stats memory_stats() const { return memory_.stats(); }

 private:
  friend class Session;
  RunMemory memory_;
};

// Thread-safe: any number of threads may run one session at once, each with its own RunContext.
// Everything else a run touches is the model's, shared: the graph, the kernels, their plans and
// prepacked weights (kernels lock what they cache, and a run holds what it uses).
class Session {
 public:
  // Folds constants and makes the kernels. Throws cpuinfer::Unsupported naming the first node
  // whose operator has no kernel (and how many others lack one), or the missing CPU extension of
  // options.bf16; cpuinfer::Error for invalid nodes.
  Session(Graph graph, SessionOptions options);
  ~Session();

  const std::vector<TensorSpec>& inputs() const { return inputs_; }
  const std::vector<TensorSpec>& outputs() const { return outputs_; }
  const LoadReport& report() const { return report_; }
  std::size_t node_count() const { return graph_.nodes.size(); }
  // Where the tensors of the session's own context's runs come from (engine/memory/run_memory.h):
  // a run of a binding seen before takes its intermediates from the arena and nothing from the heap.
  RunMemory::Stats memory_stats() const;
  // The model's operators whose kernels have run so far, folding constants at load included
  // (Node::computes: a fused Conv + Relu counts both).
  std::set<std::string> operators_run() const;
  // A context for run(context, ...), with this session's storage options.
  RunContext make_context() const { return RunContext(options_.poison_storage); }

  // Inputs in declaration order. Checks each input's dtype and shape against the declaration
  // (static dimensions equal, a symbol the same size wherever it appears) and throws
  // cpuinfer::Error naming the input; kernel errors name the node. With a profile (empty, or
  // filled by earlier runs of this session), each node is timed.
  // Outputs may share storage with the inputs or the model's constants: treat them as read-only.
  // Intermediates take their storage from the memory plan of the inputs' shapes, outputs from the
  // context's pool (engine/memory/run_memory.h); an output the caller holds is never handed to a later run.
  // One profile per run in flight.
  std::vector<Tensor> run(RunContext& context, std::span<const Tensor> inputs, Profile* profile = nullptr) const;
  // The same in the session's own context: one such run at a time (they wait for one another).
  std::vector<Tensor> run(std::span<const Tensor> inputs, Profile* profile = nullptr);

 private:
  void check_inputs(std::span<const Tensor> inputs) const;
  // The element type of the node's input 0 where the graph knows it at load.
  std::optional<DType> first_input_type(const Node& node) const;
  // Offers every kernel its constant inputs; frees the constants every reader took.
  void prepack_constants();

  Graph graph_;
  SessionOptions options_;
  std::vector<std::unique_ptr<Kernel>> kernels_;  // per node
  std::vector<std::vector<bool>> taken_;           // per node and input: its kernel took the constant (prepack)
  std::vector<std::vector<ValueId>> release_after_;  // per node: values no later node needs
  std::vector<std::vector<std::size_t>> overwritable_;  // per node: inputs its output may overwrite (they die there)
  std::vector<TensorSpec> inputs_, outputs_;
  LoadReport report_;
  mutable std::mutex own_mutex_;
  RunContext own_;  // run(inputs)'s
  std::unique_ptr<std::atomic<bool>[]> ran_;  // per node: its kernel has run
  mutable std::mutex operators_mutex_;
  mutable std::set<std::string> operators_run_;
};

// "cpuinfer engine, avx512 path, oneDNN 2.6.3 (cpu runtime: OpenMP)"
std::string engine_version();

// Imports an ONNX file and makes a session of it.
std::unique_ptr<Session> load_onnx_session(const std::filesystem::path& model, SessionOptions options);

}  // namespace cpuinfer::engine

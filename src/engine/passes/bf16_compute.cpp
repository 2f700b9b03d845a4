// bfloat16 compute: marking the products.
#include "engine/passes/bf16_compute.h"

#include <optional>
#include <set>

#include "engine/isa.h"
#include "engine/passes/graph_index.h"
#include "engine/passes/attention_fusion.h"
#include "engine/passes/dynamic_int8.h"

namespace cpuinfer::engine {

std::string bf16_unsupported_reason() {
  if (!cpu_features().avx512_bf16) return "this CPU lacks AVX512_BF16";
  if (engine_isa() != Isa::avx512) return "AVX512_BF16 is above the engine's ISA cap (" + engine_isa_description() + ")";
  return "";
}

std::size_t compute_in_bf16(Graph& graph) {
  std::size_t marked = 0;
  for (Node& n : graph.nodes) {
    const bool attention = n.domain == kEngineDomain && n.op_type == kAttentionOp;
    std::string product;  // "MatMul" or "Conv", plain or fused
    for (const char* op : {"MatMul", "Conv"})
      if ((n.domain.empty() && n.op_type == op) || (n.domain == kEngineDomain && n.op_type == std::string("Fused") + op)) product = op;
    if ((product.empty() && !attention) || n.has(kInt8ScalesAttribute)) continue;  // int8 products stay int8
    if (!product.empty()) {
      const Value& w = graph.values[static_cast<std::size_t>(n.inputs.at(1))];
      if (!w.constant || w.constant->dtype() != DType::f32 || (product == "MatMul" && w.constant->rank() != 2)) continue;
      n.domain = kEngineDomain;
      n.op_type = "Fused" + product;
    }
    n.attributes[kBf16Attribute] = std::int64_t{1};
    ++marked;
  }
  return marked;
}

namespace {

bool engine_op(const Node& n, const char* op) { return n.domain == kEngineDomain && n.op_type == op; }
bool bf16_conv(const Node& n) { return engine_op(n, "FusedConv") && n.get_int(kBf16Attribute, 0) != 0; }

}  // namespace

std::size_t keep_bf16_activations(Graph& graph) {
  const GraphIndex index(graph);
  // A reader that takes a bfloat16 value: a bfloat16 blocked convolution (input 0, or a fused
  // Add's operand, inputs 3 on), a ToPlain, or a blocked pooling all of whose readers do.
  auto takes_bf16 = [&](std::size_t r, ValueId v, auto&& self) -> bool {
    const Node& n = graph.nodes[r];
    if (engine_op(n, "ToPlain")) return true;
    if (bf16_conv(n) && n.get_int("block_in", 0) != 0) {
      for (std::size_t k = 0; k < n.inputs.size(); ++k)
        if (n.inputs[k] == v && (k == 1 || k == 2)) return false;  // weights or bias: not an activation
      return true;
    }
    if ((engine_op(n, "MaxPool") || engine_op(n, "AveragePool")) && n.get_int("block", 0) != 0) {
      const ValueId out = n.outputs[0];
      if (index.is_output(out)) return false;
      for (std::size_t rr : index.readers(out))
        if (!self(rr, out, self)) return false;
      return true;
    }
    return false;
  };
  std::set<std::size_t> marked;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    if (!bf16_conv(n) || n.get_int("block_out", 0) == 0 || index.is_output(n.outputs[0])) continue;
    bool ok = true;
    for (std::size_t r : index.readers(n.outputs[0])) ok = ok && takes_bf16(r, n.outputs[0], takes_bf16);
    if (ok) marked.insert(i);
  }
  // The conv making a value, through pooling (which keeps its input's type).
  auto maker = [&](ValueId v) -> std::optional<std::size_t> {
    for (auto p = index.producer(v); p; p = index.producer(graph.nodes[*p].inputs[0]))
      if (!engine_op(graph.nodes[*p], "MaxPool") && !engine_op(graph.nodes[*p], "AveragePool")) return p;
    return std::nullopt;
  };
  // A fused Add's operand has the type of the output placed over it.
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
      const Node& n = graph.nodes[i];
      if (!bf16_conv(n)) continue;
      for (std::size_t k = 3; k < n.inputs.size(); ++k) {
        if (n.inputs[k] == kNoValue || index.constant(n.inputs[k])) continue;
        const auto m = maker(n.inputs[k]);
        const bool operand_bf16 = m && marked.count(*m);
        if (operand_bf16 == (marked.count(i) != 0)) continue;
        marked.erase(i);
        if (m) marked.erase(*m);
        changed = true;
      }
    }
  }
  // The ToPlains reading bfloat16 (directly or through pooling) give float32.
  auto widen_readers = [&](ValueId v, auto&& self) -> void {
    for (std::size_t r : index.readers(v)) {
      Node& n = graph.nodes[r];
      if (engine_op(n, "ToPlain")) n.attributes[kFloatOutputAttribute] = std::int64_t{1};
      else if (engine_op(n, "MaxPool") || engine_op(n, "AveragePool")) self(n.outputs[0], self);
    }
  };
  for (std::size_t i : marked) {
    graph.nodes[i].attributes[kBf16OutputAttribute] = std::int64_t{1};
    widen_readers(graph.nodes[i].outputs[0], widen_readers);
  }
  return marked.size();
}

}  // namespace cpuinfer::engine

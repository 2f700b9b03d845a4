// bfloat16 compute: marking the products.
#include "engine/passes/bf16_compute.h"

#include "engine/isa.h"
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

}  // namespace cpuinfer::engine

// Plan first (which MatMuls, which weights, which activations), then one pass over the nodes that
// replaces each MatMul by its four nodes and puts each DynamicQuantizeLinear right after the
// producer of its activation.
#include "quantize/dynamic_matmul.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "engine/onnx/tensor_proto.h"
#include "quantize/graph_index.h"
#include "quantize/linear_quantization.h"
#include "quantize/proto_edit.h"

namespace cpuinfer::quant {

namespace {

struct QuantizedWeight {
  std::string values, scale, zero_point;
};

struct QuantizedActivation {
  std::string quantized, scale, zero_point, node;
};

}  // namespace

DynamicResult write_dynamic_matmul(onnx::ModelProto& model, int weight_limit) {
  onnx::GraphProto& graph = *model.mutable_graph();
  const GraphIndex index(graph);
  NameTable names(graph);
  DynamicResult result;

  std::map<int, std::string> matmuls;  // node -> the constant its weight is
  std::size_t convs = 0;
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    if (!GraphIndex::is_default_domain(node)) continue;
    if (node.op_type() == "Conv") ++convs;
    if (node.op_type() == "Gemm") result.skipped.push_back(GraphIndex::label(node) + ": Gemm stays float in dynamic mode");
    if (node.op_type() != "MatMul" || node.input_size() != 2 || node.output_size() != 1) continue;
    const auto c = index.constant(node.input(1));
    std::string why;
    if (!c) why = "weight is not a constant";
    else if (GraphIndex::constant_type(*c) != onnx::TensorProto::FLOAT)
      why = fmt::format("weight is {}", engine::onnx_type_name(GraphIndex::constant_type(*c)));
    else if (GraphIndex::constant_shape(*c).size() != 2)
      why = fmt::format("weight has rank {}, not 2", GraphIndex::constant_shape(*c).size());
    else if (index.constant(node.input(0)))
      why = "both operands are constants";
    if (!why.empty()) result.skipped.push_back(fmt::format("{}: {}", GraphIndex::label(node), why));
    else matmuls.emplace(i, c->name);
  }
  if (convs > 0) result.skipped.push_back(fmt::format("{} Conv nodes: dynamic mode quantizes MatMul only", convs));

  std::map<std::string, QuantizedWeight> weights;            // constant -> initializers
  std::map<std::string, QuantizedActivation> activations;    // A -> DynamicQuantizeLinear outputs
  std::set<std::string> released;
  for (const auto& [i, constant] : matmuls) {
    const onnx::NodeProto& node = graph.node(i);
    released.insert(node.input(1));
    if (!activations.count(node.input(0))) {
      const std::string& a = node.input(0);
      activations.emplace(a, QuantizedActivation{names.fresh(a + "_quantized"), names.fresh(a + "_scale"),
                                                 names.fresh(a + "_zero_point"), names.fresh(a + "_DynamicQuantizeLinear")});
    }
    if (weights.count(constant)) continue;
    ChannelQuantization q = int8_per_channel(GraphIndex::constant_value(*index.constant(node.input(1))), 1,
                                             fmt::format("weight '{}' of {}", constant, GraphIndex::label(node)), weight_limit);
    QuantizedWeight w{names.fresh(constant + "_quantized"), names.fresh(constant + "_scale"), names.fresh(constant + "_zero_point")};
    add_initializer(graph, w.values, q.values);
    Tensor scales(DType::f32, {static_cast<std::int64_t>(q.scales.size())});
    std::ranges::copy(q.scales, scales.values<float>().begin());
    add_initializer(graph, w.scale, scales);
    add_initializer(graph, w.zero_point, Tensor(DType::i8, {static_cast<std::int64_t>(q.scales.size())}));
    weights.emplace(constant, std::move(w));
  }
  result.quantized_nodes = matmuls.size();
  result.quantized_weights = weights.size();

  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  auto quantize_activation = [&](const std::string& a) {
    const QuantizedActivation& q = activations.at(a);
    *nodes.Add() = make_node("DynamicQuantizeLinear", {a}, {q.quantized, q.scale, q.zero_point}, q.node);
  };
  for (const auto& [a, q] : activations)
    if (index.producer(a) < 0) quantize_activation(a);
  for (int i = 0; i < graph.node_size(); ++i) {
    onnx::NodeProto& node = *graph.mutable_node(i);
    std::vector<std::string> outputs(node.output().begin(), node.output().end());
    if (auto m = matmuls.find(i); m != matmuls.end()) {
      const QuantizedActivation& a = activations.at(node.input(0));
      const QuantizedWeight& w = weights.at(m->second);
      const std::string& y = node.output(0);
      const std::string base = node.name().empty() ? y : node.name();
      const std::string product = names.fresh(y + "_int32"), as_float = names.fresh(y + "_float"),
                        scale = names.fresh(y + "_combined_scale");
      *nodes.Add() = make_node("MatMulInteger", {a.quantized, w.values, a.zero_point, w.zero_point}, {product},
                               names.fresh(base + "_MatMulInteger"));
      onnx::NodeProto cast = make_node("Cast", {product}, {as_float}, names.fresh(base + "_Cast"));
      set_int_attribute(cast, "to", onnx::TensorProto::FLOAT);
      *nodes.Add() = std::move(cast);
      *nodes.Add() = make_node("Mul", {a.scale, w.scale}, {scale}, names.fresh(base + "_scale_Mul"));
      *nodes.Add() = make_node("Mul", {as_float, scale}, {y}, names.fresh(base + "_Mul"));
    } else {
      *nodes.Add() = std::move(node);
    }
    for (const auto& o : outputs)
      if (activations.count(o)) quantize_activation(o);
  }
  graph.mutable_node()->Swap(&nodes);
  remove_unread(graph, std::move(released));
  return result;
}

}  // namespace cpuinfer::quant

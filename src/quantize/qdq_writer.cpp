// The rewrite in three steps: decide the quantized activations and the folded Relus, make the
// initializers (scales, zero points, int8 weights, int32 biases), then rebuild the node list in the
// original order with the new nodes after the producers of what they read.
#include "quantize/qdq_writer.h"

#include <algorithm>
#include <optional>
#include <set>

#include "core/error.h"
#include "quantize/graph_index.h"
#include "quantize/linear_quantization.h"
#include "quantize/proto_edit.h"

namespace cpuinfer::quant {

namespace {

struct Activation {
  ActivationQuantization q;
  std::string scale, zero_point, quantized, dequantized;
};

struct Weight {
  std::string dequantized;
  std::vector<float> scales;
};

Tensor scalar_f32(float v) {
  Tensor t(DType::f32, {});
  t.values<float>()[0] = v;
  return t;
}

Tensor scalar_u8(std::uint8_t v) {
  Tensor t(DType::u8, {});
  t.values<std::uint8_t>()[0] = v;
  return t;
}

Tensor vector_f32(const std::vector<float>& v) {
  Tensor t(DType::f32, {static_cast<std::int64_t>(v.size())});
  std::ranges::copy(v, t.values<float>().begin());
  return t;
}

onnx::NodeProto dequantize_node(const std::string& x, const std::string& scale, const std::string& zero_point,
                                const std::string& y, const std::string& name, std::optional<std::int64_t> axis) {
  onnx::NodeProto n = make_node("DequantizeLinear", {x, scale, zero_point}, {y}, name);
  if (axis) set_int_attribute(n, "axis", *axis);
  return n;
}

}  // namespace

QdqResult write_qdq(onnx::ModelProto& model, const QdqPlan& plan, const std::map<std::string, ObservedTensor>& observed,
                    int weight_limit) {
  onnx::GraphProto& graph = *model.mutable_graph();
  const GraphIndex index(graph);
  NameTable names(graph);
  QdqResult result;
  result.quantized_nodes = plan.ops.size();

  // Activations to quantize, in the order of first mention (for stable names).
  std::vector<std::string> order;
  std::set<std::string> quantized;
  auto want = [&](const std::string& t) {
    if (!index.is_graph_output(t) && quantized.insert(t).second) order.push_back(t);
  };
  for (const QdqOp& op : plan.ops) {
    for (const auto& in : op.data_inputs) want(in);
    want(op.output);
  }

  // Relu folding: relu output -> the op output whose quantization stands for it.
  std::map<std::string, std::string> folded;
  std::set<int> removed_nodes;
  for (const QdqOp& op : plan.ops) {
    const std::string& out = op.output;
    if (!op.folds_relu || !quantized.count(out) || index.read_in_subgraph(out)) continue;
    const auto& readers = index.readers(out);
    if (readers.size() != 1) continue;
    const onnx::NodeProto& relu = index.node(readers[0]);
    if (relu.op_type() != "Relu" || !GraphIndex::is_default_domain(relu) || relu.output_size() != 1) continue;
    const std::string& relu_out = relu.output(0);
    if (!quantized.count(relu_out) || index.read_in_subgraph(relu_out) || folded.count(relu_out)) continue;
    folded.emplace(relu_out, out);
    quantized.erase(relu_out);
    removed_nodes.insert(readers[0]);
  }
  std::map<std::string, std::string> folded_from;  // op output -> relu output
  for (const auto& [relu_out, out] : folded) folded_from.emplace(out, relu_out);

  std::map<std::string, Activation> activations;
  for (const std::string& t : order) {
    if (!quantized.count(t)) continue;
    Activation a;
    if (auto it = folded_from.find(t); it != folded_from.end()) a.q = uint8_quantization(0.0, observed.at(it->second).high);
    else a.q = uint8_quantization(observed.at(t).low, observed.at(t).high);
    a.scale = names.fresh(t + "_scale");
    a.zero_point = names.fresh(t + "_zero_point");
    a.quantized = names.fresh(t + "_quantized");
    a.dequantized = names.fresh(t + "_dequantized");
    add_initializer(graph, a.scale, scalar_f32(a.q.scale));
    add_initializer(graph, a.zero_point, scalar_u8(a.q.zero_point));
    activations.emplace(t, std::move(a));
  }
  // The activation whose DequantizeLinear a reader of `t` reads instead, if any.
  auto activation_of = [&](const std::string& t) -> const Activation* {
    auto f = folded.find(t);
    auto it = activations.find(f == folded.end() ? t : f->second);
    return it == activations.end() ? nullptr : &it->second;
  };

  // Weights and biases: initializers, and DequantizeLinear nodes that read nothing but them.
  std::vector<onnx::NodeProto> prelude;
  std::map<std::pair<std::string, std::size_t>, Weight> weights;  // (constant, axis)
  std::map<int, std::map<int, std::string>> replaced;             // node -> input -> what it reads now
  std::set<std::string> released;
  for (const QdqOp& op : plan.ops) {
    if (op.weight_input < 0) continue;
    const onnx::NodeProto& node = index.node(op.node);
    const std::string label = GraphIndex::label(node);
    const std::string& read = node.input(op.weight_input);
    const GraphIndex::Constant c = *index.constant(read);
    auto [w, fresh] = weights.try_emplace({c.name, op.weight_axis});
    if (fresh) {
      ChannelQuantization q = int8_per_channel(GraphIndex::constant_value(c), op.weight_axis,
                                               fmt::format("weight '{}' of {}", c.name, label), weight_limit);
      const std::string values = names.fresh(c.name + "_quantized"), scale = names.fresh(c.name + "_scale"),
                        zero_point = names.fresh(c.name + "_zero_point");
      w->second.dequantized = names.fresh(c.name + "_dequantized");
      add_initializer(graph, values, q.values);
      add_initializer(graph, scale, vector_f32(q.scales));
      add_initializer(graph, zero_point, Tensor(DType::i8, {static_cast<std::int64_t>(q.scales.size())}));
      prelude.push_back(dequantize_node(values, scale, zero_point, w->second.dequantized,
                                        names.fresh(c.name + "_DequantizeLinear"), static_cast<std::int64_t>(op.weight_axis)));
      w->second.scales = std::move(q.scales);
    }
    replaced[op.node][op.weight_input] = w->second.dequantized;
    released.insert(read);

    const Activation* input = activation_of(op.data_inputs.at(0));
    if (op.bias_input < 0 || !input) continue;
    const std::string& bias_read = node.input(op.bias_input);
    const GraphIndex::Constant b = *index.constant(bias_read);
    BiasQuantization q = int32_bias(GraphIndex::constant_value(b), input->q.scale, w->second.scales,
                                    fmt::format("bias '{}' of {}", b.name, label));
    const std::string values = names.fresh(b.name + "_quantized"), scale = names.fresh(b.name + "_scale"),
                      zero_point = names.fresh(b.name + "_zero_point"), dequantized = names.fresh(b.name + "_dequantized");
    add_initializer(graph, values, q.values);
    add_initializer(graph, scale, vector_f32(q.scales));
    add_initializer(graph, zero_point, Tensor(DType::i32, {static_cast<std::int64_t>(q.scales.size())}));
    prelude.push_back(dequantize_node(values, scale, zero_point, dequantized, names.fresh(b.name + "_DequantizeLinear"), 0));
    replaced[op.node][op.bias_input] = dequantized;
    released.insert(bias_read);
  }
  result.quantized_weights = weights.size();

  // The node list: pairs for graph inputs, weight nodes, then every node with the pairs of its outputs.
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  auto add_pair = [&](const std::string& t) {
    const Activation& a = activations.at(t);
    *nodes.Add() = make_node("QuantizeLinear", {t, a.scale, a.zero_point}, {a.quantized}, names.fresh(t + "_QuantizeLinear"));
    *nodes.Add() = dequantize_node(a.quantized, a.scale, a.zero_point, a.dequantized, names.fresh(t + "_DequantizeLinear"),
                                   std::nullopt);
  };
  for (const std::string& t : order)
    if (activations.count(t) && index.producer(t) < 0) add_pair(t);
  for (auto& n : prelude) *nodes.Add() = std::move(n);
  for (int i = 0; i < graph.node_size(); ++i) {
    if (removed_nodes.count(i)) continue;
    onnx::NodeProto node = std::move(*graph.mutable_node(i));
    const auto r = replaced.find(i);
    for (int k = 0; k < node.input_size(); ++k) {
      if (r != replaced.end() && r->second.count(k)) node.set_input(k, r->second.at(k));
      else if (const Activation* a = node.input(k).empty() ? nullptr : activation_of(node.input(k))) node.set_input(k, a->dequantized);
    }
    std::vector<std::string> outputs(node.output().begin(), node.output().end());
    *nodes.Add() = std::move(node);
    for (const auto& o : outputs)
      if (activations.count(o)) add_pair(o);
  }
  graph.mutable_node()->Swap(&nodes);
  // The folded Relus' outputs are gone: their value_info entries go with what remove_unread finds missing.
  remove_unread(graph, std::move(released));
  return result;
}

}  // namespace cpuinfer::quant

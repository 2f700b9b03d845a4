// Producers, readers and constants of an ONNX graph, found in one pass over its nodes.
#include "quantize/graph_index.h"

#include "core/error.h"
#include "engine/onnx/tensor_proto.h"

namespace cpuinfer::quant {

namespace {

// Every tensor name a subgraph reads, its own inner tensors included (harmless: they cannot
// collide with the outer graph's names in a valid model).
void collect_subgraph_reads(const onnx::GraphProto& graph, std::set<std::string>& reads) {
  for (const auto& node : graph.node()) {
    for (const auto& in : node.input())
      if (!in.empty()) reads.insert(in);
    for (const auto& a : node.attribute()) {
      if (a.has_g()) collect_subgraph_reads(a.g(), reads);
      for (const auto& g : a.graphs()) collect_subgraph_reads(g, reads);
    }
  }
  for (const auto& out : graph.output()) reads.insert(out.name());
}

const onnx::TensorProto* constant_node_value(const onnx::NodeProto& node) {
  if (node.op_type() != "Constant" || !GraphIndex::is_default_domain(node)) return nullptr;
  for (const auto& a : node.attribute())
    if (a.name() == "value" && a.has_t()) return &a.t();
  return nullptr;
}

}  // namespace

GraphIndex::GraphIndex(const onnx::GraphProto& graph) : graph_(graph) {
  for (const auto& init : graph.initializer()) initializers_.emplace(init.name(), &init);
  for (const auto& out : graph.output()) outputs_.insert(out.name());
  for (int i = 0; i < graph.node_size(); ++i) {
    const auto& node = graph.node(i);
    for (const auto& out : node.output())
      if (!out.empty()) producers_.emplace(out, i);
    for (const auto& in : node.input()) {
      if (in.empty()) continue;
      auto& r = readers_[in];
      if (r.empty() || r.back() != i) r.push_back(i);
    }
    for (const auto& a : node.attribute()) {
      if (a.has_g()) collect_subgraph_reads(a.g(), subgraph_reads_);
      for (const auto& g : a.graphs()) collect_subgraph_reads(g, subgraph_reads_);
    }
  }
}

int GraphIndex::producer(const std::string& tensor) const {
  auto it = producers_.find(tensor);
  return it == producers_.end() ? -1 : it->second;
}

const std::vector<int>& GraphIndex::readers(const std::string& tensor) const {
  static const std::vector<int> none;
  auto it = readers_.find(tensor);
  return it == readers_.end() ? none : it->second;
}

std::optional<GraphIndex::Constant> GraphIndex::constant(const std::string& tensor) const {
  std::string name = tensor;
  // A graph input may override an initializer of the same name in old IR versions; ONNX Runtime
  // and torch treat such initializers as constants all the same, and so do we.
  for (int steps = 0; steps <= graph_.node_size(); ++steps) {
    if (auto it = initializers_.find(name); it != initializers_.end()) return Constant{name, it->second};
    const int p = producer(name);
    if (p < 0) return std::nullopt;
    const auto& node = graph_.node(p);
    if (const onnx::TensorProto* value = constant_node_value(node)) return Constant{name, value};
    if (node.op_type() != "Identity" || !is_default_domain(node) || node.input_size() != 1) return std::nullopt;
    name = node.input(0);
  }
  return std::nullopt;  // a cycle of Identities: not a constant (the model is invalid anyway)
}

std::vector<engine::TensorSpec> GraphIndex::declared_inputs() const {
  std::vector<engine::TensorSpec> specs;
  for (const auto& in : graph_.input()) {
    if (initializers_.count(in.name())) continue;
    engine::TensorSpec spec{in.name(), std::nullopt, std::nullopt};
    if (in.type().has_tensor_type()) {
      const auto& t = in.type().tensor_type();
      if (t.elem_type() != onnx::TensorProto::UNDEFINED) spec.dtype = engine::dtype_from_onnx(t.elem_type());
      if (t.has_shape()) {
        spec.shape.emplace();
        for (const auto& d : t.shape().dim()) {
          engine::Dim dim;
          if (d.has_dim_value()) dim.value = d.dim_value();
          else dim.symbol = d.dim_param();
          spec.shape->push_back(std::move(dim));
        }
      }
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::int64_t GraphIndex::int_attribute(const onnx::NodeProto& node, const std::string& name, std::int64_t fallback) {
  for (const auto& a : node.attribute())
    if (a.name() == name && a.type() == onnx::AttributeProto::INT) return a.i();
  return fallback;
}

float GraphIndex::float_attribute(const onnx::NodeProto& node, const std::string& name, float fallback) {
  for (const auto& a : node.attribute())
    if (a.name() == name && a.type() == onnx::AttributeProto::FLOAT) return a.f();
  return fallback;
}

int GraphIndex::constant_type(const Constant& c) { return c.proto->data_type(); }

Shape GraphIndex::constant_shape(const Constant& c) { return Shape(c.proto->dims().begin(), c.proto->dims().end()); }

Tensor GraphIndex::constant_value(const Constant& c) { return engine::tensor_from_proto(*c.proto, "constant '" + c.name + "'"); }

std::int64_t GraphIndex::default_opset(const onnx::ModelProto& model) {
  std::int64_t opset = 0;
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") opset = op.version();
  return opset;
}

std::string GraphIndex::label(const onnx::NodeProto& node) {
  if (!node.name().empty() || node.output_size() == 0) return fmt::format("{} '{}'", node.op_type(), node.name());
  return fmt::format("{} (output '{}')", node.op_type(), node.output(0));
}

}  // namespace cpuinfer::quant

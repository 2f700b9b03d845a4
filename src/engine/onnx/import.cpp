// ModelProto -> Graph with validation, then a topological sort (graph.h) that refuses cycles.
#include "engine/onnx/import.h"

#include <onnx/onnx_pb.h>

#include <fstream>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "engine/onnx/tensor_proto.h"

namespace cpuinfer::engine {

namespace {

bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

Attribute convert_attribute(const onnx::AttributeProto& a, const std::string& node_label) {
  if (!a.ref_attr_name().empty())
    throw Unsupported(fmt::format("node {}: attribute '{}' refers to a function attribute", node_label, a.name()));
  switch (a.type()) {
    case onnx::AttributeProto::INT: return a.i();
    case onnx::AttributeProto::FLOAT: return a.f();
    case onnx::AttributeProto::STRING: return a.s();
    case onnx::AttributeProto::TENSOR: return tensor_from_proto(a.t(), node_label + " attribute " + a.name());
    case onnx::AttributeProto::INTS: return std::vector<std::int64_t>(a.ints().begin(), a.ints().end());
    case onnx::AttributeProto::FLOATS: return std::vector<float>(a.floats().begin(), a.floats().end());
    case onnx::AttributeProto::STRINGS: return std::vector<std::string>(a.strings().begin(), a.strings().end());
    default:
      throw Unsupported(fmt::format("node {}: attribute '{}' of type {} (subgraphs, sparse tensors and types are not "
                                    "supported)",
                                    node_label, a.name(), onnx::AttributeProto::AttributeType_Name(a.type())));
  }
}

std::vector<Dim> convert_shape(const onnx::TensorShapeProto& shape, const std::string& what) {
  std::vector<Dim> dims;
  for (const auto& d : shape.dim()) {
    Dim dim;
    if (d.has_dim_value()) {
      if (d.dim_value() < 0) fail("{} declares a negative dimension {}", what, d.dim_value());
      dim.value = d.dim_value();
    } else {
      dim.symbol = d.dim_param();
    }
    dims.push_back(std::move(dim));
  }
  return dims;
}

// Declared dtype and shape of a graph input or output (when it is a tensor).
void read_value_info(const onnx::ValueInfoProto& info, Value& value) {
  if (!info.has_type()) return;
  if (!info.type().has_tensor_type())
    throw Unsupported(fmt::format("graph value '{}' is not a tensor (sequences, maps and optionals are not supported)",
                                  info.name()));
  const auto& tensor_type = info.type().tensor_type();
  if (tensor_type.elem_type() != onnx::TensorProto::UNDEFINED) {
    auto dtype = dtype_from_onnx(tensor_type.elem_type());
    if (!dtype)
      throw Unsupported(fmt::format("graph value '{}' has element type {}", info.name(),
                                    onnx_type_name(tensor_type.elem_type())));
    value.dtype = dtype;
  }
  if (tensor_type.has_shape()) value.shape = convert_shape(tensor_type.shape(), "graph value '" + info.name() + "'");
}

class Importer {
 public:
  explicit Importer(const std::string& origin) : origin_(origin) {}

  // Takes the model to release each initializer's bytes once converted (halves peak memory).
  Graph run(onnx::ModelProto& model) {
    if (!model.has_graph()) fail("{}: the model has no graph", origin_);
    graph_.producer = model.producer_name() + (model.producer_version().empty() ? "" : " " + model.producer_version());
    for (const auto& op : model.opset_import())
      if (is_default_domain(op.domain())) graph_.opset = op.version();
    auto& g = *model.mutable_graph();
    if (g.sparse_initializer_size() > 0) throw Unsupported(origin_ + ": sparse initializers are not supported");

    for (auto& init : *g.mutable_initializer()) {
      if (init.name().empty()) fail("{}: an initializer has no name", origin_);
      Value v{init.name(), std::nullopt, std::nullopt, tensor_from_proto(init, init.name())};
      v.dtype = v.constant->dtype();
      define(std::move(v), "initializer");
      std::string().swap(*init.mutable_raw_data());
    }
    for (const auto& input : g.input()) {
      if (auto it = ids_.find(input.name()); it != ids_.end()) continue;  // an initializer with a default
      Value v{input.name(), std::nullopt, std::nullopt, std::nullopt};
      read_value_info(input, v);
      if (!v.dtype) fail("{}: graph input '{}' declares no element type", origin_, input.name());
      graph_.inputs.push_back(define(std::move(v), "graph input"));
    }
    // Node outputs first, so that inputs may refer to values produced later in the file (the sort fixes the order).
    std::vector<Node> nodes;
    for (int i = 0; i < g.node_size(); ++i) {
      const auto& n = g.node(i);
      Node node;
      node.domain = is_default_domain(n.domain()) ? "" : n.domain();
      node.op_type = n.op_type();
      node.computes = {node.qualified_type()};
      node.name = n.name().empty() ? fmt::format("{}_{}", n.op_type(), i) : n.name();
      if (node.domain == kEngineDomain)
        fail("{}: node '{}' ({}): domain '{}' is reserved for the engine's own operators", origin_, node.name,
             node.qualified_type(), kEngineDomain);
      if (is_default_domain(n.domain()) && graph_.opset == 0)
        fail("{}: node {} is in the default ONNX domain, but the model imports no opset of it", origin_, node.label());
      for (const auto& out : n.output()) {
        if (out.empty()) {
          node.outputs.push_back(kNoValue);
          continue;
        }
        if (ids_.count(out)) fail("node {}: output '{}' is already produced elsewhere", node.label(), out);
        node.outputs.push_back(define(Value{out, std::nullopt, std::nullopt, std::nullopt}, "node output"));
      }
      for (const auto& a : n.attribute()) {
        if (node.attributes.count(a.name())) fail("node {}: attribute '{}' given twice", node.label(), a.name());
        node.attributes.emplace(a.name(), convert_attribute(a, node.label()));
      }
      nodes.push_back(std::move(node));
    }
    for (int i = 0; i < g.node_size(); ++i) {
      for (const auto& in : g.node(i).input()) {
        if (in.empty()) {
          nodes[static_cast<std::size_t>(i)].inputs.push_back(kNoValue);
          continue;
        }
        auto it = ids_.find(in);
        if (it == ids_.end())
          fail("node {}: input '{}' is not produced by any node, initializer or graph input",
               nodes[static_cast<std::size_t>(i)].label(), in);
        nodes[static_cast<std::size_t>(i)].inputs.push_back(it->second);
      }
    }
    for (const auto& out : g.output()) {
      auto it = ids_.find(out.name());
      if (it == ids_.end()) fail("{}: graph output '{}' is not produced by any node", origin_, out.name());
      read_value_info(out, graph_.values[static_cast<std::size_t>(it->second)]);
      graph_.outputs.push_back(it->second);
    }
    if (graph_.outputs.empty()) fail("{}: the graph has no outputs", origin_);
    graph_.nodes = std::move(nodes);
    if (const std::string cycle = sort_topologically(graph_); !cycle.empty()) fail("{}: node {} is part of a cycle", origin_, cycle);
    return std::move(graph_);
  }

 private:
  ValueId define(Value v, const char* kind) {
    if (ids_.count(v.name)) fail("{}: {} '{}' is defined twice", origin_, kind, v.name);
    std::string name = v.name;
    ValueId id = graph_.add_value(std::move(v));
    ids_.emplace(std::move(name), id);
    return id;
  }

  std::string origin_;
  Graph graph_;
  std::unordered_map<std::string, ValueId> ids_;
};

}  // namespace

Graph import_onnx_bytes(std::string_view bytes, const std::string& origin) {
  onnx::ModelProto model;
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX) || !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    fail("{} is not an ONNX model (protobuf parsing failed)", origin);
  return Importer(origin).run(model);
}

namespace {
onnx::ModelProto parse_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open model {}", file.string());
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) fail("{} is not an ONNX model (protobuf parsing failed)", file.string());
  return model;
}

TensorSpec spec_of(const onnx::ValueInfoProto& info) {
  Value v{info.name(), std::nullopt, std::nullopt, std::nullopt};
  read_value_info(info, v);
  return {v.name, v.dtype, v.shape};
}
}  // namespace

Graph import_onnx_file(const std::filesystem::path& file) {
  onnx::ModelProto model = parse_file(file);
  return Importer(file.string()).run(model);
}

Signature read_onnx_signature(const std::filesystem::path& file) {
  const onnx::ModelProto model = parse_file(file);
  // An empty file parses as an empty ModelProto, and so may a few stray bytes: no graph, no model.
  if (!model.has_graph()) fail("{}: the model has no graph", file.string());
  std::set<std::string> initializers;
  for (const auto& init : model.graph().initializer()) initializers.insert(init.name());
  Signature s;
  for (const auto& in : model.graph().input())
    if (!initializers.count(in.name())) s.inputs.push_back(spec_of(in));
  for (const auto& out : model.graph().output()) s.outputs.push_back(spec_of(out));
  static const std::set<std::string> quantization_ops{"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                                                       "MatMulInteger", "ConvInteger", "QLinearConv", "QLinearMatMul"};
  for (const auto& n : model.graph().node()) s.quantized = s.quantized || quantization_ops.count(n.op_type());
  return s;
}

}  // namespace cpuinfer::engine

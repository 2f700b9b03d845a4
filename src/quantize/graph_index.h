// A read-only index over an ONNX graph (Debian's libonnx-dev classes) for the quantizers: who
// produces and who reads each tensor, and which tensors are constants. A constant is an
// initializer or a Constant node's value, seen through any chain of Identity nodes (torch 1.13
// puts an Identity on every weight it deduplicated). The index points into the graph: it is valid
// while the graph's nodes and initializers stay where they are.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/graph.h"

namespace cpuinfer::quant {

class GraphIndex {
 public:
  explicit GraphIndex(const onnx::GraphProto& graph);

  const onnx::GraphProto& graph() const { return graph_; }
  const onnx::NodeProto& node(int index) const { return graph_.node(index); }
  // The node producing `tensor`, or -1 for a graph input, an initializer or an unknown name.
  int producer(const std::string& tensor) const;
  // The nodes of the main graph reading `tensor`, each once, in graph order.
  const std::vector<int>& readers(const std::string& tensor) const;
  // Read by a node of a subgraph (If, Loop, Scan bodies): such tensors are left as they are.
  bool read_in_subgraph(const std::string& tensor) const { return subgraph_reads_.count(tensor) != 0; }
  bool is_graph_output(const std::string& tensor) const { return outputs_.count(tensor) != 0; }
  // The graph inputs a caller feeds (initializers excluded), as declared.
  std::vector<engine::TensorSpec> declared_inputs() const;

  // Where a constant tensor's value is: an initializer's name or a Constant node's output name,
  // and its TensorProto. None for anything computed at run time.
  struct Constant {
    std::string name;
    const onnx::TensorProto* proto = nullptr;
  };
  std::optional<Constant> constant(const std::string& tensor) const;
  // The constant's element type (an ONNX TensorProto.DataType) and shape, without reading its data.
  static int constant_type(const Constant& c);
  static Shape constant_shape(const Constant& c);
  // Its value; throws cpuinfer::Error naming it for data the engine cannot read (external data).
  static Tensor constant_value(const Constant& c);

  // The default domain's opset, 0 when the model imports none.
  static std::int64_t default_opset(const onnx::ModelProto& model);
  // An integer attribute of a node, or `fallback`.
  static std::int64_t int_attribute(const onnx::NodeProto& node, const std::string& name, std::int64_t fallback);
  static float float_attribute(const onnx::NodeProto& node, const std::string& name, float fallback);
  // "Conv 'conv1'" for messages and reports.
  static std::string label(const onnx::NodeProto& node);
  static bool is_default_domain(const onnx::NodeProto& node) { return node.domain().empty() || node.domain() == "ai.onnx"; }

 private:
  const onnx::GraphProto& graph_;
  std::map<std::string, int> producers_;
  std::map<std::string, std::vector<int>> readers_;
  std::map<std::string, const onnx::TensorProto*> initializers_;
  std::set<std::string> subgraph_reads_, outputs_;
};

}  // namespace cpuinfer::quant

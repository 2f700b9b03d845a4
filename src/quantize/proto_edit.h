// Editing an ONNX graph in place (Debian's libonnx-dev classes): fresh names that collide with
// nothing in the model, initializers made from tensors, nodes, and the removal of the constants an
// edit left unread.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cpuinfer::quant {

// Every tensor and node name of a graph (its subgraphs included); hands out names not taken yet.
class NameTable {
 public:
  explicit NameTable(const onnx::GraphProto& graph);
  // `base` if free, else base_1, base_2, ...; the name is then taken.
  std::string fresh(const std::string& base);

 private:
  std::set<std::string> taken_;
};

// A TensorProto holding `value` (raw little-endian data).
onnx::TensorProto tensor_proto(const std::string& name, const Tensor& value);
// Adds an initializer to the graph.
void add_initializer(onnx::GraphProto& graph, const std::string& name, const Tensor& value);

onnx::NodeProto make_node(const std::string& op_type, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& name);
void set_int_attribute(onnx::NodeProto& node, const std::string& name, std::int64_t value);

// Removes what an edit stopped reading: each of `released` that no node, subgraph or graph output
// reads any more goes, as an initializer (and its graph input entry, if listed), or as the output
// of the Identity or Constant node making it (whose own input is then released in turn). Entries of
// value_info naming tensors that no longer exist go too. Returns the number of initializers removed.
std::size_t remove_unread(onnx::GraphProto& graph, std::set<std::string> released);

}  // namespace cpuinfer::quant

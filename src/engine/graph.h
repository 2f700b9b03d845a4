// The engine's graph IR: values (tensors flowing between nodes, with dtype and a shape whose
// dimensions are static or symbolic), nodes (an operator applied to values, with attributes) and
// the graph that owns both. Nodes are kept in a topological order. Values known at load time
// (initializers, folded constants) carry their tensor.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/tensor.h"

namespace cpuinfer::engine {

// One dimension of a declared shape: a number, or a name such as "batch" bound when the model runs.
struct Dim {
  std::int64_t value = -1;  // >= 0 when static
  std::string symbol;       // set when symbolic; "" with value -1: unknown and unnamed
  bool is_static() const { return value >= 0; }
};
std::string dims_string(const std::vector<Dim>& dims);  // "batch x 3 x 224 x 224"

// The domain of the operators cpuinfer's passes emit (FusedConv, reorders, ...). Model files may
// not use it.
inline constexpr const char* kEngineDomain = "cpuinfer";

using ValueId = int;
constexpr ValueId kNoValue = -1;  // an optional input left out

struct Value {
  std::string name;
  std::optional<DType> dtype;             // unknown until inferred or declared
  std::optional<std::vector<Dim>> shape;  // declared shape (graph inputs and outputs)
  std::optional<Tensor> constant;         // known at load time
};

// A graph input or output as declared: name, element type, shape (each may be unknown).
struct TensorSpec {
  std::string name;
  std::optional<DType> dtype;
  std::optional<std::vector<Dim>> shape;
};

// A node attribute: the ONNX kinds the supported operators use.
using Attribute = std::variant<std::int64_t, float, std::string, Tensor, std::vector<std::int64_t>,
                               std::vector<float>, std::vector<std::string>>;

class Node {
 public:
  std::string name;  // unique in the graph (made up as "<op>_<index>" when the file has none)
  std::string domain;  // "" for ai.onnx; kEngineDomain for the operators the engine's passes emit
  std::string op_type;
  std::vector<ValueId> inputs;  // kNoValue for an optional input left out
  std::vector<ValueId> outputs;
  std::map<std::string, Attribute> attributes;
  // The model's operators this node carries out ("Conv", "Relu" for a fused Conv + Relu): its own
  // type at import; a pass that folds nodes into it adds theirs, one that makes a node leaves it
  // empty (a layout reorder).
  std::vector<std::string> computes;

  bool has(const std::string& attribute) const { return attributes.count(attribute) != 0; }
  // Typed attribute access; a missing attribute gives the fallback, a wrong kind is an Error naming
  // the node and the attribute.
  std::int64_t get_int(const std::string& attribute, std::int64_t fallback) const;
  float get_float(const std::string& attribute, float fallback) const;
  std::string get_string(const std::string& attribute, const std::string& fallback) const;
  std::vector<std::int64_t> get_ints(const std::string& attribute, std::vector<std::int64_t> fallback = {}) const;
  std::vector<float> get_floats(const std::string& attribute) const;
  std::vector<std::string> get_strings(const std::string& attribute) const;
  const Tensor& get_tensor(const std::string& attribute) const;
  // "domain:OpType", or just "OpType" in the default domain: what the kernel table is keyed by.
  std::string qualified_type() const;
  // The ONNX operator a node stands for: its op_type, an engine-domain node's without the domain
  // and "Fused" ("Conv" for cpuinfer:FusedConv), another domain's qualified ("com.example:Op").
  std::string source_type() const;
  // "'name' (OpType)", for messages: names the operator as the model file has it.
  std::string label() const;

  // Number of inputs that are present (trailing kNoValue inputs excluded).
  std::size_t input_count() const;

 private:
  template <typename T> const T* find(const std::string& attribute) const;
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;  // topological order
  std::vector<ValueId> inputs;   // graph inputs the caller feeds (initializers excluded)
  std::vector<ValueId> outputs;
  std::int64_t opset = 0;        // of the default (ai.onnx) domain
  std::string producer;          // "pytorch 2.1", ...

  ValueId add_value(Value value);
};

// Orders graph.nodes so that each comes after the producers of its inputs, keeping the order it
// has wherever that is one (the ready node that came first goes first): a pass may insert a node
// anywhere and sort. Returns the label of a node in a cycle (the nodes then stay as they were), or
// "" when sorted.
std::string sort_topologically(Graph& graph);

// Frees the tensors of constants that no node reads and that are not graph outputs (weights a pass
// replaced, initializers only removed nodes read).
void release_unread_constants(Graph& graph);

}  // namespace cpuinfer::engine

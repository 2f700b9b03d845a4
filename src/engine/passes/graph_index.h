// Who produces and who reads each value of a graph, for the passes that match subgraphs. Built
// once; a pass that rewrites the graph builds a new one.
#pragma once

#include <cstddef>
#include <optional>
#include <set>
#include <vector>

#include "engine/graph.h"

namespace cpuinfer::engine {

class GraphIndex {
 public:
  explicit GraphIndex(const Graph& graph);

  // The node (index into graph.nodes) computing v, or nullopt for inputs and constants.
  std::optional<std::size_t> producer(ValueId v) const;
  // The nodes reading v (once per node, in order).
  const std::vector<std::size_t>& readers(ValueId v) const;
  bool is_output(ValueId v) const { return outputs_.count(v) != 0; }
  // v's tensor when it is known at load time.
  const Tensor* constant(ValueId v) const;
  // A float32 constant holding one value, or nullopt.
  std::optional<float> scalar(ValueId v) const;
  // An optional zero point that changes nothing: left out, or a constant of `type` holding only 0.
  bool zero_or_absent(ValueId v, DType type) const;
  // An integer constant's values, or nullopt.
  std::optional<std::vector<std::int64_t>> ints(ValueId v) const;

  // The node producing v when it is of type `op` in the default domain.
  const Node* produced_by(ValueId v, const char* op) const;

 private:
  const Graph& graph_;
  std::vector<int> producer_;
  std::vector<std::vector<std::size_t>> readers_;
  std::set<ValueId> outputs_;
};

// One entry of a shape that a model computes at run time (the target of a Reshape): a number
// known at load, or dimension `axis` of value `source` as Shape reads it.
struct ShapeEntry {
  std::optional<std::int64_t> value;
  ValueId source = kNoValue;
  std::int64_t axis = -1;
};
// The entries of a 1-D integer value computed from constants and Shape, as exporters write
// `x.size()[:2] + (12, 64)`: Shape, Gather of one index, Slice with non-negative bounds,
// Unsqueeze, Cast and Concat. nullopt for anything else.
std::optional<std::vector<ShapeEntry>> shape_entries(const GraphIndex& index, ValueId v);

}  // namespace cpuinfer::engine

// GraphIndex and the shape arithmetic exporters emit.
#include "engine/passes/graph_index.h"

#include <algorithm>

namespace cpuinfer::engine {

GraphIndex::GraphIndex(const Graph& graph)
    : graph_(graph), producer_(graph.values.size(), -1), readers_(graph.values.size()) {
  for (ValueId out : graph.outputs) outputs_.insert(out);
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    for (ValueId in : graph.nodes[i].inputs) {
      if (in == kNoValue) continue;
      auto& r = readers_[static_cast<std::size_t>(in)];
      if (r.empty() || r.back() != i) r.push_back(i);
    }
    for (ValueId out : graph.nodes[i].outputs)
      if (out != kNoValue) producer_[static_cast<std::size_t>(out)] = static_cast<int>(i);
  }
}

std::optional<std::size_t> GraphIndex::producer(ValueId v) const {
  if (v == kNoValue || producer_[static_cast<std::size_t>(v)] < 0) return std::nullopt;
  return static_cast<std::size_t>(producer_[static_cast<std::size_t>(v)]);
}

const std::vector<std::size_t>& GraphIndex::readers(ValueId v) const {
  static const std::vector<std::size_t> kNone;
  return v == kNoValue ? kNone : readers_[static_cast<std::size_t>(v)];
}

const Tensor* GraphIndex::constant(ValueId v) const {
  if (v == kNoValue) return nullptr;
  const Value& value = graph_.values[static_cast<std::size_t>(v)];
  return value.constant ? &*value.constant : nullptr;
}

std::optional<float> GraphIndex::scalar(ValueId v) const {
  const Tensor* t = constant(v);
  if (!t || t->dtype() != DType::f32 || t->numel() != 1) return std::nullopt;
  return t->values<float>()[0];
}

std::optional<std::vector<std::int64_t>> GraphIndex::ints(ValueId v) const {
  const Tensor* t = constant(v);
  if (!t || (t->dtype() != DType::i64 && t->dtype() != DType::i32)) return std::nullopt;
  std::vector<std::int64_t> values;
  if (t->dtype() == DType::i64)
    for (std::int64_t x : t->values<std::int64_t>()) values.push_back(x);
  else
    for (std::int32_t x : t->values<std::int32_t>()) values.push_back(x);
  return values;
}

bool GraphIndex::zero_or_absent(ValueId v, DType type) const {
  if (v == kNoValue) return true;
  const Tensor* t = constant(v);
  if (!t || t->dtype() != type) return false;
  const auto* bytes = static_cast<const std::byte*>(t->data());
  return std::all_of(bytes, bytes + t->nbytes(), [](std::byte b) { return b == std::byte{0}; });
}

const Node* GraphIndex::produced_by(ValueId v, const char* op) const {
  const auto p = producer(v);
  if (!p) return nullptr;
  const Node& n = graph_.nodes[*p];
  return n.domain.empty() && n.op_type == op ? &n : nullptr;
}

namespace {

// The axes an Unsqueeze inserts: an attribute before opset 13, a constant input from it.
std::optional<std::vector<std::int64_t>> unsqueeze_axes(const GraphIndex& index, const Node& n) {
  if (n.has("axes")) return n.get_ints("axes");
  if (n.inputs.size() > 1) return index.ints(n.inputs[1]);
  return std::nullopt;
}

// Shape(source) read from `first` to `last` (exclusive), both non-negative and known.
std::optional<std::vector<ShapeEntry>> shape_range(const Node& shape, std::int64_t first, std::int64_t last) {
  const std::int64_t start = shape.get_int("start", 0);
  if (start < 0 || shape.has("end") || first < 0 || last < first) return std::nullopt;
  std::vector<ShapeEntry> entries;
  for (std::int64_t a = first; a < last; ++a) entries.push_back({std::nullopt, shape.inputs[0], start + a});
  return entries;
}

}  // namespace

std::optional<std::vector<ShapeEntry>> shape_entries(const GraphIndex& index, ValueId v) {
  if (auto values = index.ints(v)) {
    std::vector<ShapeEntry> entries;
    for (std::int64_t x : *values) entries.push_back({x, kNoValue, -1});
    return entries;
  }
  if (const Node* n = index.produced_by(v, "Cast")) {
    if (n->get_int("to", 0) != 7 /* int64 */) return std::nullopt;
    return shape_entries(index, n->inputs[0]);
  }
  if (const Node* n = index.produced_by(v, "Unsqueeze")) {  // a scalar made a 1-element vector
    const auto axes = unsqueeze_axes(index, *n);
    if (!axes || *axes != std::vector<std::int64_t>{0}) return std::nullopt;
    return shape_entries(index, n->inputs[0]);
  }
  if (const Node* n = index.produced_by(v, "Gather")) {  // one dimension: Gather(Shape(x), i)
    const Node* shape = index.produced_by(n->inputs[0], "Shape");
    const auto i = index.ints(n->inputs[1]);
    if (!shape || n->get_int("axis", 0) != 0 || !i || i->size() != 1) return std::nullopt;
    return shape_range(*shape, (*i)[0], (*i)[0] + 1);
  }
  if (const Node* n = index.produced_by(v, "Slice")) {  // Slice(Shape(x), first, last)
    const Node* shape = index.produced_by(n->inputs[0], "Shape");
    if (!shape || n->inputs.size() < 3) return std::nullopt;
    const auto first = index.ints(n->inputs[1]), last = index.ints(n->inputs[2]);
    const auto axes = n->inputs.size() > 3 && n->inputs[3] != kNoValue ? index.ints(n->inputs[3]) : std::vector<std::int64_t>{0};
    const auto steps = n->inputs.size() > 4 && n->inputs[4] != kNoValue ? index.ints(n->inputs[4]) : std::vector<std::int64_t>{1};
    if (!first || !last || !axes || !steps || first->size() != 1 || last->size() != 1 || *axes != std::vector<std::int64_t>{0} ||
        *steps != std::vector<std::int64_t>{1})
      return std::nullopt;
    return shape_range(*shape, (*first)[0], (*last)[0]);
  }
  if (const Node* n = index.produced_by(v, "Concat")) {
    if (n->get_int("axis", 0) != 0) return std::nullopt;
    std::vector<ShapeEntry> entries;
    for (ValueId in : n->inputs) {
      auto part = shape_entries(index, in);
      if (!part) return std::nullopt;
      entries.insert(entries.end(), part->begin(), part->end());
    }
    return entries;
  }
  return std::nullopt;
}

}  // namespace cpuinfer::engine

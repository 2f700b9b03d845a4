// Node attribute access and small graph helpers.
#include "engine/graph.h"

#include <functional>
#include <queue>

#include "core/error.h"

namespace cpuinfer::engine {

std::string dims_string(const std::vector<Dim>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += " x ";
    s += dims[i].is_static() ? std::to_string(dims[i].value) : (dims[i].symbol.empty() ? "?" : dims[i].symbol);
  }
  return s.empty() ? "scalar" : s;
}

template <typename T> const T* Node::find(const std::string& attribute) const {
  auto it = attributes.find(attribute);
  if (it == attributes.end()) return nullptr;
  const T* value = std::get_if<T>(&it->second);
  if (!value) fail("node {}: attribute '{}' has the wrong type", label(), attribute);
  return value;
}

std::int64_t Node::get_int(const std::string& attribute, std::int64_t fallback) const {
  const auto* v = find<std::int64_t>(attribute);
  return v ? *v : fallback;
}

float Node::get_float(const std::string& attribute, float fallback) const {
  const auto* v = find<float>(attribute);
  return v ? *v : fallback;
}

std::string Node::get_string(const std::string& attribute, const std::string& fallback) const {
  const auto* v = find<std::string>(attribute);
  return v ? *v : fallback;
}

std::vector<std::int64_t> Node::get_ints(const std::string& attribute, std::vector<std::int64_t> fallback) const {
  const auto* v = find<std::vector<std::int64_t>>(attribute);
  return v ? *v : fallback;
}

std::vector<float> Node::get_floats(const std::string& attribute) const {
  const auto* v = find<std::vector<float>>(attribute);
  return v ? *v : std::vector<float>{};
}

std::vector<std::string> Node::get_strings(const std::string& attribute) const {
  const auto* v = find<std::vector<std::string>>(attribute);
  return v ? *v : std::vector<std::string>{};
}

const Tensor& Node::get_tensor(const std::string& attribute) const {
  const auto* v = find<Tensor>(attribute);
  if (!v) fail("node {}: attribute '{}' is required", label(), attribute);
  return *v;
}

std::string Node::qualified_type() const { return domain.empty() ? op_type : domain + ":" + op_type; }

std::string Node::source_type() const {
  if (domain != kEngineDomain) return qualified_type();
  return op_type.starts_with("Fused") ? op_type.substr(5) : op_type;
}

std::string Node::label() const { return fmt::format("'{}' ({})", name, source_type()); }

std::size_t Node::input_count() const {
  std::size_t n = inputs.size();
  while (n > 0 && inputs[n - 1] == kNoValue) --n;
  return n;
}

ValueId Graph::add_value(Value value) {
  values.push_back(std::move(value));
  return static_cast<ValueId>(values.size() - 1);
}

std::string sort_topologically(Graph& graph) {
  std::vector<Node>& nodes = graph.nodes;
  std::vector<int> producer(graph.values.size(), -1);
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (ValueId out : nodes[i].outputs)
      if (out != kNoValue) producer[static_cast<std::size_t>(out)] = static_cast<int>(i);
  std::vector<std::vector<std::size_t>> consumers(nodes.size());
  std::vector<std::size_t> waiting(nodes.size(), 0);
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (ValueId in : nodes[i].inputs) {
      if (in == kNoValue || producer[static_cast<std::size_t>(in)] < 0) continue;
      consumers[static_cast<std::size_t>(producer[static_cast<std::size_t>(in)])].push_back(i);
      ++waiting[i];
    }
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (waiting[i] == 0) ready.push(i);
  std::vector<std::size_t> order;
  order.reserve(nodes.size());
  while (!ready.empty()) {
    const std::size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (std::size_t c : consumers[i])
      if (--waiting[c] == 0) ready.push(c);
  }
  if (order.size() != nodes.size()) {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (waiting[i] > 0) return nodes[i].label();
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (std::size_t i : order) sorted.push_back(std::move(nodes[i]));
  nodes = std::move(sorted);
  return "";
}

void release_unread_constants(Graph& graph) {
  std::vector<bool> read(graph.values.size(), false);
  for (const Node& n : graph.nodes)
    for (ValueId in : n.inputs)
      if (in != kNoValue) read[static_cast<std::size_t>(in)] = true;
  for (ValueId out : graph.outputs) read[static_cast<std::size_t>(out)] = true;
  for (std::size_t v = 0; v < graph.values.size(); ++v)
    if (!read[v]) graph.values[v].constant.reset();
}

}  // namespace cpuinfer::engine

// Node by node: what qualifies, and why not when a node of a quantized type does not.
#include "quantize/qdq_plan.h"

#include <set>

#include "engine/onnx/tensor_proto.h"

namespace cpuinfer::quant {

namespace {

bool present(const onnx::NodeProto& node, int input) { return node.input_size() > input && !node.input(input).empty(); }

// Why a node's weight (input 1) cannot be quantized, "" when it can: a float32 constant of `rank`.
std::string weight_problem(const GraphIndex& index, const onnx::NodeProto& node, std::size_t rank) {
  const auto c = index.constant(node.input(1));
  if (!c) return "weight is not a constant";
  if (GraphIndex::constant_type(*c) != onnx::TensorProto::FLOAT)
    return fmt::format("weight is {}", engine::onnx_type_name(GraphIndex::constant_type(*c)));
  if (GraphIndex::constant_shape(*c).size() != rank)
    return node.op_type() == "Conv" ? fmt::format("not a 2-D convolution (weight of rank {})", GraphIndex::constant_shape(*c).size())
                                    : fmt::format("weight has rank {}, not {}", GraphIndex::constant_shape(*c).size(), rank);
  return "";
}

// Whether a node's input `input` is a float32 constant of shape [channels].
bool vector_bias(const GraphIndex& index, const onnx::NodeProto& node, int input, std::int64_t channels) {
  if (!present(node, input)) return false;
  const auto c = index.constant(node.input(input));
  return c && GraphIndex::constant_type(*c) == onnx::TensorProto::FLOAT && GraphIndex::constant_shape(*c) == Shape{channels};
}

}  // namespace

QdqPlan plan_qdq(const GraphIndex& index) {
  QdqPlan plan;
  const onnx::GraphProto& graph = index.graph();
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    if (!GraphIndex::is_default_domain(node) || node.input_size() == 0 || node.output_size() == 0) continue;
    const std::string& type = node.op_type();
    const std::string label = GraphIndex::label(node);
    QdqOp op;
    op.node = i;
    op.output = node.output(0);
    if (type == "Conv" || type == "Gemm" || type == "MatMul") {
      if (node.input_size() < 2) continue;
      const std::size_t rank = type == "Conv" ? 4 : 2;
      if (const std::string why = weight_problem(index, node, rank); !why.empty()) {
        plan.skipped.push_back(fmt::format("{}: {}", label, why));
        continue;
      }
      if (index.constant(node.input(0))) {
        plan.skipped.push_back(fmt::format("{}: its input is a constant", label));
        continue;
      }
      const Shape weight = GraphIndex::constant_shape(*index.constant(node.input(1)));
      op.data_inputs = {node.input(0)};
      op.weight_input = 1;
      if (type == "Conv") {
        op.weight_axis = 0;
        op.folds_relu = true;
        if (vector_bias(index, node, 2, weight[0])) op.bias_input = 2;
        else if (present(node, 2)) plan.skipped.push_back(fmt::format("{}: bias is not a constant vector, kept float", label));
      } else if (type == "Gemm") {
        op.weight_axis = GraphIndex::int_attribute(node, "transB", 0) != 0 ? 0 : 1;
        const bool unscaled = GraphIndex::float_attribute(node, "alpha", 1.0f) == 1.0f &&
                              GraphIndex::float_attribute(node, "beta", 1.0f) == 1.0f;
        if (unscaled && vector_bias(index, node, 2, weight[op.weight_axis])) op.bias_input = 2;
        else if (present(node, 2)) plan.skipped.push_back(fmt::format("{}: bias kept float (not a constant vector, or alpha/beta set)", label));
      } else {
        op.weight_axis = 1;
      }
    } else if (type == "Add") {
      if (node.input_size() != 2 || index.constant(node.input(0)) || index.constant(node.input(1))) continue;
      op.data_inputs = {node.input(0), node.input(1)};
      op.folds_relu = true;
    } else if (type == "MaxPool" || type == "AveragePool" || type == "GlobalAveragePool") {
      if (type == "MaxPool" && node.output_size() > 1 && !node.output(1).empty()) {
        plan.skipped.push_back(fmt::format("{}: its Indices output is read", label));
        continue;
      }
      if (index.constant(node.input(0))) continue;
      op.data_inputs = {node.input(0)};
    } else {
      continue;
    }
    plan.ops.push_back(std::move(op));
  }
  return plan;
}

std::vector<std::string> tensors_to_calibrate(const GraphIndex& index, const QdqPlan& plan) {
  std::vector<std::string> tensors;
  std::set<std::string> seen;
  auto add = [&](const std::string& t) {
    if (seen.insert(t).second) tensors.push_back(t);
  };
  for (const QdqOp& op : plan.ops) {
    for (const auto& in : op.data_inputs) add(in);
    add(op.output);
    if (!op.folds_relu) continue;
    const auto& readers = index.readers(op.output);
    if (readers.size() == 1 && index.node(readers[0]).op_type() == "Relu" && index.node(readers[0]).output_size() == 1)
      add(index.node(readers[0]).output(0));
  }
  return tensors;
}

void keep_calibrated_ops(QdqPlan& plan, const GraphIndex& index, const std::map<std::string, ObservedTensor>& observed) {
  std::vector<QdqOp> kept;
  for (QdqOp& op : plan.ops) {
    const std::string label = GraphIndex::label(index.node(op.node));
    std::string why;
    for (const auto& t : op.data_inputs) {
      const ObservedTensor& o = observed.at(t);
      if (o.dtype != DType::f32) why = fmt::format("input '{}' is {}", t, dtype_name(o.dtype));
      else if (index.is_graph_output(t)) why = fmt::format("input '{}' is a graph output", t);
      if (!why.empty()) break;
    }
    if (why.empty() && observed.at(op.output).dtype != DType::f32)
      why = fmt::format("output is {}", dtype_name(observed.at(op.output).dtype));
    if (why.empty() && op.data_inputs.size() == 2) {
      const auto& a = observed.at(op.data_inputs[0]).shapes;
      const auto& b = observed.at(op.data_inputs[1]).shapes;
      for (std::size_t k = 0; k < a.size() && k < b.size() && why.empty(); ++k)
        if (a[k] != b[k]) why = fmt::format("inputs of shapes {} and {} (a broadcast)", shape_string(a[k]), shape_string(b[k]));
    }
    if (why.empty()) kept.push_back(std::move(op));
    else plan.skipped.push_back(fmt::format("{}: {}", label, why));
  }
  plan.ops = std::move(kept);
}

}  // namespace cpuinfer::quant

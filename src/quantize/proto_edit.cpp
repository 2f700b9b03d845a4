// Names, tensors, nodes, and the clean-up after an edit.
#include "quantize/proto_edit.h"


#include "core/error.h"

namespace cpuinfer::quant {

namespace {

void collect_names(const onnx::GraphProto& graph, std::set<std::string>& names) {
  for (const auto& v : graph.input()) names.insert(v.name());
  for (const auto& v : graph.output()) names.insert(v.name());
  for (const auto& v : graph.value_info()) names.insert(v.name());
  for (const auto& t : graph.initializer()) names.insert(t.name());
  for (const auto& node : graph.node()) {
    names.insert(node.name());
    for (const auto& o : node.output()) names.insert(o);
    for (const auto& i : node.input()) names.insert(i);
    for (const auto& a : node.attribute()) {
      if (a.has_g()) collect_names(a.g(), names);
      for (const auto& g : a.graphs()) collect_names(g, names);
    }
  }
}

void collect_reads(const onnx::GraphProto& graph, std::set<std::string>& reads) {
  for (const auto& node : graph.node()) {
    for (const auto& in : node.input()) reads.insert(in);
    for (const auto& a : node.attribute()) {
      if (a.has_g()) collect_reads(a.g(), reads);
      for (const auto& g : a.graphs()) collect_reads(g, reads);
    }
  }
  for (const auto& out : graph.output()) reads.insert(out.name());
}

int onnx_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return onnx::TensorProto::FLOAT;
    case DType::f64: return onnx::TensorProto::DOUBLE;
    case DType::i32: return onnx::TensorProto::INT32;
    case DType::i64: return onnx::TensorProto::INT64;
    case DType::boolean: return onnx::TensorProto::BOOL;
    case DType::u8: return onnx::TensorProto::UINT8;
    case DType::i8: return onnx::TensorProto::INT8;
    case DType::u16: return onnx::TensorProto::UINT16;
    case DType::i16: return onnx::TensorProto::INT16;
    case DType::u32: return onnx::TensorProto::UINT32;
    case DType::u64: return onnx::TensorProto::UINT64;
    case DType::f16: return onnx::TensorProto::FLOAT16;
    case DType::bf16: return onnx::TensorProto::BFLOAT16;
  }
  fail("no ONNX element type for {}", dtype_name(dtype));
}

// Keeps the elements `keep` accepts, in order.
template <typename T, typename Keep> void filter(google::protobuf::RepeatedPtrField<T>& field, Keep keep) {
  google::protobuf::RepeatedPtrField<T> kept;
  for (auto& item : field)
    if (keep(item)) *kept.Add() = std::move(item);
  field.Swap(&kept);
}

}  // namespace

NameTable::NameTable(const onnx::GraphProto& graph) { collect_names(graph, taken_); }

std::string NameTable::fresh(const std::string& base) {
  std::string name = base;
  for (int i = 1; taken_.count(name); ++i) name = fmt::format("{}_{}", base, i);
  taken_.insert(name);
  return name;
}

onnx::TensorProto tensor_proto(const std::string& name, const Tensor& value) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx_type(value.dtype()));
  for (std::int64_t d : value.shape()) t.add_dims(d);
  t.set_raw_data(static_cast<const char*>(value.data()), value.nbytes());
  return t;
}

void add_initializer(onnx::GraphProto& graph, const std::string& name, const Tensor& value) {
  *graph.add_initializer() = tensor_proto(name, value);
}

onnx::NodeProto make_node(const std::string& op_type, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& name) {
  onnx::NodeProto n;
  n.set_op_type(op_type);
  n.set_name(name);
  for (const auto& i : inputs) n.add_input(i);
  for (const auto& o : outputs) n.add_output(o);
  return n;
}

void set_int_attribute(onnx::NodeProto& node, const std::string& name, std::int64_t value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

std::size_t remove_unread(onnx::GraphProto& graph, std::set<std::string> released) {
  std::size_t removed_initializers = 0;
  while (!released.empty()) {
    std::set<std::string> reads;
    collect_reads(graph, reads);
    std::set<std::string> gone_initializers, gone_outputs, next;
    std::set<std::string> initializers;
    for (const auto& t : graph.initializer()) initializers.insert(t.name());
    for (const std::string& name : released) {
      if (reads.count(name)) continue;
      if (initializers.count(name)) {
        gone_initializers.insert(name);
        continue;
      }
      for (const auto& node : graph.node()) {
        const bool constant = node.op_type() == "Constant" || (node.op_type() == "Identity" && node.input_size() == 1);
        if (node.output_size() != 1 || node.output(0) != name || !constant ||
            !(node.domain().empty() || node.domain() == "ai.onnx"))
          continue;
        gone_outputs.insert(name);
        if (node.op_type() == "Identity") next.insert(node.input(0));
      }
    }
    filter(*graph.mutable_initializer(), [&](const onnx::TensorProto& t) { return !gone_initializers.count(t.name()); });
    filter(*graph.mutable_input(), [&](const onnx::ValueInfoProto& v) { return !gone_initializers.count(v.name()); });
    filter(*graph.mutable_node(), [&](const onnx::NodeProto& n) { return n.output_size() != 1 || !gone_outputs.count(n.output(0)); });
    removed_initializers += gone_initializers.size();
    released = std::move(next);
  }
  std::set<std::string> existing;
  for (const auto& v : graph.input()) existing.insert(v.name());
  for (const auto& t : graph.initializer()) existing.insert(t.name());
  for (const auto& node : graph.node())
    for (const auto& o : node.output()) existing.insert(o);
  filter(*graph.mutable_value_info(), [&](const onnx::ValueInfoProto& v) { return existing.count(v.name()) != 0; });
  return removed_initializers;
}

}  // namespace cpuinfer::quant

// Builds small ONNX models in memory for the engine's tests (Debian's libonnx-dev classes).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cpuinfer::test {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(std::int64_t opset = 17) {
    model_.set_ir_version(8);
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
  }

  // dims: >= 0 static, or a symbol name via the string overload.
  OnnxBuilder& input(const std::string& name, int type, const std::vector<std::string>& dims) {
    fill(model_.mutable_graph()->add_input(), name, type, dims);
    return *this;
  }
  OnnxBuilder& output(const std::string& name, int type = onnx::TensorProto::FLOAT) {
    fill(model_.mutable_graph()->add_output(), name, type, std::nullopt);
    return *this;
  }
  onnx::TensorProto& initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                                 const std::vector<float>& values) {
    onnx::TensorProto& t = *model_.mutable_graph()->add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t.add_dims(d);
    for (float v : values) t.add_float_data(v);
    return t;
  }
  onnx::TensorProto& int_initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                                     const std::vector<std::int64_t>& values) {
    onnx::TensorProto& t = *model_.mutable_graph()->add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::INT64);
    for (auto d : dims) t.add_dims(d);
    for (auto v : values) t.add_int64_data(v);
    return t;
  }
  // Any element type, its bytes as they are stored (little-endian).
  onnx::TensorProto& raw_initializer(const std::string& name, const std::vector<std::int64_t>& dims, int type,
                                     const std::string& bytes) {
    onnx::TensorProto& t = *model_.mutable_graph()->add_initializer();
    t.set_name(name);
    t.set_data_type(type);
    for (auto d : dims) t.add_dims(d);
    t.set_raw_data(bytes);
    return t;
  }
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "") {
    onnx::NodeProto& n = *model_.mutable_graph()->add_node();
    n.set_op_type(op);
    n.set_name(name.empty() ? outputs.at(0) + "_node" : name);
    for (const auto& i : inputs) n.add_input(i);
    for (const auto& o : outputs) n.add_output(o);
    return n;
  }
  static void attribute(onnx::NodeProto& n, const std::string& name, std::int64_t value) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  static void attribute(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& values) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto v : values) a->add_ints(v);
  }

  onnx::ModelProto& model() { return model_; }
  std::string bytes() const { return model_.SerializeAsString(); }

 private:
  static void fill(onnx::ValueInfoProto* v, const std::string& name, int type,
                   const std::optional<std::vector<std::string>>& dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    if (!dims) return;
    auto* shape = t->mutable_shape();
    for (const auto& d : *dims) {
      auto* dim = shape->add_dim();
      if (!d.empty() && d.find_first_not_of("0123456789") == std::string::npos) dim->set_dim_value(std::stoll(d));
      else dim->set_dim_param(d);
    }
  }

  onnx::ModelProto model_;
};

}  // namespace cpuinfer::test

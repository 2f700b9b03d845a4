// gRPC inference messages read and written (serve/protocol/grpc_message.h).
#include "serve/protocol/grpc_message.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>

#include "core/error.h"

namespace cpuinfer::serve {

namespace {

using json = nlohmann::json;
using Parameters = google::protobuf::Map<std::string, inference::InferParameter>;

json read_parameters(const Parameters& parameters, const std::string& where) {
  json out = json::object();
  for (const auto& [key, p] : parameters) {
    switch (p.parameter_choice_case()) {
      case inference::InferParameter::kBoolParam: out[key] = p.bool_param(); break;
      case inference::InferParameter::kInt64Param: out[key] = p.int64_param(); break;
      case inference::InferParameter::kStringParam: out[key] = p.string_param(); break;
      case inference::InferParameter::kDoubleParam: out[key] = p.double_param(); break;
      case inference::InferParameter::kUint64Param: out[key] = p.uint64_param(); break;
      case inference::InferParameter::PARAMETER_CHOICE_NOT_SET: fail("{}: parameter '{}' has no value", where, key);
    }
  }
  return out;
}

void write_parameters(const json& parameters, Parameters& out) {
  for (const auto& [key, v] : parameters.items()) {
    inference::InferParameter& p = out[key];
    if (v.is_boolean()) p.set_bool_param(v.get<bool>());
    else if (v.is_number_unsigned()) p.set_uint64_param(v.get<std::uint64_t>());
    else if (v.is_number_integer()) p.set_int64_param(v.get<std::int64_t>());
    else if (v.is_number()) p.set_double_param(v.get<double>());
    else p.set_string_param(v.is_string() ? v.get<std::string>() : v.dump());
  }
}

// The elements of a typed contents field as T, each checked to fit.
template <typename T, typename Field>
void read_field(WireTensor& t, DType dtype, const Field& field, std::size_t count, const char* field_name) {
  if (static_cast<std::size_t>(field.size()) != count)
    fail("input '{}': contents.{} has {} elements, its shape {} holds {}", t.name, field_name, field.size(), shape_string(t.shape), count);
  t.values = Tensor::uninitialized(dtype, t.shape);
  T* out = t.values.values<T>().data();
  for (std::size_t i = 0; i < count; ++i) {
    const auto v = field[static_cast<int>(i)];
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if (!std::in_range<T>(v)) fail("input '{}': element {} ({}) does not fit {}", t.name, i, v, t.datatype);
    }
    out[i] = static_cast<T>(v);
  }
}

void read_contents(WireTensor& t, const inference::InferTensorContents& c, std::size_t count) {
  if (t.is_bytes()) {
    if (static_cast<std::size_t>(c.bytes_contents_size()) != count)
      fail("input '{}': contents.bytes_contents has {} elements, its shape {} holds {}", t.name, c.bytes_contents_size(), shape_string(t.shape), count);
    t.bytes.assign(c.bytes_contents().begin(), c.bytes_contents().end());
    return;
  }
  const DType d = *datatype_dtype(t.datatype);
  switch (d) {
    case DType::boolean: return read_field<bool>(t, d, c.bool_contents(), count, "bool_contents");
    case DType::i8: return read_field<std::int8_t>(t, d, c.int_contents(), count, "int_contents");
    case DType::i16: return read_field<std::int16_t>(t, d, c.int_contents(), count, "int_contents");
    case DType::i32: return read_field<std::int32_t>(t, d, c.int_contents(), count, "int_contents");
    case DType::i64: return read_field<std::int64_t>(t, d, c.int64_contents(), count, "int64_contents");
    case DType::u8: return read_field<std::uint8_t>(t, d, c.uint_contents(), count, "uint_contents");
    case DType::u16: return read_field<std::uint16_t>(t, d, c.uint_contents(), count, "uint_contents");
    case DType::u32: return read_field<std::uint32_t>(t, d, c.uint_contents(), count, "uint_contents");
    case DType::u64: return read_field<std::uint64_t>(t, d, c.uint64_contents(), count, "uint64_contents");
    case DType::f32: return read_field<float>(t, d, c.fp32_contents(), count, "fp32_contents");
    case DType::f64: return read_field<double>(t, d, c.fp64_contents(), count, "fp64_contents");
    default: fail("input '{}': {} has no contents field; send it in raw_input_contents", t.name, t.datatype);
  }
}

bool has_contents(const inference::InferTensorContents& c) {
  return c.bool_contents_size() || c.int_contents_size() || c.int64_contents_size() || c.uint_contents_size() ||
         c.uint64_contents_size() || c.fp32_contents_size() || c.fp64_contents_size() || c.bytes_contents_size();
}

// A tensor's name, datatype and shape into a request's input or a response's output message, its
// data into the raw contents given.
template <typename TensorMessage>
void write_tensor(const WireTensor& t, TensorMessage& message, std::string& raw) {
  message.set_name(t.name);
  message.set_datatype(t.datatype);
  for (const std::int64_t d : t.shape) message.add_shape(d);
  append_binary_data(t, raw);
}

}  // namespace

InferRequest read_grpc_request(const inference::ModelInferRequest& request, std::size_t max_tensor_bytes) {
  InferRequest r;
  if (!request.id().empty()) r.id = request.id();
  r.parameters = read_parameters(request.parameters(), "the request");
  if (request.inputs().empty()) fail("the request has no inputs");
  const bool raw = request.raw_input_contents_size() > 0;
  if (raw && request.raw_input_contents_size() != request.inputs_size())
    fail("raw_input_contents has {} entries for {} inputs (when used, one per input, in order)", request.raw_input_contents_size(), request.inputs_size());
  for (int i = 0; i < request.inputs_size(); ++i) {
    const auto& in = request.inputs(i);
    WireTensor t;
    t.name = in.name();
    if (t.name.empty()) fail("inputs[{}]: 'name' is empty", i);
    for (const WireTensor& before : r.inputs)
      if (before.name == t.name) fail("input '{}' is given twice", t.name);
    t.datatype = in.datatype();
    if (!datatype_dtype(t.datatype) && !t.is_bytes())
      fail("input '{}': unknown datatype '{}' (BOOL, UINT8-64, INT8-64, FP16, BF16, FP32, FP64 or BYTES)", t.name, t.datatype);
    for (const std::int64_t d : in.shape()) {
      if (d < 0) fail("input '{}': shape [{}] has a dimension that is not a size", t.name, fmt::join(in.shape(), ","));
      t.shape.push_back(d);
    }
    const std::size_t count = wire_element_count(t, max_tensor_bytes);
    if (raw) {
      if (has_contents(in.contents())) fail("input '{}': both contents and raw_input_contents", t.name);
      read_binary_data(t, request.raw_input_contents(i), count);
    } else {
      read_contents(t, in.contents(), count);
    }
    r.inputs.push_back(std::move(t));
  }
  for (const auto& o : request.outputs()) {
    if (o.name().empty()) fail("a requested output has no name");
    r.outputs.push_back({o.name(), std::nullopt});
  }
  return r;
}

void write_grpc_response(const InferResponse& response, inference::ModelInferResponse& out) {
  out.set_model_name(response.model_name);
  out.set_model_version(response.model_version);
  if (response.id) out.set_id(*response.id);
  write_parameters(response.parameters, *out.mutable_parameters());
  for (const WireTensor& t : response.outputs) write_tensor(t, *out.add_outputs(), *out.add_raw_output_contents());
}

void write_grpc_request(const InferRequest& request, const std::string& model, const std::string& version,
                        inference::ModelInferRequest& out) {
  out.set_model_name(model);
  out.set_model_version(version);
  if (request.id) out.set_id(*request.id);
  write_parameters(request.parameters, *out.mutable_parameters());
  for (const WireTensor& t : request.inputs) write_tensor(t, *out.add_inputs(), *out.add_raw_input_contents());
  for (const RequestedOutput& o : request.outputs) out.add_outputs()->set_name(o.name);
}

InferResponse read_grpc_response(const inference::ModelInferResponse& response, std::size_t max_tensor_bytes) {
  InferResponse r;
  r.model_name = response.model_name();
  r.model_version = response.model_version();
  if (!response.id().empty()) r.id = response.id();
  r.parameters = read_parameters(response.parameters(), "the response");
  const bool raw = response.raw_output_contents_size() > 0;
  if (raw && response.raw_output_contents_size() != response.outputs_size())
    fail("the response's raw_output_contents has {} entries for {} outputs", response.raw_output_contents_size(), response.outputs_size());
  for (int i = 0; i < response.outputs_size(); ++i) {
    const auto& o = response.outputs(i);
    WireTensor t;
    t.role = "output";
    t.name = o.name();
    t.datatype = o.datatype();
    if (!datatype_dtype(t.datatype) && !t.is_bytes()) fail("output '{}': unknown datatype '{}'", t.name, t.datatype);
    for (const std::int64_t d : o.shape()) {
      if (d < 0) fail("output '{}': shape [{}] has a dimension that is not a size", t.name, fmt::join(o.shape(), ","));
      t.shape.push_back(d);
    }
    const std::size_t count = wire_element_count(t, max_tensor_bytes);
    if (raw) read_binary_data(t, response.raw_output_contents(i), count);
    else read_contents(t, o.contents(), count);
    r.outputs.push_back(std::move(t));
    r.binary.push_back(raw);
  }
  return r;
}

}  // namespace cpuinfer::serve

// Inference requests parsed and responses written (serve/protocol/infer_message.h).
#include "serve/protocol/infer_message.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

#include "core/aligned_storage.h"
#include "core/error.h"

namespace cpuinfer::serve {

namespace {

using json = nlohmann::json;

constexpr int kMaxJsonDepth = 64;

constexpr std::array<std::pair<DType, const char*>, 13> kDatatypes = {{
    {DType::boolean, "BOOL"}, {DType::u8, "UINT8"}, {DType::u16, "UINT16"}, {DType::u32, "UINT32"},
    {DType::u64, "UINT64"}, {DType::i8, "INT8"}, {DType::i16, "INT16"}, {DType::i32, "INT32"},
    {DType::i64, "INT64"}, {DType::f16, "FP16"}, {DType::bf16, "BF16"}, {DType::f32, "FP32"}, {DType::f64, "FP64"},
}};

std::string what(const WireTensor& t) { return fmt::format("{} '{}'", t.role, t.name); }

// A parameters object's value of `key`, of the JSON type `is` checks, or nullopt when absent.
template <typename T, typename Is>
std::optional<T> parameter(const json& parameters, const char* key, Is is, const std::string& where, const char* type) {
  const auto it = parameters.find(key);
  if (it == parameters.end()) return std::nullopt;
  if (!is(*it)) fail("{}: parameter '{}' must be {}, not {}", where, key, type, it->dump());
  return it->get<T>();
}

json parameters_of(const json& object, const std::string& where) {
  const auto it = object.find("parameters");
  if (it == object.end()) return json::object();
  if (!it->is_object()) fail("{}: 'parameters' must be an object", where);
  return *it;
}

std::string string_field(const json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end()) fail("{}: '{}' is missing", where, key);
  if (!it->is_string()) fail("{}: '{}' must be a string", where, key);
  return it->get<std::string>();
}

// Appends the scalars of nested arrays in row-major order.
void flatten(const json& data, std::vector<const json*>& out, const std::string& where, int depth = 0) {
  if (!data.is_array()) {
    out.push_back(&data);
    return;
  }
  if (depth > kMaxJsonDepth) fail("{}: 'data' is nested deeper than {} arrays", where, kMaxJsonDepth);
  for (const json& e : data) flatten(e, out, where, depth + 1);
}

// One JSON element as T: a boolean for BOOL, an integer in range for integer types, any number for
// floats.
template <typename T> T element(const json& e, const std::string& where, std::size_t index, const char* datatype) {
  auto bad = [&]() -> T { fail("{}: data element {} ({}) does not fit {}", where, index, e.dump(), datatype); };
  if constexpr (std::is_same_v<T, bool>) {
    if (!e.is_boolean()) return bad();
    return e.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (e.is_number_unsigned()) {
      const auto v = e.get<std::uint64_t>();
      if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return bad();
      return static_cast<T>(v);
    }
    if (!e.is_number_integer()) return bad();
    const auto v = e.get<std::int64_t>();
    if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        (v > 0 && static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<T>::max())))
      return bad();
    return static_cast<T>(v);
  } else {
    if (!e.is_number()) return bad();
    return convert<T>(e.get<double>());
  }
}

// The tensor's memory is taken only once the data has been counted: a shape that claims more than
// the body holds costs nothing.
void read_json_data(WireTensor& t, const json& data, std::size_t count, std::optional<DType> dtype) {
  std::vector<const json*> elements;
  flatten(data, elements, what(t));
  if (elements.size() != count)
    fail("{}: 'data' has {} elements, its shape {} holds {}", what(t), elements.size(), shape_string(t.shape), count);
  if (dtype) t.values = Tensor::uninitialized(*dtype, t.shape);
  if (t.is_bytes()) {
    for (std::size_t i = 0; i < count; ++i) {
      if (!elements[i]->is_string()) fail("{}: data element {} ({}) is not a string (BYTES)", what(t), i, elements[i]->dump());
      t.bytes.push_back(elements[i]->get<std::string>());
    }
    return;
  }
  visit_dtype<AllTypes>(t.values.dtype(), [&]<typename T>(T) {
    T* out = t.values.values<T>().data();
    for (std::size_t i = 0; i < count; ++i) out[i] = element<T>(*elements[i], what(t), i, t.datatype.c_str());
  });
}

// BYTES elements from their binary form: each a 4-byte little-endian length, then the bytes.
void read_binary_bytes(WireTensor& t, std::string_view blob, std::size_t count) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (blob.size() - at < 4) fail("{}: binary data ends inside the length of element {}", what(t), i);
    std::uint32_t n = 0;
    for (int b = 3; b >= 0; --b) n = (n << 8) | static_cast<unsigned char>(blob[at + static_cast<std::size_t>(b)]);
    at += 4;
    if (blob.size() - at < n) fail("{}: element {} claims {} bytes, {} remain", what(t), i, n, blob.size() - at);
    t.bytes.emplace_back(blob.substr(at, n));
    at += n;
  }
  if (at != blob.size()) fail("{}: its {} bytes of binary data hold {} bytes beyond its {} elements", what(t), blob.size(), blob.size() - at, count);
}

// An input of a request or an output of a response (`role`).
WireTensor parse_tensor(const json& in, const char* role, std::size_t index, std::string_view& binary, std::size_t max_tensor_bytes,
                        const std::shared_ptr<std::byte[]>& owner) {
  if (!in.is_object()) fail("{}s[{}] must be an object", role, index);
  WireTensor t;
  t.role = role;
  t.name = string_field(in, "name", fmt::format("{}s[{}]", role, index));
  t.datatype = string_field(in, "datatype", what(t));
  const auto dtype = datatype_dtype(t.datatype);
  if (!dtype && !t.is_bytes())
    fail("{}: unknown datatype '{}' (BOOL, UINT8-64, INT8-64, FP16, BF16, FP32, FP64 or BYTES)", what(t), t.datatype);
  const auto shape = in.find("shape");
  if (shape == in.end()) fail("{}: 'shape' is missing", what(t));
  if (!shape->is_array()) fail("{}: 'shape' must be an array of sizes", what(t));
  for (const json& d : *shape) {
    if (!d.is_number_integer() || d.get<std::int64_t>() < 0) fail("{}: shape {} has a dimension that is not a size", what(t), shape->dump());
    t.shape.push_back(d.get<std::int64_t>());
  }
  const std::size_t count = wire_element_count(t, max_tensor_bytes);
  const json parameters = parameters_of(in, what(t));
  const auto size = parameter<std::int64_t>(parameters, "binary_data_size", [](const json& v) { return v.is_number_integer(); }, what(t), "an integer");
  const bool has_data = in.contains("data");
  if (size && has_data) fail("{}: both 'data' and parameters.binary_data_size", what(t));
  if (!size && !has_data) fail("{}: no 'data' and no parameters.binary_data_size", what(t));
  if (has_data) {
    read_json_data(t, in["data"], count, dtype);
    return t;
  }
  if (*size < 0) fail("{}: binary_data_size {} is negative", what(t), *size);
  const auto n = static_cast<std::size_t>(*size);
  if (n > binary.size()) fail("{}: binary_data_size {} exceeds the {} bytes of binary data left in the body", what(t), n, binary.size());
  read_binary_data(t, binary.substr(0, n), count, owner);
  binary.remove_prefix(n);
  return t;
}

void write_json_data(const WireTensor& t, json& out) {
  json data = json::array();
  if (t.is_bytes()) {
    for (const std::string& b : t.bytes) data.push_back(b);
  } else {
    visit_dtype<AllTypes>(t.values.dtype(), [&]<typename T>(T) {
      for (const T& v : t.values.values<T>()) {
        if constexpr (std::is_same_v<T, bool>) data.push_back(v);
        else if constexpr (std::is_integral_v<T>) data.push_back(v);
        else {
          const double d = static_cast<double>(static_cast<std::conditional_t<is_half<T>, float, T>>(v));
          if (std::isfinite(d)) data.push_back(d);
          else data.push_back(nullptr);
        }
      }
    });
  }
  out["data"] = std::move(data);
}

}  // namespace

std::size_t wire_element_count(const WireTensor& t, std::size_t max_tensor_bytes) {
  // BYTES elements are at least their 4-byte length in binary, a pointer's worth in memory.
  const auto dtype = datatype_dtype(t.datatype);
  try {
    return checked_numel(t.shape, dtype ? dtype_size(*dtype) : 4, max_tensor_bytes);
  } catch (const Error& e) {
    fail("{}: {}", what(t), e.what());
  }
}

void read_binary_data(WireTensor& t, std::string_view blob, std::size_t count, const std::shared_ptr<std::byte[]>& owner) {
  if (t.is_bytes()) return read_binary_bytes(t, blob, count);
  const DType dtype = *datatype_dtype(t.datatype);
  if (blob.size() != count * dtype_size(dtype))
    fail("{}: its {} bytes of binary data are not the {} bytes of {} {} elements", what(t), blob.size(), count * dtype_size(dtype), count, t.datatype);
  if (dtype == DType::boolean)
    for (std::size_t i = 0; i < blob.size(); ++i)
      if (static_cast<unsigned char>(blob[i]) > 1) fail("{}: BOOL element {} is byte {}, not 0 or 1", what(t), i, static_cast<int>(static_cast<unsigned char>(blob[i])));
  auto* at = reinterpret_cast<std::byte*>(const_cast<char*>(blob.data()));
  if (owner && !blob.empty() && reinterpret_cast<std::uintptr_t>(at) % kStorageAlignment == 0) {
    t.values = Tensor::sharing(dtype, t.shape, std::shared_ptr<std::byte[]>(owner, at));
    return;
  }
  t.values = Tensor::uninitialized(dtype, t.shape);
  if (!blob.empty()) std::memcpy(t.values.data(), blob.data(), blob.size());
}

void append_binary_data(const WireTensor& t, std::string& blob) {
  if (!t.is_bytes()) {
    blob.append(static_cast<const char*>(t.values.data()), t.values.nbytes());
    return;
  }
  for (const std::string& b : t.bytes) {
    const auto n = static_cast<std::uint32_t>(b.size());
    for (int i = 0; i < 4; ++i) blob.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    blob += b;
  }
}

std::string datatype_name(DType dtype) {
  for (const auto& [d, name] : kDatatypes)
    if (d == dtype) return name;
  unsupported_dtype(dtype);
}

std::optional<DType> datatype_dtype(std::string_view name) {
  for (const auto& [d, n] : kDatatypes)
    if (name == n) return d;
  return std::nullopt;
}

InferRequest parse_infer_request(std::string_view body, std::optional<std::size_t> json_length, std::size_t max_tensor_bytes,
                                 const std::shared_ptr<std::byte[]>& owner) {
  if (json_length && *json_length > body.size())
    fail("Inference-Header-Content-Length {} exceeds the body's {} bytes", *json_length, body.size());
  const std::string_view header = json_length ? body.substr(0, *json_length) : body;
  std::string_view binary = json_length ? body.substr(*json_length) : std::string_view{};
  // Nesting is bounded: copying and printing JSON recurse, and a deep enough body would overflow
  // the stack.
  const json doc = json::parse(header, [](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonDepth) fail("the request's JSON nests deeper than {} levels", kMaxJsonDepth);
    return true;
  }, false);
  if (doc.is_discarded()) fail("the request body is not valid JSON{}", json_length ? " (within Inference-Header-Content-Length)" : "");
  if (!doc.is_object()) fail("the request body must be a JSON object");

  InferRequest r;
  if (const auto id = doc.find("id"); id != doc.end()) {
    if (!id->is_string()) fail("'id' must be a string");
    r.id = id->get<std::string>();
  }
  r.parameters = parameters_of(doc, "the request");
  r.binary_outputs = parameter<bool>(r.parameters, "binary_data_output", [](const json& v) { return v.is_boolean(); }, "the request", "a boolean").value_or(false);

  const auto inputs = doc.find("inputs");
  if (inputs == doc.end() || !inputs->is_array() || inputs->empty()) fail("'inputs' must be a non-empty array");
  for (std::size_t i = 0; i < inputs->size(); ++i) {
    r.inputs.push_back(parse_tensor((*inputs)[i], "input", i, binary, max_tensor_bytes, owner));
    for (std::size_t k = 0; k + 1 < r.inputs.size(); ++k)
      if (r.inputs[k].name == r.inputs.back().name) fail("input '{}' is given twice", r.inputs.back().name);
  }
  if (!binary.empty()) fail("the body has {} bytes after the inputs' binary data", binary.size());

  if (const auto outputs = doc.find("outputs"); outputs != doc.end()) {
    if (!outputs->is_array()) fail("'outputs' must be an array");
    for (std::size_t i = 0; i < outputs->size(); ++i) {
      const json& o = (*outputs)[i];
      if (!o.is_object()) fail("outputs[{}] must be an object", i);
      RequestedOutput out;
      out.name = string_field(o, "name", fmt::format("outputs[{}]", i));
      const std::string where = fmt::format("output '{}'", out.name);
      out.binary = parameter<bool>(parameters_of(o, where), "binary_data", [](const json& v) { return v.is_boolean(); }, where, "a boolean");
      r.outputs.push_back(std::move(out));
    }
  }
  return r;
}

EncodedBody write_infer_response(const InferResponse& response) {
  json doc = json::object();
  doc["model_name"] = response.model_name;
  if (!response.model_version.empty()) doc["model_version"] = response.model_version;
  if (response.id) doc["id"] = *response.id;
  if (!response.parameters.empty()) doc["parameters"] = response.parameters;
  doc["outputs"] = json::array();
  std::string blob;
  for (std::size_t k = 0; k < response.outputs.size(); ++k) {
    const WireTensor& t = response.outputs[k];
    json o = {{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}};
    if (k < response.binary.size() && response.binary[k]) {
      const std::size_t before = blob.size();
      append_binary_data(t, blob);
      o["parameters"] = {{"binary_data_size", blob.size() - before}};
    } else {
      write_json_data(t, o);
    }
    doc["outputs"].push_back(std::move(o));
  }
  EncodedBody r;
  r.body = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!blob.empty() || std::any_of(response.binary.begin(), response.binary.end(), [](bool b) { return b; })) {
    r.json_length = r.body.size();
    r.body += blob;
  }
  return r;
}

EncodedBody write_infer_request(const InferRequest& request) {
  json doc = json::object();
  if (request.id) doc["id"] = *request.id;
  json parameters = request.parameters;
  if (request.outputs.empty()) parameters["binary_data_output"] = true;
  doc["parameters"] = std::move(parameters);
  doc["inputs"] = json::array();
  std::string blob;
  for (const WireTensor& t : request.inputs) {
    const std::size_t before = blob.size();
    append_binary_data(t, blob);
    doc["inputs"].push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}, {"parameters", {{"binary_data_size", blob.size() - before}}}});
  }
  if (!request.outputs.empty()) {
    doc["outputs"] = json::array();
    for (const RequestedOutput& o : request.outputs) {
      json out = {{"name", o.name}};
      if (o.binary) out["parameters"] = {{"binary_data", *o.binary}};
      doc["outputs"].push_back(std::move(out));
    }
  }
  EncodedBody r;
  r.body = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  r.json_length = r.body.size();
  r.body += blob;
  return r;
}

InferResponse parse_infer_response(std::string_view body, std::optional<std::size_t> json_length, std::size_t max_tensor_bytes) {
  if (json_length && *json_length > body.size())
    fail("the response's Inference-Header-Content-Length {} exceeds its {} bytes", *json_length, body.size());
  const std::string_view header = json_length ? body.substr(0, *json_length) : body;
  std::string_view binary = json_length ? body.substr(*json_length) : std::string_view{};
  const json doc = json::parse(header, [](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonDepth) fail("the response's JSON nests deeper than {} levels", kMaxJsonDepth);
    return true;
  }, false);
  if (doc.is_discarded() || !doc.is_object()) fail("the response is not a JSON object");
  InferResponse r;
  if (const auto name = doc.find("model_name"); name != doc.end() && name->is_string()) r.model_name = name->get<std::string>();
  if (const auto version = doc.find("model_version"); version != doc.end() && version->is_string()) r.model_version = version->get<std::string>();
  if (const auto id = doc.find("id"); id != doc.end() && id->is_string()) r.id = id->get<std::string>();
  r.parameters = parameters_of(doc, "the response");
  const auto outputs = doc.find("outputs");
  if (outputs == doc.end() || !outputs->is_array()) fail("the response has no 'outputs' array");
  for (std::size_t i = 0; i < outputs->size(); ++i) {
    r.outputs.push_back(parse_tensor((*outputs)[i], "output", i, binary, max_tensor_bytes, {}));
    r.binary.push_back((*outputs)[i].contains("parameters") && (*outputs)[i]["parameters"].contains("binary_data_size"));
  }
  if (!binary.empty()) fail("the response has {} bytes after its outputs' binary data", binary.size());
  return r;
}

}  // namespace cpuinfer::serve

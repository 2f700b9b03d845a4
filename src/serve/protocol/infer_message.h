// The Open Inference Protocol's (KServe v2) inference request and response over REST, in JSON and
// with the binary tensor data extension, written from the specification
// (kserve/open-inference-protocol, specification/protocol/inference_rest.md; Triton's
// docs/protocol/extension_binary_data.md):
//  - a body is a JSON object, then (when Inference-Header-Content-Length gives the JSON's length)
//    the binary tensors in the order of the JSON's inputs or outputs that carry
//    parameters.binary_data_size: little-endian, row-major, BOOL one byte, BYTES each a 4-byte
//    little-endian length and the bytes;
//  - JSON data is nested or flat, row-major; FP16 and BF16 as JSON numbers, BYTES as strings;
//  - a request's outputs are returned as binary when its output asks (parameters.binary_data) or,
//    failing that, the request does (parameters.binary_data_output).
// Everything a client can get wrong is a cpuinfer::Error of one line naming the field or tensor:
// the server answers it with 400.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace cpuinfer::serve {

// A tensor of the protocol: numbers (and BOOL) in `values`, or BYTES elements in `bytes`.
struct WireTensor {
  std::string name;
  std::string datatype;  // the protocol's name: "FP32", "BYTES", ...
  Shape shape;
  Tensor values;                   // not BYTES
  std::vector<std::string> bytes;  // BYTES, row-major
  const char* role = "input";      // "input" or "output": how errors name it
  bool is_bytes() const { return datatype == "BYTES"; }
};

struct RequestedOutput {
  std::string name;
  std::optional<bool> binary;  // parameters.binary_data
};

struct InferRequest {
  std::optional<std::string> id;
  nlohmann::json parameters = nlohmann::json::object();
  std::vector<WireTensor> inputs;
  std::vector<RequestedOutput> outputs;  // empty: every output
  bool binary_outputs = false;           // parameters.binary_data_output
};

// The protocol's datatype name of an element type, and back (nullopt for BYTES and unknown names).
std::string datatype_name(DType dtype);
std::optional<DType> datatype_dtype(std::string_view name);

// A tensor's element count from its shape; refused, naming the tensor, beyond max_tensor_bytes.
std::size_t wire_element_count(const WireTensor& t, std::size_t max_tensor_bytes);
// A tensor's `count` elements from their binary form (the binary extension's, gRPC's raw contents):
// little-endian, row-major, BOOL one byte 0 or 1, BYTES each a 4-byte little-endian length and the
// bytes. A size that does not match is refused naming the tensor. With `owner`, the block holding
// `blob`, numbers on a 64-byte boundary are used where they lie (the tensor shares the block);
// otherwise they are copied.
void read_binary_data(WireTensor& t, std::string_view blob, std::size_t count, const std::shared_ptr<std::byte[]>& owner = {});
// Appends a tensor's data in that binary form.
void append_binary_data(const WireTensor& t, std::string& out);

// Parses a request body. json_length: the Inference-Header-Content-Length header (nullopt: the
// whole body is JSON). A tensor beyond max_tensor_bytes is refused before its memory is taken.
// owner: the block holding `body`, if binary inputs may stay where they lie (read_binary_data).
InferRequest parse_infer_request(std::string_view body, std::optional<std::size_t> json_length,
                                 std::size_t max_tensor_bytes, const std::shared_ptr<std::byte[]>& owner = {});

struct InferResponse {
  std::string model_name, model_version;
  std::optional<std::string> id;
  nlohmann::json parameters = nlohmann::json::object();
  std::vector<WireTensor> outputs;
  std::vector<bool> binary;  // per output: its data as binary after the JSON
};

struct EncodedBody {
  std::string body;
  std::optional<std::size_t> json_length;  // the Inference-Header-Content-Length, when binary follows
};

// In JSON data, a float NaN or infinity is written as null (JSON has no such numbers); binary
// data carries every value exactly.
EncodedBody write_infer_response(const InferResponse& response);

// The client's side (cpuinfer loadgen): a request with every input in binary and outputs asked
// for in binary (or only those of request.outputs, each as its `binary` says), and a response
// read back, its outputs in JSON or binary. A response's errors name the output and the server.
EncodedBody write_infer_request(const InferRequest& request);
InferResponse parse_infer_response(std::string_view body, std::optional<std::size_t> json_length, std::size_t max_tensor_bytes);

}  // namespace cpuinfer::serve

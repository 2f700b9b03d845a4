// ONNX TensorProto <-> cpuinfer::Tensor: initializers, Constant values, and the .pb tensor files of
// ONNX's test data. Every size is checked against the bytes present, so a hostile file cannot make
// the reader allocate more than it holds.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/tensor.h"

namespace onnx {
class TensorProto;
}

namespace cpuinfer::engine {

// The engine's dtype for an ONNX TensorProto.DataType, or none when the engine does not support it.
std::optional<DType> dtype_from_onnx(int onnx_type);
// "float16", "string", ... for messages.
std::string onnx_type_name(int onnx_type);

// Throws cpuinfer::Unsupported for element types the engine lacks and external data, and
// cpuinfer::Error for malformed tensors; `what` names the tensor in messages.
Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& what);

// A serialized TensorProto file (ONNX test data input_0.pb, output_0.pb).
Tensor read_tensor_file(const std::filesystem::path& file);

}  // namespace cpuinfer::engine

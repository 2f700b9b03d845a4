// ONNX model file -> engine Graph. Validates as it reads: every node input must be produced
// somewhere, every value produced once, the graph acyclic, every tensor's data the size its shape
// says, attributes of supported kinds. Errors name the node or tensor; nothing is allocated beyond
// what the file holds. Which operators exist is not checked here (that is the kernels' registry).
#pragma once

#include <filesystem>
#include <string_view>

#include "engine/graph.h"

namespace cpuinfer::engine {

// Throws cpuinfer::Error for a malformed model and cpuinfer::Unsupported for a well-formed one
// using what the engine lacks (external data, subgraphs, unsupported element types).
Graph import_onnx_file(const std::filesystem::path& file);
// The same from serialized bytes; `origin` names them in messages.
Graph import_onnx_bytes(std::string_view bytes, const std::string& origin);

// The inputs a caller feeds (initializers excluded) and the outputs, as declared, without
// converting any weights, and whether the model is quantized (holds QuantizeLinear,
// DequantizeLinear, DynamicQuantizeLinear or an integer or QLinear operator). Throws
// cpuinfer::Error for a file that is not an ONNX model with a graph.
struct Signature {
  std::vector<TensorSpec> inputs, outputs;
  bool quantized = false;
};
Signature read_onnx_signature(const std::filesystem::path& file);

}  // namespace cpuinfer::engine

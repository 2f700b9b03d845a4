// Random valid ONNX graphs for the differential graph fuzzer (fuzz/graphs/graph_fuzzer.cpp): chains
// and small DAGs of the operators the engine's passes rewrite and their usual neighbours, written in
// the forms exporters use (opsets 9 to 17, and 18 to 20 at times; constants as Constant nodes or initializers on either side
// of a binary operator, scalars of rank 0 and 1, attribute and input forms of Clip and Slice,
// decomposed activations and LayerNorm), with odd sizes, size-1 dimensions and batches above 1.
// The same seed gives the same graph and inputs.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cpuinfer::fuzz {

struct GeneratedGraph {
  onnx::ModelProto model;
  std::vector<Tensor> inputs;  // in the graph's input order
  std::string summary;         // "opset 11: Conv Mul Add" (the generated nodes, constants left out)
};

struct GeneratorOptions {
  int min_nodes = 2, max_nodes = 12;  // operators drawn (a decomposed activation counts as one)
  // A CNN whose batch stays open: an NCHW input of symbolic batch N and only operators that keep
  // it so (no Reshape, Flatten or Gemm, no constant or Concat along the batch), opset 13 or newer:
  // the int8 mode quantizes it and runs it at several batch sizes in one session.
  bool open_batch = false;
};

GeneratedGraph generate_graph(std::uint64_t seed, const GeneratorOptions& options = {});

// Seeded N(0, 1) inputs of the graph's input shape with its first dimension set to `batch`.
std::vector<Tensor> inputs_with_batch(const GeneratedGraph& graph, std::int64_t batch, std::uint64_t seed);

}  // namespace cpuinfer::fuzz

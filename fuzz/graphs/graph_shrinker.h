// Shrinks a failing graph to a smaller one that still fails, as delta debugging does: first the
// shortest prefix (an earlier value made the only output), then nodes bypassed one at a time (their
// output replaced by their first input) while the failure stays. Unused nodes and constants go.
#pragma once

#include <onnx/onnx_pb.h>

#include <functional>

namespace cpuinfer::fuzz {

// `fails` says whether a candidate still fails (and is still valid: the oracle runs it).
onnx::ModelProto shrink_graph(const onnx::ModelProto& model, const std::function<bool(const onnx::ModelProto&)>& fails);

// The model without the nodes and initializers its outputs do not need.
onnx::ModelProto without_dead_nodes(const onnx::ModelProto& model);

}  // namespace cpuinfer::fuzz

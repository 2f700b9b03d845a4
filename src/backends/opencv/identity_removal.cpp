// Identity removal on the ONNX protobuf (Debian's libonnx-dev classes).
#include "backends/opencv/identity_removal.h"

#include <onnx/onnx_pb.h>

#include <fstream>
#include <map>
#include <set>

#include "core/error.h"

namespace cpuinfer {

CleanedModel remove_identity_nodes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open model {}", file.string());
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) fail("{} is not an ONNX model (protobuf parsing failed)", file.string());
  onnx::GraphProto& graph = *model.mutable_graph();

  std::set<std::string> graph_outputs;
  for (const auto& o : graph.output()) graph_outputs.insert(o.name());
  // Identity output -> its input, resolved through chains of Identities.
  std::map<std::string, std::string> alias;
  for (const auto& node : graph.node()) {
    const bool identity = node.op_type() == "Identity" && (node.domain().empty() || node.domain() == "ai.onnx");
    if (identity && node.input_size() == 1 && node.output_size() == 1 && !graph_outputs.count(node.output(0)))
      alias[node.output(0)] = node.input(0);
  }
  auto resolve = [&](std::string name) {
    for (auto it = alias.find(name); it != alias.end(); it = alias.find(name)) name = it->second;
    return name;
  };
  CleanedModel cleaned;
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (auto& node : *graph.mutable_node()) {
    if (node.output_size() == 1 && alias.count(node.output(0)) && node.op_type() == "Identity") {
      ++cleaned.removed;
      continue;
    }
    for (auto& input : *node.mutable_input()) input = resolve(input);
    *kept.Add() = std::move(node);
  }
  graph.mutable_node()->Swap(&kept);
  std::set<std::string> initializers;
  for (const auto& init : graph.initializer()) initializers.insert(init.name());
  for (const auto& input : graph.input())
    if (!initializers.count(input.name())) cleaned.inputs.push_back(input.name());
  if (!model.SerializeToString(&cleaned.bytes)) fail("cannot serialize the cleaned copy of {}", file.string());
  return cleaned;
}

}  // namespace cpuinfer

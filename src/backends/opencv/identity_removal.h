// A graph clean-up for ONNX models: remove Identity nodes by rewiring their consumers to their
// input. torch's ONNX export puts Identity nodes on shared weights, which OpenCV 4.6's importer
// rejects; the model file itself is never changed, the clean-up works on a copy in memory.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace cpuinfer {

struct CleanedModel {
  std::string bytes;           // the serialized ModelProto without Identity nodes
  std::size_t removed = 0;     // how many Identity nodes went
  std::vector<std::string> inputs;  // graph inputs that are not initializers, in order
};

// Throws cpuinfer::Error naming the file if it is missing or not an ONNX model.
CleanedModel remove_identity_nodes(const std::filesystem::path& model);

}  // namespace cpuinfer

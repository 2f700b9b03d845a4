// cpuinfer::Error: the one exception type cpuinfer throws for bad input and failed operations.
// Its message is one line that names the culprit (file, input, node, shape).
#pragma once

#include <stdexcept>
#include <string>

namespace cpuinfer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message), detail_(message) {}
  // An error of one node of a model's graph: what() is "node <node>: <detail>".
  Error(std::string node, const std::string& detail)
      : std::runtime_error("node " + node + ": " + detail), node_(std::move(node)), detail_(detail) {}

  // The node ("'conv1' (Conv)"), or "" for errors of no node.
  const std::string& node() const { return node_; }
  // The message without the node.
  const std::string& detail() const { return detail_; }

 private:
  std::string node_, detail_;
};

// A well-formed model or input that cpuinfer cannot handle (an operator, element type or CPU
// extension it lacks), as opposed to a broken one.
class Unsupported : public Error {
 public:
  using Error::Error;
};

}  // namespace cpuinfer

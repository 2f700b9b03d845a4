// cpuinfer::Error: the one exception type cpuinfer throws for bad input and failed operations.
// Its message is one line that names the culprit (file, flag, backend, shape); the CLI prints it
// and exits non-zero.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace cpuinfer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message), detail_(message) {}
  // An error of one node of an engine graph: what() is "node <node>: <detail>".
  Error(std::string node, const std::string& detail)
      : std::runtime_error(fmt::format("node {}: {}", node, detail)), node_(std::move(node)), detail_(detail) {}

  // The node ("'conv1' (Conv)"), or "" for errors of no node.
  const std::string& node() const { return node_; }
  // The message without the node.
  const std::string& detail() const { return detail_; }

 private:
  std::string node_, detail_;
};

// A well-formed input that a runtime cannot handle (an operator or shape it does not support), as
// opposed to a broken one: reported as "unsupported: ...", not "failed: ...".
class Unsupported : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// The first line of a (possibly multi-line) message from a library, for one-line reports.
std::string first_line(const std::string& message);

}  // namespace cpuinfer

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
  using std::runtime_error::runtime_error;
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

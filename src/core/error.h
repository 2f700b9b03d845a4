// cpuinfer::Error and Unsupported (public: include/cpuinfer/error.h), and the helpers that throw
// them. A message is one line that names the culprit (file, flag, backend, shape); the CLI prints
// it and exits non-zero.
#pragma once

#include <fmt/format.h>

#include <cpuinfer/error.h>
#include <string>

namespace cpuinfer {

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// The first line of a (possibly multi-line) message from a library, for one-line reports.
std::string first_line(const std::string& message);

}  // namespace cpuinfer

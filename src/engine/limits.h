// How large a tensor whose size comes from data or attributes (ConstantOfShape, Expand,
// broadcasting, Gather, Conv padding, ...) may be: larger ones are refused with an error naming
// the node, so that a hostile model cannot exhaust memory. 8 GiB unless set: process-wide (the
// fuzzer sets 256 MiB, to stay within its memory limit), or for one thread's scope (a library
// Model's Options::max_tensor_bytes, while it loads and runs).
#pragma once

#include <cstddef>

namespace cpuinfer::engine {

// The calling thread's limit: its scope's, else the process-wide one.
std::size_t max_computed_tensor_bytes();
void set_max_computed_tensor_bytes(std::size_t bytes);

// Within its lifetime, the calling thread's limit is `bytes` (0: the process-wide one). Other
// threads, and the process-wide limit, are untouched. Scopes nest.
class TensorLimitScope {
 public:
  explicit TensorLimitScope(std::size_t bytes);
  ~TensorLimitScope();
  TensorLimitScope(const TensorLimitScope&) = delete;
  TensorLimitScope& operator=(const TensorLimitScope&) = delete;

 private:
  std::size_t previous_;
};

}  // namespace cpuinfer::engine

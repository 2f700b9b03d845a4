// The limit on tensors whose size comes from data (engine/limits.h).
#include "engine/limits.h"

#include <atomic>

namespace cpuinfer::engine {

namespace {
std::atomic<std::size_t> process_limit{std::size_t{8} << 30};
thread_local std::size_t scope_limit = 0;  // 0: none
}  // namespace

std::size_t max_computed_tensor_bytes() { return scope_limit ? scope_limit : process_limit.load(); }
void set_max_computed_tensor_bytes(std::size_t bytes) { process_limit.store(bytes); }

TensorLimitScope::TensorLimitScope(std::size_t bytes) : previous_(scope_limit) {
  if (bytes) scope_limit = bytes;
}
TensorLimitScope::~TensorLimitScope() { scope_limit = previous_; }

}  // namespace cpuinfer::engine

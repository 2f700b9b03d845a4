// cpuinfer's own engine (src/engine) as a backend.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace cpuinfer {

// `bf16`: the products in bfloat16 (backend native-bf16; engine/passes/bf16_compute.h).
std::unique_ptr<Backend> make_native_backend(const BackendOptions& options, bool bf16 = false);

}  // namespace cpuinfer

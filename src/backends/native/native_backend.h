// cpuinfer's own engine (src/engine) as a backend.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace cpuinfer {

std::unique_ptr<Backend> make_native_backend(const BackendOptions& options);

}  // namespace cpuinfer

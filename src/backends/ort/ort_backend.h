// ONNX Runtime backend (C++ API, CPU execution provider).
#pragma once

#include <memory>

#include "backends/backend.h"

namespace cpuinfer {

enum class OrtLevel { basic, all };

std::unique_ptr<Backend> make_ort_backend(OrtLevel level, const BackendOptions& options);

}  // namespace cpuinfer

// ONNX Runtime backend (C++ API, CPU execution provider).
#pragma once

#include <memory>

#include "backends/backend.h"

namespace cpuinfer {

enum class OrtLevel { basic, all };

// `int8`: the run's int8 model (backend ort-int8; format onnx-int8, bench/quantized_model.h), which
// ORT's QDQ transformers turn into its int8 operators.
std::unique_ptr<Backend> make_ort_backend(OrtLevel level, const BackendOptions& options, bool int8 = false);

}  // namespace cpuinfer

// cpuinfer's own engine (src/engine) as a backend.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace cpuinfer {

// f32: the model as it is (backend native). bf16: its products in bfloat16 (native-bf16;
// engine/passes/bf16_compute.h). int8: the run's int8 model (native-int8; format onnx-int8,
// bench/quantized_model.h), its patterns on int8 kernels (engine/passes/int8_regions.h, dynamic_int8.h).
enum class NativePrecision { f32, bf16, int8 };
std::unique_ptr<Backend> make_native_backend(const BackendOptions& options, NativePrecision precision = NativePrecision::f32);

}  // namespace cpuinfer

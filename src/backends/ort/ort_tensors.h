// cpuinfer tensors in and out of ONNX Runtime: inputs wrapped without a copy, outputs copied.
#pragma once

#include <onnxruntime_cxx_api.h>

#include "core/tensor.h"

namespace cpuinfer {

// A view of `t` (ORT does not write to inputs; its C API takes a non-const pointer anyway).
// Throws cpuinfer::Error for an element type ORT has no tensor type for.
Ort::Value ort_value_view(const Tensor& t, const Ort::MemoryInfo& memory);
// A copy of ORT's output; throws cpuinfer::Error for a non-tensor value or an element type
// cpuinfer lacks (strings among them).
Tensor tensor_from_ort(const Ort::Value& value);

}  // namespace cpuinfer

// The public API's types to and from the engine's (ElementType <-> DType, TensorSpec -> TensorInfo).
#pragma once

#include <cpuinfer/tensor.h>

#include "core/dtype.h"
#include "engine/graph.h"

namespace cpuinfer::api {

DType to_dtype(ElementType type);
ElementType to_element_type(DType dtype);
TensorInfo to_info(const engine::TensorSpec& spec);

}  // namespace cpuinfer::api

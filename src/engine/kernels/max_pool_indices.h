// Max pooling by plain loops, with the Indices output and on any numeric type (see the .cpp).
#pragma once

#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

// Y and Indices of MaxPool over x (N x C x spatial...); indices count in x's flat layout, the
// spatial part column-major when `column_major` (storage_order 1).
std::vector<Tensor> max_pool_indices(const Tensor& x, const Window& window, bool column_major, const NodeInfo& info);

}  // namespace cpuinfer::engine

// How large a tensor whose size comes from data or attributes (ConstantOfShape, Expand,
// broadcasting, Gather, Conv padding, ...) may be: larger ones are refused with an error naming
// the node, so that a hostile model cannot exhaust memory. Process-wide; 8 GiB unless set (the
// fuzzer sets 256 MiB, to stay within its memory limit).
#pragma once

#include <cstddef>

namespace cpuinfer::engine {

std::size_t max_computed_tensor_bytes();
void set_max_computed_tensor_bytes(std::size_t bytes);

}  // namespace cpuinfer::engine

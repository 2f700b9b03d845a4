// NumPy .npy files (format versions 1 to 3): little-endian float32, float64, int32, int64 and
// bool arrays in C order, as `numpy.save` writes them. Anything else is refused with a message
// naming the file.
#pragma once

#include <filesystem>

#include "core/tensor.h"

namespace cpuinfer {

Tensor read_npy(const std::filesystem::path& file);
void write_npy(const std::filesystem::path& file, const Tensor& tensor);

}  // namespace cpuinfer

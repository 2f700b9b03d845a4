// NumPy .npy files (format versions 1 to 3): little-endian float16/32/64, int8/16/32/64,
// uint8/16/32/64 and bool arrays in C order, as `numpy.save` writes them. Anything else (big-endian,
// Fortran order, other types, a header or size that does not add up) is refused with one line
// naming the file.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/tensor.h"

namespace cpuinfer {

Tensor read_npy(const std::filesystem::path& file);
// The same on a file's bytes already in memory; `name` names them in errors. read_npy reads the
// file and calls this.
Tensor parse_npy(std::string_view bytes, const std::string& name);
// Whether a .npy file can hold `dtype` (bfloat16, for one, it cannot).
bool npy_holds(DType dtype);
// Throws cpuinfer::Error for a dtype npy_holds refuses.
void write_npy(const std::filesystem::path& file, const Tensor& tensor);

}  // namespace cpuinfer

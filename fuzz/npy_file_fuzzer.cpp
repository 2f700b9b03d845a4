// libFuzzer target: arbitrary bytes as a .npy file through the reader. Any outcome but a tensor
// whose size matches its shape, or a cpuinfer::Error, is a bug: a crash, a sanitizer report, a
// hang, a leak, or an allocation the file's size does not justify (libFuzzer's malloc limit).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "data/npy_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const cpuinfer::Tensor t = cpuinfer::parse_npy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz input");
    // The data follow the header, so an array never holds more bytes than the input.
    if (t.nbytes() > size || t.numel() != cpuinfer::checked_numel(t.shape(), cpuinfer::dtype_size(t.dtype())))
      __builtin_trap();
  } catch (const cpuinfer::Error&) {
  }
  return 0;
}

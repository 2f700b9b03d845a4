// libFuzzer target: arbitrary bytes as an ONNX model through the importer and session creation
// (which folds constants, so kernels run on whatever constants the input holds). Any outcome but
// a model or a cpuinfer::Error is a bug: a crash, a sanitizer report, a hang or a leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "engine/limits.h"
#include "engine/onnx/import.h"
#include "engine/session.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Stay well inside libFuzzer's memory limit: a model asking for more is refused, which is what
  // the fuzzer checks.
  cpuinfer::engine::set_max_computed_tensor_bytes(std::size_t{256} << 20);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    cpuinfer::engine::Session session(
        cpuinfer::engine::import_onnx_bytes(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz input"),
        {1});
  } catch (const cpuinfer::Error&) {
  }
  return 0;
}

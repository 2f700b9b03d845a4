// The int8 model a sweep's `native-int8` and `ort-int8` rows run: `cpuinfer quantize`'s QDQ (or
// dynamic) model of the workload's ONNX export, calibrated on the run's own samples as the
// libtorch-int8 export is, written once beside the float model as
// <stem>.int8-<key>.onnx and reused. The key hashes what the quantized model depends on: the
// float model file (size and modification time), the quantizer's recipe version, the weight
// width the CPU multiplies exactly (engine/isa.h: 8 bits with VNNI, 7 below) and the calibration
// inputs' bytes. Both backends load the same file, so their rows compare runtimes, not quantizers.
#pragma once

#include <filesystem>

namespace cpuinfer {

class Workload;
class Progress;

// The format name of the int8 model in ModelFiles (backends/backend.h).
inline constexpr const char* kInt8Format = "onnx-int8";

// The quantized model's path, making it first if the cache lacks it. Throws cpuinfer::Error
// naming what failed (no float export, calibration, writing).
std::filesystem::path quantized_model(const Workload& workload, int threads, Progress& progress);

}  // namespace cpuinfer

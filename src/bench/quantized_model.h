// The int8 model a sweep's `native-int8` and `ort-int8` rows run: `cpuinfer quantize`'s QDQ (or
// dynamic) model of the workload's ONNX export, calibrated on the run's own samples as the
// libtorch-int8 export is (or on --calibration files: a held-out model's training data), written
// once into the float model's folder of derived files (core/paths.h) as <stem>.int8-<key>.onnx
// and reused. The key hashes what the quantized model depends on: the
// float model file (size and modification time), the quantizer's recipe version, the weight
// width the CPU multiplies exactly (engine/isa.h: 8 bits with VNNI, 7 below) and the calibration
// inputs' bytes. Both backends load the same file, so their rows compare runtimes, not quantizers.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cpuinfer {

class Workload;
class Progress;

// The format name of the int8 model in ModelFiles (backends/backend.h).
inline constexpr const char* kInt8Format = "onnx-int8";

// The quantized model's path, making it first if the cache lacks it. `calibration`: --calibration
// flags, or empty for the run's samples. Throws cpuinfer::Error naming what failed (no float
// export, calibration data, writing).
std::filesystem::path quantized_model(const Workload& workload, int threads, const std::vector<std::string>& calibration,
                                      Progress& progress);

// The calibration data of --calibration flags for the workload's model, checked (the command
// line's early check): quantize/calibration_data.h's one-line errors.
std::vector<std::vector<Tensor>> calibration_batches(const Workload& workload, const std::vector<std::string>& calibration);

}  // namespace cpuinfer

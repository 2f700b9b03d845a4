// Calibration: runs the float32 model on the native engine over calibration batches and records,
// for each tensor asked for, its element type, its shape on each batch and (float32 tensors) the
// range to quantize it to. The tensors are made graph outputs of a session that neither fuses nor
// changes layouts, so every intermediate is computed as the model states it.
//
// Methods: `minmax` takes the smallest and largest value seen. `percentile` runs the batches twice:
// the first run finds each tensor's minimum and maximum, the second fills a 2048-bin histogram
// between them, and the range is clipped to the given lower and upper percentiles (99.999: the
// lowest and the highest 0.001% of the values fall outside), which keeps a few outliers from
// coarsening the scale of everything else.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cpuinfer::quant {

enum class CalibrationMethod { minmax, percentile };

struct CalibrationSettings {
  CalibrationMethod method = CalibrationMethod::minmax;
  double percentile = 99.999;  // percentile: in (50, 100]
  int threads = 1;
};

struct ObservedTensor {
  DType dtype = DType::f32;
  std::vector<Shape> shapes;       // one per batch
  double low = 0.0, high = 0.0;    // float32 tensors: the calibrated range (NaNs ignored)
};

// Batches hold the model's inputs in declaration order (checked beforehand, calibration_data.h).
// Throws cpuinfer::Error naming a tensor that is not in the model or that reaches an infinite
// value (no range can hold it), and the engine's errors as they come.
std::map<std::string, ObservedTensor> calibrate(const std::filesystem::path& model, const std::vector<std::string>& tensors,
                                                const std::vector<std::vector<Tensor>>& batches,
                                                const CalibrationSettings& settings);

// The [low, high] range that leaves at most (100 - percentile)% of a histogram's count below low
// and as much above high; `bins` span [min, max] evenly. Exposed for tests.
std::pair<double, double> percentile_range(const std::vector<std::uint64_t>& bins, double min, double max,
                                           double percentile);

}  // namespace cpuinfer::quant

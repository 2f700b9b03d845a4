// The run's int8 model: calibration batches from the workload, the cache key, the quantizer.
#include "bench/quantized_model.h"

#include <fmt/format.h>

#include <algorithm>

#include "bench/progress.h"
#include "bench/workload.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/paths.h"
#include "engine/isa.h"
#include "engine/onnx/import.h"
#include "quantize/calibration_data.h"
#include "quantize/quantize_model.h"

namespace fs = std::filesystem;

namespace cpuinfer {

namespace {

// Bumped when the quantizer's output changes for the same inputs.
constexpr int kRecipeVersion = 1;
// Calibration: up to this many samples of the run, in batches of 8 (files: all their samples).
constexpr std::size_t kCalibrationSamples = 64, kCalibrationBatch = 8;

fs::path float_model(const Workload& w) {
  const auto found = w.model().files.by_format.find("onnx");
  if (found == w.model().files.by_format.end()) fail("no ONNX export of {} to quantize", w.name());
  return found->second;
}
}  // namespace

std::vector<std::vector<Tensor>> calibration_batches(const Workload& w, const std::vector<std::string>& calibration) {
  return quant::read_calibration(engine::read_onnx_signature(float_model(w)).inputs, calibration, kCalibrationBatch);
}

fs::path quantized_model(const Workload& w, int threads, const std::vector<std::string>& calibration, Progress& progress) {
  const fs::path f32 = float_model(w);
  std::error_code ec;
  const auto size = fs::file_size(f32, ec);
  if (ec) fail("cannot read {}: {}", f32.string(), ec.message());
  const auto mtime = fs::last_write_time(f32, ec).time_since_epoch().count();

  // The given files, or the run's first samples in its planned batches (the first variant's:
  // padding does not change a static model's activations, and dynamic quantization reads none).
  std::vector<std::vector<Tensor>> batches;
  if (!calibration.empty()) {
    batches = calibration_batches(w, calibration);
  } else {
    const std::size_t batch = std::min(kCalibrationBatch, w.max_batch_size());
    std::size_t samples = 0;
    for (const PlannedBatch& b : w.plan(batch, w.variants().front())) {
      if (samples >= kCalibrationSamples) break;
      batches.push_back(w.batch(b));
      samples += b.samples.size();
    }
  }
  Hash key;
  key.add(kRecipeVersion);
  key.add(size);
  key.add(mtime);
  key.add(engine::exact_int8_weight_limit());
  for (const auto& inputs : batches)
    for (const Tensor& t : inputs) {
      key.add(t.dtype());
      for (std::int64_t d : t.shape()) key.add(d);
      key.add(t.data(), t.nbytes());
    }
  const fs::path out = derived_folder(f32) / fmt::format("{}.int8-{:016x}.onnx", f32.stem().string(), key.h);
  if (fs::exists(out)) return out;

  progress.start(fmt::format("quantizing {} to int8 (once; later runs reuse it)", f32.filename().string()), 1);
  quant::QuantizeOptions options;
  options.threads = threads;
  options.weight_limit = engine::exact_int8_weight_limit();
  try {
    const quant::QuantizeReport r = quant::quantize_model(f32, out, batches, options);
    progress.finish(fmt::format("{}: {} nodes, {} weights, {} calibration samples -> {}", r.mode, r.quantized_nodes,
                                r.quantized_weights, r.calibration_samples, out.filename().string()));
  } catch (const Error& e) {
    progress.finish("failed");
    fail("quantize: {}", e.what());
  }
  return out;
}

}  // namespace cpuinfer

// Calibration runs: the asked-for tensors become outputs of one engine session (no fusion, no
// token packing, plain layout, so no pass removes an intermediate), which runs each batch once per
// pass; the statistics are gathered from its outputs.
#include "quantize/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "core/error.h"
#include "engine/onnx/import.h"
#include "engine/session.h"

namespace cpuinfer::quant {

namespace {

constexpr std::size_t kHistogramBins = 2048;

struct Extremes {
  double min = std::numeric_limits<double>::infinity(), max = -std::numeric_limits<double>::infinity();
};

// NaNs fail both comparisons and are left out.
void update(Extremes& e, std::span<const float> values) {
  float lo = static_cast<float>(e.min), hi = static_cast<float>(e.max);
  for (float x : values) {
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
  }
  e.min = lo;
  e.max = hi;
}

void add_to_histogram(std::vector<std::uint64_t>& bins, double min, double max, std::span<const float> values) {
  const double per_unit = static_cast<double>(bins.size()) / (max - min);
  const std::size_t last = bins.size() - 1;
  for (float x : values) {
    if (x != x) continue;
    const double at = (static_cast<double>(x) - min) * per_unit;
    bins[at <= 0 ? 0 : std::min(static_cast<std::size_t>(at), last)] += 1;
  }
}

}  // namespace

std::pair<double, double> percentile_range(const std::vector<std::uint64_t>& bins, double min, double max,
                                           double percentile) {
  std::uint64_t total = 0;
  for (auto n : bins) total += n;
  if (total == 0 || bins.empty() || !(max > min)) return {min, max};
  const double tail = static_cast<double>(total) * (100.0 - percentile) / 100.0;
  const double width = (max - min) / static_cast<double>(bins.size());
  std::size_t first = 0, last = bins.size() - 1;
  for (std::uint64_t below = 0; first < bins.size(); below += bins[first++])
    if (static_cast<double>(below + bins[first]) > tail) break;
  for (std::uint64_t above = 0; last > 0; above += bins[last--])
    if (static_cast<double>(above + bins[last]) > tail) break;
  first = std::min(first, bins.size() - 1);
  const double low = std::max(min, min + static_cast<double>(first) * width);
  const double high = std::min(max, min + static_cast<double>(last + 1) * width);
  return {std::min(low, high), std::max(low, high)};
}

std::map<std::string, ObservedTensor> calibrate(const std::filesystem::path& model, const std::vector<std::string>& tensors,
                                                const std::vector<std::vector<Tensor>>& batches,
                                                const CalibrationSettings& settings) {
  const bool percentile = settings.method == CalibrationMethod::percentile;
  if (percentile && !(settings.percentile > 50.0 && settings.percentile <= 100.0))
    fail("percentile {} is not in (50, 100]", settings.percentile);
  if (batches.empty()) fail("calibration needs at least one batch of the model's inputs");

  engine::Graph graph = engine::import_onnx_file(model);
  std::unordered_map<std::string, engine::ValueId> ids;
  for (std::size_t v = 0; v < graph.values.size(); ++v) ids.emplace(graph.values[v].name, static_cast<engine::ValueId>(v));
  std::vector<std::size_t> slots;  // per tensor asked for: its place among the session's outputs
  for (const std::string& name : tensors) {
    auto it = ids.find(name);
    if (it == ids.end()) fail("calibration: tensor '{}' is not in {}", name, model.string());
    auto at = std::ranges::find(graph.outputs, it->second);
    if (at == graph.outputs.end()) at = graph.outputs.insert(graph.outputs.end(), it->second);
    slots.push_back(static_cast<std::size_t>(at - graph.outputs.begin()));
  }
  engine::Session session(std::move(graph), {.threads = settings.threads, .fuse = false, .pack_tokens = false,
                                             .blocked_layout = false});

  std::vector<ObservedTensor> observed(tensors.size());
  std::vector<Extremes> extremes(tensors.size());
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const std::vector<Tensor> outputs = session.run(batches[b]);
    for (std::size_t k = 0; k < tensors.size(); ++k) {
      const Tensor& t = outputs.at(slots[k]);
      observed[k].dtype = t.dtype();
      observed[k].shapes.push_back(t.shape());
      if (t.dtype() == DType::f32) update(extremes[k], t.values<float>());
    }
  }
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const Extremes& e = extremes[k];
    if (observed[k].dtype != DType::f32 || e.min > e.max) continue;  // not float, or nothing but NaNs
    if (!std::isfinite(e.min) || !std::isfinite(e.max))
      fail("tensor '{}' reaches {} on the calibration data: no finite range holds it", tensors[k],
           std::isfinite(e.min) ? e.max : e.min);
    observed[k].low = e.min;
    observed[k].high = e.max;
  }

  if (percentile) {
    std::vector<std::vector<std::uint64_t>> histograms(tensors.size());
    for (std::size_t k = 0; k < tensors.size(); ++k)
      if (observed[k].dtype == DType::f32 && observed[k].low < observed[k].high) histograms[k].assign(kHistogramBins, 0);
    for (const auto& batch : batches) {
      const std::vector<Tensor> outputs = session.run(batch);
      for (std::size_t k = 0; k < tensors.size(); ++k)
        if (!histograms[k].empty())
          add_to_histogram(histograms[k], observed[k].low, observed[k].high, outputs.at(slots[k]).values<float>());
    }
    for (std::size_t k = 0; k < tensors.size(); ++k)
      if (!histograms[k].empty())
        std::tie(observed[k].low, observed[k].high) =
            percentile_range(histograms[k], observed[k].low, observed[k].high, settings.percentile);
  }

  std::map<std::string, ObservedTensor> result;
  for (std::size_t k = 0; k < tensors.size(); ++k) result.emplace(tensors[k], std::move(observed[k]));
  return result;
}

}  // namespace cpuinfer::quant

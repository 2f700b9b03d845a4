// A workload: an exported model plus the samples it is benchmarked on. The sweep asks it for
// batches of samples (as model inputs) and for the samples' labels; how samples become inputs
// (image preprocessing, later tokenisation and padding) is the workload's business.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/model_cache.h"
#include "core/tensor.h"

namespace cpuinfer {

class Progress;

struct WorkloadOptions {
  std::string name;                             // "resnet101"
  std::filesystem::path cache;                  // holds models/ and data/
  std::optional<std::filesystem::path> weights; // checkpoint; none = seeded random weights
  std::optional<std::filesystem::path> data;    // data set; none = the built-in set
  std::size_t samples = 0;                      // 0 = all
  std::uint64_t seed = 0;                       // for random weights and the subset
  int threads = 1;                              // for preparing samples
};

class Workload {
 public:
  virtual ~Workload() = default;

  virtual std::string name() const = 0;
  virtual const ExportedModel& model() const = 0;
  // Data set name (a path or "built-in ..."), sample count, preprocessing: recorded with results.
  virtual nlohmann::ordered_json description() const = 0;
  virtual std::string dataset() const = 0;

  virtual std::size_t size() const = 0;
  // Model inputs for the given samples, in the model's input order.
  virtual std::vector<Tensor> batch(std::span<const std::size_t> samples) const = 0;
  // The sample's class, for accuracy.
  virtual int label(std::size_t sample) const = 0;
};

// Names accepted by make_workload.
const std::vector<std::string>& workload_names();

// Prepares the model (exporting it if needed) and the samples. Throws cpuinfer::Error.
std::unique_ptr<Workload> make_workload(const WorkloadOptions& options, Progress& progress);

}  // namespace cpuinfer

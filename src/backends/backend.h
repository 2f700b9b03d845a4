// The one interface every runtime implements: load a model, warm up, run one batch (tensors in,
// tensors out), and say what it is (name, version, settings). A backend never sees data sets or
// any file other than its model.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <cpuinfer/options.h>  // Precision: the arithmetic of a backend's outputs, which sets how
                               // closely they must agree with the reference (bench/tolerance.h)

#include "core/tensor.h"

namespace cpuinfer {

// The files of one exported model, by format ("onnx", "torchscript").
struct ModelFiles {
  std::map<std::string, std::filesystem::path> by_format;
};

struct BackendOptions {
  int threads = 1;  // intra-op threads; inter-op parallelism is always 1
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;
  virtual std::string version() const = 0;
  // The model format this backend loads ("onnx" or "torchscript").
  virtual std::string format() const = 0;
  // What was set: threads, optimisation level, ... (recorded with every result).
  virtual nlohmann::json settings() const = 0;
  // float32 unless the backend computes in bfloat16 or runs an int8 model.
  virtual Precision precision() const { return Precision::f32; }

  // Before load, untimed: finds what settings() records about how the runtime will run `model`,
  // outside the load time and peak RSS a benchmark measures. Never throws. ONNX Runtime counts its
  // optimized graph by running this executable's hidden `ort-graph` subcommand: only the cpuinfer
  // binary calls this.
  virtual void inspect(const std::filesystem::path& /*model*/) {}
  // Throws cpuinfer::Error with the runtime's first error line.
  virtual void load(const std::filesystem::path& model) = 0;
  // One inference call; inputs in the model's input order. Throws cpuinfer::Error on failure.
  virtual std::vector<Tensor> run(std::span<const Tensor> inputs) = 0;
  // Runs `iterations` untimed calls so that lazy initialisation and JIT profiling happen before
  // timing starts.
  virtual void warm_up(std::span<const Tensor> inputs, int iterations) {
    for (int i = 0; i < iterations; ++i) run(inputs);
  }
};

}  // namespace cpuinfer

// How a served model version runs: loaded once, run by its instances (each a thread of the
// model's, each with its own engine context), on the runtime its config names:
//  - native, native-int8, native-bf16: the cpuinfer library (one Model, a Session per instance,
//    the weights shared; int8 needs a quantized model, bf16 AVX512_BF16);
//  - ort: ONNX Runtime (a session per instance), as `cpuinfer bench` runs it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/graph.h"

namespace cpuinfer::serve {

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  // "cpuinfer engine, avx2 path, ..." or "ONNX Runtime 1.30.0".
  virtual std::string runtime() const = 0;
  // Inputs in the model's order; every output in the model's order. Throws cpuinfer::Error.
  virtual std::vector<Tensor> run(int instance, const std::vector<Tensor>& inputs) = 0;
};

struct RunnerOptions {
  std::string backend;  // serving_backends() (serve/repository/model_repository.h)
  int instances = 1;
  int threads = 1;  // intra-op threads per instance
  bool pack_tokens = true;  // native: padding-free text batches
};

// Loads `file` on the backend. Throws cpuinfer::Error (cpuinfer::Unsupported for what this
// machine or runtime lacks) naming the file.
std::unique_ptr<ModelRunner> make_model_runner(const std::filesystem::path& file, const RunnerOptions& options);

}  // namespace cpuinfer::serve

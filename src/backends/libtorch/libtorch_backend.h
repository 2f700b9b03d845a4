// LibTorch backend: a TorchScript module run plainly, or frozen and optimised for inference.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace cpuinfer {

enum class LibtorchMode {
  plain,   // forward under inference mode: the study's "no optimization" baseline
  frozen,  // torch::jit::freeze + torch::jit::optimize_for_inference
};

std::unique_ptr<Backend> make_libtorch_backend(LibtorchMode mode, const BackendOptions& options);

}  // namespace cpuinfer

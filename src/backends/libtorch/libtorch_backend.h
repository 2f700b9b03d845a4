// LibTorch backend: a TorchScript module run plainly, frozen and optimised for inference, or
// quantized to int8 (the export tooling quantizes; Debian's torch has the onednn and qnnpack engines).
#pragma once

#include <memory>

#include "backends/backend.h"

namespace cpuinfer {

enum class LibtorchMode {
  plain,   // forward under inference mode: the study's "no optimization" baseline
  frozen,  // torch::jit::freeze + torch::jit::optimize_for_inference
  int8,    // the int8-quantized TorchScript export, on the oneDNN quantized engine
};

std::unique_ptr<Backend> make_libtorch_backend(LibtorchMode mode, const BackendOptions& options);

}  // namespace cpuinfer

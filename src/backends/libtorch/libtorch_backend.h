// LibTorch backend: a TorchScript module run plainly, frozen and optimised for inference, or
// quantized to int8 (the export tooling quantizes; Debian's torch has the onednn and qnnpack engines).
// It is a plugin, libcpuinfer_libtorch.so, loaded on first use: LibTorch's static initialisers take
// half a second at every process start (0.5 s of `cpuinfer --version`), and only these backends
// need it. The plugin takes cpuinfer's own symbols from the executable that loads it (built with
// ENABLE_EXPORTS), and is looked for beside that executable, then where the build put it.
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

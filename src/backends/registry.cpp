// Name -> factory for the backends compiled into cpuinfer.
#include "backends/registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/libtorch/libtorch_backend.h"
#include "backends/native/native_backend.h"
#include "backends/opencv/opencv_backend.h"
#include "backends/ort/ort_backend.h"
#include "core/error.h"

namespace cpuinfer {

namespace {
struct Factory {
  BackendEntry entry;
  std::unique_ptr<Backend> (*make)(const BackendOptions&);
};

const std::vector<Factory>& factories() {
  static const std::vector<Factory> kFactories = {
      {{"ort", "ONNX Runtime, CPU execution provider, graph optimization level ALL", "resnet101, bert"},
       [](const BackendOptions& o) -> std::unique_ptr<Backend> { return make_ort_backend(OrtLevel::all, o); }},
      {{"ort-basic", "ONNX Runtime, CPU execution provider, graph optimization level BASIC", "resnet101, bert"},
       [](const BackendOptions& o) -> std::unique_ptr<Backend> { return make_ort_backend(OrtLevel::basic, o); }},
      {{"libtorch", "LibTorch TorchScript module, plain forward under inference mode (no optimization)",
        "resnet101, bert"},
       [](const BackendOptions& o) -> std::unique_ptr<Backend> {
         return make_libtorch_backend(LibtorchMode::plain, o);
       }},
      {{"libtorch-frozen", "LibTorch torch::jit::freeze + optimize_for_inference (graph mode)", "resnet101, bert"},
       [](const BackendOptions& o) -> std::unique_ptr<Backend> {
         return make_libtorch_backend(LibtorchMode::frozen, o);
       }},
      {{"libtorch-int8", "LibTorch int8: static quantization (conv+bn+relu fused, calibrated) for resnet101, "
                         "dynamic quantization of Linear layers for bert; oneDNN quantized engine",
        "resnet101, bert"},
       [](const BackendOptions& o) -> std::unique_ptr<Backend> {
         return make_libtorch_backend(LibtorchMode::int8, o);
       }},
      {{"opencv", "OpenCV DNN, CPU target, on the ONNX model with torch's Identity nodes removed",
        "resnet101; bert unsupported (OpenCV 4.6 cannot import its dynamic shapes)"},
       [](const BackendOptions& o) -> std::unique_ptr<Backend> { return make_opencv_backend(o); }},
      {{"native", "cpuinfer's own engine: ONNX import, constant folding, attention and epilogue fusion, padding-free "
                  "batches, blocked-layout "
                  "convolutions (Winograd where offered) with oneDNN post-ops, oneDNN pooling and matmul, own "
                  "kernels for the rest (fp32)",
        "resnet101, bert, any ONNX model whose operators it has"},
       [](const BackendOptions& o) -> std::unique_ptr<Backend> { return make_native_backend(o); }},
      {{"native-bf16", "the native engine with its products in bfloat16: MatMul by constant weights and fused attention "
                       "take bfloat16 inputs and weights, accumulate in float32 (oneDNN's AVX512_BF16 kernels); "
                       "convolutions take bfloat16 inputs and weights too and pass bfloat16 activations between them; "
                       "LayerNorm, Softmax and residual Adds run in float32",
        "resnet101, bert, any ONNX model; unsupported without AVX512_BF16"},
       [](const BackendOptions& o) -> std::unique_ptr<Backend> { return make_native_backend(o, NativePrecision::bf16); }},
      {{"native-int8", "the native engine on the run's int8 model (cpuinfer quantize, calibrated on the run's samples; "
                       "the same file as ort-int8): QDQ convolutions, Adds and pooling on uint8 NHWC tensors, dynamic "
                       "int8 Linear layers; oneDNN's uint8 x int8 products (VNNI where present)",
        "resnet101, bert, any ONNX model cpuinfer quantize handles"},
       [](const BackendOptions& o) -> std::unique_ptr<Backend> { return make_native_backend(o, NativePrecision::int8); }},
      {{"ort-int8", "ONNX Runtime (level ALL) on the run's int8 model, the same file as native-int8: its QDQ "
                    "transformers make QLinearConv, QLinearAdd and DynamicQuantizeMatMul",
        "resnet101, bert, any ONNX model cpuinfer quantize handles"},
       [](const BackendOptions& o) -> std::unique_ptr<Backend> { return make_ort_backend(OrtLevel::all, o, true); }},
  };
  return kFactories;
}
}  // namespace

const std::vector<BackendEntry>& known_backends() {
  static const std::vector<BackendEntry> kEntries = [] {
    std::vector<BackendEntry> entries;
    for (const auto& f : factories()) entries.push_back(f.entry);
    return entries;
  }();
  return kEntries;
}

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options) {
  std::vector<std::string> names;
  for (const auto& f : factories()) {
    if (f.entry.name == name) return f.make(options);
    names.push_back(f.entry.name);
  }
  fail("unknown backend '{}': known backends are {}", name, fmt::join(names, ", "));
}

}  // namespace cpuinfer

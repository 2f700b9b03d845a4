// TorchScript modules through LibTorch's C++ API. Inputs are wrapped without copying; outputs are
// copied into cpuinfer tensors. Built as the plugin libcpuinfer_libtorch.so (libtorch_backend.h).
#include "backends/libtorch/libtorch_backend.h"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/script.h>
#include <torch/version.h>
#include <ATen/Parallel.h>

#include <mutex>

#include "core/error.h"

namespace cpuinfer {

namespace {

c10::ScalarType torch_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return torch::kFloat32;
    case DType::f64: return torch::kFloat64;
    case DType::i32: return torch::kInt32;
    case DType::i64: return torch::kInt64;
    case DType::boolean: return torch::kBool;
    case DType::u8: return torch::kUInt8;
    case DType::i8: return torch::kInt8;
    case DType::i16: return torch::kInt16;
    case DType::f16: return torch::kFloat16;
    case DType::bf16: return torch::kBFloat16;
    case DType::u16:
    case DType::u32:
    case DType::u64: break;
  }
  fail("no LibTorch type for {}", dtype_name(dtype));
}

DType from_torch_type(c10::ScalarType type) {
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean, DType::u8, DType::i8, DType::i16,
                  DType::f16, DType::bf16})
    if (torch_type(t) == type) return t;
  fail("LibTorch output of type {} is not supported", c10::toString(type));
}

Tensor to_tensor(const at::Tensor& value) {
  at::Tensor dense = value.is_mkldnn() ? value.to_dense() : value;
  dense = dense.contiguous();
  Tensor t(from_torch_type(dense.scalar_type()), Shape(dense.sizes().begin(), dense.sizes().end()));
  std::memcpy(t.data(), dense.data_ptr(), t.nbytes());
  return t;
}

void collect_outputs(const c10::IValue& value, std::vector<Tensor>& out) {
  if (value.isTensor()) {
    out.push_back(to_tensor(value.toTensor()));
  } else if (value.isTuple()) {
    for (const auto& v : value.toTupleRef().elements()) collect_outputs(v, out);
  } else if (value.isList()) {
    for (const auto& v : value.toListRef()) collect_outputs(v, out);
  } else {
    fail("LibTorch model returned a {}, expected tensors", value.tagKind());
  }
}

class LibtorchBackend final : public Backend {
 public:
  LibtorchBackend(LibtorchMode mode, const BackendOptions& options) : mode_(mode), options_(options) {}

  std::string name() const override {
    switch (mode_) {
      case LibtorchMode::plain: return "libtorch";
      case LibtorchMode::frozen: return "libtorch-frozen";
      case LibtorchMode::int8: return "libtorch-int8";
    }
    return "libtorch";
  }
  std::string version() const override { return TORCH_VERSION; }
  std::string format() const override { return mode_ == LibtorchMode::int8 ? "torchscript-int8" : "torchscript"; }
  Precision precision() const override { return mode_ == LibtorchMode::int8 ? Precision::int8 : Precision::f32; }
  nlohmann::json settings() const override {
    nlohmann::json s = {{"intra_op_threads", options_.threads}, {"inter_op_threads", 1}, {"mkldnn", at::hasMKLDNN()}};
    switch (mode_) {
      case LibtorchMode::plain: s["mode"] = "torchscript, inference mode"; break;
      case LibtorchMode::frozen: s["mode"] = "freeze + optimize_for_inference, inference mode"; break;
      case LibtorchMode::int8: s["mode"] = "int8-quantized torchscript, inference mode"; s["quantized_engine"] = "onednn"; break;
    }
    return s;
  }

  void load(const std::filesystem::path& model) override {
    configure_threads();
    try {
      // The engine the export tooling quantized with; the default here would be qnnpack.
      if (mode_ == LibtorchMode::int8) at::globalContext().setQEngine(at::QEngine::ONEDNN);
      module_ = torch::jit::load(model.string());
      module_.eval();
      if (mode_ == LibtorchMode::frozen) {
        module_ = torch::jit::freeze(module_);
        module_ = torch::jit::optimize_for_inference(module_);
      }
      loaded_ = true;
    } catch (const c10::Error& e) {
      fail("{}", first_line(e.what_without_backtrace()));
    } catch (const std::exception& e) {
      fail("{}", first_line(e.what()));
    }
  }

  std::vector<Tensor> run(std::span<const Tensor> inputs) override {
    if (!loaded_) fail("{}: run before load", name());
    // at::set_num_threads is per process; another backend may have changed it since load.
    if (at::get_num_threads() != options_.threads) at::set_num_threads(options_.threads);
    try {
      c10::InferenceMode guard;
      std::vector<c10::IValue> args;
      for (const Tensor& t : inputs) {
        std::vector<std::int64_t> sizes(t.shape().begin(), t.shape().end());
        args.emplace_back(torch::from_blob(const_cast<void*>(t.data()), sizes, torch_type(t.dtype())));
      }
      std::vector<Tensor> outputs;
      collect_outputs(module_.forward(args), outputs);
      return outputs;
    } catch (const c10::Error& e) {
      fail("{}", first_line(e.what_without_backtrace()));
    } catch (const std::exception& e) {
      fail("{}", first_line(e.what()));
    }
  }

 private:
  void configure_threads() {
    static std::once_flag interop_once;
    std::call_once(interop_once, [] {
      try {
        at::set_num_interop_threads(1);
      } catch (const c10::Error&) {
        // Already fixed by an earlier use of the inter-op pool: nothing to do.
      }
    });
    at::set_num_threads(options_.threads);
  }

  LibtorchMode mode_;
  BackendOptions options_;
  torch::jit::Module module_;
  bool loaded_ = false;
};

}  // namespace

}  // namespace cpuinfer

// The plugin's entry point (libtorch_backend.h): the caller owns the backend.
extern "C" __attribute__((visibility("default"))) cpuinfer::Backend* cpuinfer_make_libtorch_backend(
    int mode, const cpuinfer::BackendOptions* options) {
  return new cpuinfer::LibtorchBackend(static_cast<cpuinfer::LibtorchMode>(mode), *options);
}

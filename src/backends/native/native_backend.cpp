// The native backend: loads the ONNX model into an engine::Session and runs it.
#include "backends/native/native_backend.h"

#include "core/error.h"
#include "engine/session.h"

namespace cpuinfer {

namespace {

class NativeBackend final : public Backend {
 public:
  NativeBackend(const BackendOptions& options, NativePrecision precision) : options_(options), precision_(precision) {}

  std::string name() const override {
    switch (precision_) {
      case NativePrecision::f32: return "native";
      case NativePrecision::bf16: return "native-bf16";
      case NativePrecision::int8: return "native-int8";
    }
    return "native";
  }
  std::string version() const override { return engine::engine_version(); }
  std::string format() const override { return precision_ == NativePrecision::int8 ? "onnx-int8" : "onnx"; }
  Precision precision() const override {
    switch (precision_) {
      case NativePrecision::f32: break;
      case NativePrecision::bf16: return Precision::bf16;
      case NativePrecision::int8: return Precision::int8;
    }
    return Precision::f32;
  }
  nlohmann::json settings() const override {
    const char* precision = "f32";
    if (precision_ == NativePrecision::bf16) precision = "bf16 products (Conv, MatMul, fused attention), f32 accumulation and the rest";
    if (precision_ == NativePrecision::int8) precision = "int8 model (cpuinfer quantize): uint8 x int8 products, int32 sums";
    nlohmann::json s = {{"intra_op_threads", options_.threads}, {"inter_op_threads", 1}, {"threading", "OpenMP"},
                        {"precision", precision}};
    if (session_) {
      s["imported_nodes"] = session_->report().imported_nodes;
      s["folded_nodes"] = session_->report().folded_nodes;
      s["fused_nodes"] = session_->report().fused_nodes;
      s["attention_nodes"] = session_->report().attention_nodes;
      s["packed_tokens"] = session_->report().packed_tokens;
      if (precision_ == NativePrecision::bf16) {
        s["bf16_nodes"] = session_->report().bf16_nodes;
        s["bf16_outputs"] = session_->report().bf16_outputs;
      }
      if (precision_ == NativePrecision::int8) s["int8_nodes"] = session_->report().int8_nodes;
      s["blocked_nodes"] = session_->report().blocked_nodes;
      s["reorders"] = session_->report().reorders;
      s["executed_nodes"] = session_->node_count();
      s["isa_path"] = session_->report().isa;
    }
    return s;
  }

  void load(const std::filesystem::path& model) override {
    session_.reset();
    engine::SessionOptions options;
    options.threads = options_.threads;
    options.bf16 = precision_ == NativePrecision::bf16;
    session_ = engine::load_onnx_session(model, options);
  }

  std::vector<Tensor> run(std::span<const Tensor> inputs) override {
    if (!session_) fail("native: run before load");
    return session_->run(inputs);
  }

 private:
  BackendOptions options_;
  NativePrecision precision_;
  std::unique_ptr<engine::Session> session_;
};

}  // namespace

std::unique_ptr<Backend> make_native_backend(const BackendOptions& options, NativePrecision precision) {
  return std::make_unique<NativeBackend>(options, precision);
}

}  // namespace cpuinfer

// The native backend: loads the ONNX model into an engine::Session and runs it.
#include "backends/native/native_backend.h"

#include "core/error.h"
#include "engine/session.h"

namespace cpuinfer {

namespace {

class NativeBackend final : public Backend {
 public:
  NativeBackend(const BackendOptions& options, bool bf16) : options_(options), bf16_(bf16) {}

  std::string name() const override { return bf16_ ? "native-bf16" : "native"; }
  std::string version() const override { return engine::engine_version(); }
  std::string format() const override { return "onnx"; }
  nlohmann::json settings() const override {
    nlohmann::json s = {{"intra_op_threads", options_.threads}, {"inter_op_threads", 1}, {"threading", "OpenMP"},
                        {"precision", bf16_ ? "bf16 products (MatMul, attention's projection), f32 accumulation and the rest" : "f32"}};
    if (session_) {
      s["imported_nodes"] = session_->report().imported_nodes;
      s["folded_nodes"] = session_->report().folded_nodes;
      s["fused_nodes"] = session_->report().fused_nodes;
      s["attention_nodes"] = session_->report().attention_nodes;
      s["packed_tokens"] = session_->report().packed_tokens;
      if (bf16_) s["bf16_nodes"] = session_->report().bf16_nodes;
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
    options.bf16 = bf16_;
    session_ = engine::load_onnx_session(model, options);
  }

  std::vector<Tensor> run(std::span<const Tensor> inputs) override {
    if (!session_) fail("native: run before load");
    return session_->run(inputs);
  }

 private:
  BackendOptions options_;
  bool bf16_;
  std::unique_ptr<engine::Session> session_;
};

}  // namespace

std::unique_ptr<Backend> make_native_backend(const BackendOptions& options, bool bf16) {
  return std::make_unique<NativeBackend>(options, bf16);
}

}  // namespace cpuinfer

// ONNX Runtime sessions with a fixed optimisation level and T intra-op threads, sequential
// execution (ort_session_options.h). Inputs are passed without copying; outputs are copied into
// cpuinfer tensors. Settings record the fused nodes of ORT's optimized graph (ort_optimized_graph.h).
#include "backends/ort/ort_backend.h"

#include <onnxruntime_cxx_api.h>

#include "backends/ort/ort_optimized_graph.h"
#include "backends/ort/ort_session_options.h"
#include "backends/ort/ort_tensors.h"
#include "core/error.h"

namespace cpuinfer {

namespace {

class OrtBackend final : public Backend {
 public:
  OrtBackend(OrtLevel level, const BackendOptions& options, bool int8) : level_(level), options_(options), int8_(int8) {}

  std::string name() const override { return int8_ ? "ort-int8" : level_ == OrtLevel::all ? "ort" : "ort-basic"; }
  std::string version() const override { return Ort::GetVersionString(); }
  std::string format() const override { return int8_ ? "onnx-int8" : "onnx"; }
  Precision precision() const override { return int8_ ? Precision::int8 : Precision::f32; }
  nlohmann::json settings() const override {
    nlohmann::json s = {{"graph_optimization_level", level_ == OrtLevel::all ? "ORT_ENABLE_ALL" : "ORT_ENABLE_BASIC"},
                        {"intra_op_threads", options_.threads},
                        {"inter_op_threads", 1},
                        {"execution_mode", "sequential"},
                        {"execution_provider", "CPU"}};
    if (optimized_graph_.is_object()) s.update(optimized_graph_);  // fused_nodes, optimized_nodes
    return s;
  }

  // The cpuinfer binary counts in a child process; /proc/self/exe still runs it if the file was
  // replaced (rebuilt) since this process started.
  void inspect(const std::filesystem::path& model) override {
    optimized_graph_ = ort_optimized_graph(model, level_, options_.threads, "/proc/self/exe");
  }

  void load(const std::filesystem::path& model) override {
    try {
      session_ = std::make_unique<Ort::Session>(ort_env(), model.c_str(), ort_session_options(level_, options_.threads));
      Ort::AllocatorWithDefaultOptions allocator;
      input_names_.clear();
      output_names_.clear();
      for (std::size_t i = 0; i < session_->GetInputCount(); ++i)
        input_names_.emplace_back(session_->GetInputNameAllocated(i, allocator).get());
      for (std::size_t i = 0; i < session_->GetOutputCount(); ++i)
        output_names_.emplace_back(session_->GetOutputNameAllocated(i, allocator).get());
    } catch (const Ort::Exception& e) {
      session_.reset();
      fail("{}", first_line(e.what()));
    }
  }

  std::vector<Tensor> run(std::span<const Tensor> inputs) override {
    if (!session_) fail("{}: run before load", name());
    if (inputs.size() != input_names_.size())
      fail("{}: model takes {} inputs, got {}", name(), input_names_.size(), inputs.size());
    try {
      auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
      std::vector<Ort::Value> values;
      for (const Tensor& t : inputs) values.push_back(ort_value_view(t, memory));
      std::vector<const char*> in_names, out_names;
      for (const auto& n : input_names_) in_names.push_back(n.c_str());
      for (const auto& n : output_names_) out_names.push_back(n.c_str());
      auto outputs = session_->Run(Ort::RunOptions{nullptr}, in_names.data(), values.data(), values.size(),
                                   out_names.data(), out_names.size());
      std::vector<Tensor> result;
      for (const Ort::Value& out : outputs) result.push_back(tensor_from_ort(out));
      return result;
    } catch (const Ort::Exception& e) {
      fail("{}", first_line(e.what()));
    }
  }

 private:
  OrtLevel level_;
  BackendOptions options_;
  bool int8_;
  nlohmann::json optimized_graph_;  // what inspect found
  std::unique_ptr<Ort::Session> session_;
  std::vector<std::string> input_names_, output_names_;
};

}  // namespace

std::unique_ptr<Backend> make_ort_backend(OrtLevel level, const BackendOptions& options, bool int8) {
  return std::make_unique<OrtBackend>(level, options, int8);
}

}  // namespace cpuinfer

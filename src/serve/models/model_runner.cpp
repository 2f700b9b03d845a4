// The served model's runtimes (serve/models/model_runner.h).
#include "serve/models/model_runner.h"

#include <cpuinfer/cpuinfer.h>

#include <cstring>

#include "api/api_types.h"
#include "backends/registry.h"
#include "core/error.h"

namespace cpuinfer::serve {

namespace {

class NativeRunner : public ModelRunner {
 public:
  NativeRunner(const std::filesystem::path& file, const RunnerOptions& o) : model_(file, options(o)) {
    for (int i = 0; i < o.instances; ++i) sessions_.emplace_back(model_);
  }
  std::string runtime() const override { return Model::engine_version(); }
  std::vector<Tensor> run(int instance, const std::vector<Tensor>& inputs) override {
    std::vector<TensorView> views;
    for (const Tensor& t : inputs) views.push_back({api::to_element_type(t.dtype()), t.shape(), t.data()});
    std::vector<Tensor> results;
    for (const Output& o : sessions_.at(static_cast<std::size_t>(instance)).run(views)) {
      // A copy the responses own (outputs are a batch's scores: small beside the run).
      Tensor t = Tensor::uninitialized(api::to_dtype(o.type()), o.shape());
      if (t.nbytes()) std::memcpy(t.data(), o.data(), t.nbytes());
      results.push_back(std::move(t));
    }
    return results;
  }

 private:
  static Options options(const RunnerOptions& o) {
    Options opts;
    opts.threads = o.threads;
    opts.pack_tokens = o.pack_tokens;
    if (o.backend == "native-int8") opts.precision = Precision::int8;
    if (o.backend == "native-bf16") opts.precision = Precision::bf16;
    return opts;
  }
  Model model_;
  std::vector<Session> sessions_;
};

class OrtRunner : public ModelRunner {
 public:
  OrtRunner(const std::filesystem::path& file, const RunnerOptions& o) {
    for (int i = 0; i < o.instances; ++i) {
      instances_.push_back(make_backend("ort", BackendOptions{.threads = o.threads}));
      instances_.back()->load(file);
    }
  }
  std::string runtime() const override { return "ONNX Runtime " + instances_.front()->version(); }
  std::vector<Tensor> run(int instance, const std::vector<Tensor>& inputs) override {
    return instances_.at(static_cast<std::size_t>(instance))->run(inputs);
  }

 private:
  std::vector<std::unique_ptr<Backend>> instances_;
};

}  // namespace

std::unique_ptr<ModelRunner> make_model_runner(const std::filesystem::path& file, const RunnerOptions& options) {
  if (options.instances < 1) fail("{}: {} instances", file.string(), options.instances);
  if (options.backend == "ort") return std::make_unique<OrtRunner>(file, options);
  return std::make_unique<NativeRunner>(file, options);
}

}  // namespace cpuinfer::serve

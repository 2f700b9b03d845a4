// cpuinfer::Session: a run context of the model's engine session, the caller's memory wrapped
// without a copy, a slot of the model's thread budget per run, the caller's OpenMP setting restored.
#include <cpuinfer/session.h>

#include <algorithm>

#include "api/model_impl.h"
#include "engine/limits.h"

namespace cpuinfer {

struct Session::Impl {
  explicit Impl(Model m) : model(std::move(m)), context(model.impl()->engine.make_context()) {}
  Model model;
  engine::RunContext context;
};

namespace {

std::string names(const std::vector<TensorInfo>& infos) {
  std::string s;
  for (const TensorInfo& i : infos) s += (s.empty() ? "" : ", ") + i.name;
  return s;
}

// Holds one of the model's slots for a run (the thread budget, include/cpuinfer/options.h).
class RunSlot {
 public:
  explicit RunSlot(Model::Impl& model) : model_(model) { model_.slots.acquire(); }
  ~RunSlot() { model_.slots.release(); }
  RunSlot(const RunSlot&) = delete;
  RunSlot& operator=(const RunSlot&) = delete;

 private:
  Model::Impl& model_;
};

}  // namespace

Session::Session(Model model) : impl_(std::make_unique<Impl>(std::move(model))) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const Model& Session::model() const { return impl_->model; }

std::vector<Output> Session::run(const std::vector<TensorView>& inputs) {
  Model::Impl& model = *impl_->model.impl();
  if (inputs.size() != model.inputs.size())
    fail("the model takes {} inputs, got {}", model.inputs.size(), inputs.size());
  const std::size_t limit = model.options.max_tensor_bytes;
  std::vector<Tensor> tensors;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    try {
      const DType dtype = api::to_dtype(inputs[i].type);
      if (limit) checked_numel(inputs[i].shape, dtype_size(dtype), limit);
      tensors.push_back(Tensor::borrowed(dtype, inputs[i].shape, inputs[i].data));
    } catch (const Error& e) {
      fail("input '{}': {}", model.inputs[i].name, e.what());
    }
  }
  std::vector<Tensor> results;
  {
    const RunSlot slot(model);
    const CallerThreads keep;
    const engine::TensorLimitScope size_limit(limit);
    results = model.engine.run(impl_->context, tensors);
  }
  std::vector<Output> outputs;
  for (const Tensor& t : results)
    outputs.emplace_back(api::to_element_type(t.dtype()), t.shape(), t.data(), t.storage());
  return outputs;
}

std::vector<Output> Session::run(const std::vector<std::pair<std::string, TensorView>>& inputs,
                                 const std::vector<std::string>& outputs) {
  const Model::Impl& model = *impl_->model.impl();
  std::vector<const TensorView*> ordered(model.inputs.size(), nullptr);
  for (const auto& [name, view] : inputs) {
    const auto it = std::find_if(model.inputs.begin(), model.inputs.end(), [&](const TensorInfo& i) { return i.name == name; });
    if (it == model.inputs.end()) fail("no input named '{}' (the model's inputs: {})", name, names(model.inputs));
    const auto k = static_cast<std::size_t>(it - model.inputs.begin());
    if (ordered[k]) fail("input '{}' is given twice", name);
    ordered[k] = &view;
  }
  std::vector<TensorView> views;
  for (std::size_t k = 0; k < ordered.size(); ++k) {
    if (!ordered[k]) fail("input '{}' is missing", model.inputs[k].name);
    views.push_back(*ordered[k]);
  }
  std::vector<std::size_t> chosen;
  for (const std::string& name : outputs) {
    const auto it = std::find_if(model.outputs.begin(), model.outputs.end(), [&](const TensorInfo& o) { return o.name == name; });
    if (it == model.outputs.end()) fail("no output named '{}' (the model's outputs: {})", name, names(model.outputs));
    chosen.push_back(static_cast<std::size_t>(it - model.outputs.begin()));
  }
  std::vector<Output> all = run(views);
  if (outputs.empty()) return all;
  std::vector<Output> picked;
  for (std::size_t k : chosen) picked.push_back(all[k]);
  return picked;
}

}  // namespace cpuinfer

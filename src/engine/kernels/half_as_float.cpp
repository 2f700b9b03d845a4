// The half-as-float adapter (see the header).
#include "engine/kernels/half_as_float.h"

#include <optional>

#include "core/storage_source.h"
#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

namespace {

class HalfAsFloat final : public Kernel {
 public:
  HalfAsFloat(std::unique_ptr<Kernel> inner, bool takes_bf16) : inner_(std::move(inner)), takes_bf16_(takes_bf16) {}

  bool prepack(std::size_t input, const Tensor& constant) override {
    if (!is_half_type(constant.dtype())) return inner_->prepack(input, constant);
    constant_half_ = constant.dtype();
    Tensor wide = cast(constant, DType::f32);
    if (!inner_->prepack(input, wide)) {
      if (widened_.size() <= input) widened_.resize(input + 1);
      widened_[input] = std::move(wide);
    }
    return true;
  }

  bool may_overwrite(std::size_t input) const override { return inner_->may_overwrite(input); }

  // The half types this wrapper widens.
  bool is_half_type(DType t) const { return t == DType::f16 || (t == DType::bf16 && !takes_bf16_); }

  std::vector<Tensor> run(Inputs inputs) const override {
    std::optional<DType> half = constant_half_;
    for (const Tensor* t : inputs)
      if (!half && t && is_half_type(t->dtype())) half = t->dtype();
    if (!half) return inner_->run(inputs);

    // The temporaries stay out of the session's memory plan, so that the first tensor this step
    // takes from it is its first output (Kernel::may_overwrite).
    std::vector<Tensor> wide_outputs;
    {
      StorageSource::Scope temporaries(StorageSource::heap());
      std::vector<Tensor> wide(inputs.size());
      std::vector<const Tensor*> pointers(inputs.size());
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i]) {
          if (i < widened_.size() && widened_[i]) pointers[i] = &*widened_[i];
        } else if (is_half_type(inputs[i]->dtype())) {
          wide[i] = cast(*inputs[i], DType::f32);
          pointers[i] = &wide[i];
        } else {
          pointers[i] = inputs[i];
        }
      }
      wide_outputs = inner_->run(pointers);
    }
    std::vector<Tensor> outputs;
    for (Tensor& t : wide_outputs) outputs.push_back(t.dtype() == DType::f32 ? cast(t, *half) : std::move(t));
    return outputs;
  }

 private:
  std::unique_ptr<Kernel> inner_;
  bool takes_bf16_;
  std::optional<DType> constant_half_;
  std::vector<std::optional<Tensor>> widened_;  // half constants the inner kernel did not take, widened
};

}  // namespace

std::unique_ptr<Kernel> half_as_float(std::unique_ptr<Kernel> kernel, bool takes_bf16) {
  return std::make_unique<HalfAsFloat>(std::move(kernel), takes_bf16);
}

}  // namespace cpuinfer::engine

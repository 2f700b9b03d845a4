// cpuinfer::Session: runs a Model, one run at a time. Make one per thread, or per request in flight:
// sessions of one model run at the same time, sharing its weights; a session holds only what its
// runs need of their own (their intermediate tensors' memory, reused from run to run).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cpuinfer/model.h"
#include "cpuinfer/tensor.h"

namespace cpuinfer {

class Session {
 public:
  explicit Session(Model model);
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  const Model& model() const;

  // Inputs in the model's order. Throws cpuinfer::Error naming the input for a wrong count, element
  // type, rank or size, and naming the node when a kernel refuses its inputs. Every output.
  std::vector<Output> run(const std::vector<TensorView>& inputs);
  // Inputs by name (each of the model's exactly once); the outputs named in `outputs`, in that
  // order (empty: every output). Throws cpuinfer::Error for an unknown name.
  std::vector<Output> run(const std::vector<std::pair<std::string, TensorView>>& inputs,
                          const std::vector<std::string>& outputs = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cpuinfer

#include "loadgen/remote_requests.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench/workload.h"
#include "core/error.h"
#include "loadgen/query_stats.h"

namespace cpuinfer::loadgen {

RemoteRequests::RemoteRequests(const Workload& workload, std::string model, std::vector<ModelInput> inputs)
    : workload_(workload), model_(std::move(model)), inputs_(std::move(inputs)) {
  texts_ = inputs_.size() == 1 && inputs_[0].datatype == "BYTES";
  if (texts_) {
    if (!workload.text(0)) fail("the server's model '{}' takes texts (BYTES input '{}'), and workload {} has none", model_, inputs_[0].name, workload.name());
    return;
  }
  const std::vector<Tensor> given = workload.batch(workload.batch_of({0}));
  std::vector<std::string> theirs, ours;
  for (const ModelInput& in : inputs_) theirs.push_back(fmt::format("{} {}", in.name, in.datatype));
  for (const Tensor& t : given) ours.push_back(serve::datatype_name(t.dtype()));
  bool fits = given.size() == inputs_.size();
  for (std::size_t i = 0; fits && i < given.size(); ++i) fits = serve::datatype_name(given[i].dtype()) == inputs_[i].datatype;
  if (!fits)
    fail("the server's model '{}' takes inputs [{}], and workload {} gives [{}]", model_, fmt::join(theirs, ", "), workload.name(), fmt::join(ours, ", "));
}

serve::InferRequest RemoteRequests::request(const std::vector<std::size_t>& samples) const {
  serve::InferRequest r;
  if (texts_) {
    serve::WireTensor t{inputs_[0].name, "BYTES", {static_cast<std::int64_t>(samples.size())}, {}, {}};
    for (std::size_t s : samples) t.bytes.push_back(*workload_.text(s));
    r.inputs.push_back(std::move(t));
    return r;
  }
  std::vector<Tensor> tensors = workload_.batch(workload_.batch_of(samples));
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    serve::WireTensor t{inputs_[i].name, inputs_[i].datatype, tensors[i].shape(), std::move(tensors[i]), {}};
    r.inputs.push_back(std::move(t));
  }
  return r;
}

std::optional<std::string> RemoteRequests::check(const std::vector<std::size_t>& samples, const serve::InferResponse& response,
                                                 const ExpectedOutputs* expected) const {
  if (!expected) return std::nullopt;
  std::vector<Tensor> outputs;
  for (const serve::WireTensor& t : response.outputs) {
    if (t.is_bytes()) return wrong_answer(fmt::format("output '{}' is BYTES: nothing to compare", t.name));
    outputs.push_back(t.values);
  }
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (auto error = expected->check(samples[i], sample_outputs(outputs, i, samples.size()))) return error;
  return std::nullopt;
}

}  // namespace cpuinfer::loadgen

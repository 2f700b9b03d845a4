// Workload names -> constructors, and the default batch plan.
#include "bench/workload.h"

#include <fmt/ranges.h>

#include "bench/image_classification_workload.h"
#include "bench/text_classification_workload.h"
#include "core/error.h"

namespace cpuinfer {

std::vector<PlannedBatch> Workload::plan(std::size_t batch_size, const std::string&) const {
  std::vector<PlannedBatch> batches(size() / batch_size);
  for (std::size_t b = 0; b < batches.size(); ++b)
    for (std::size_t i = 0; i < batch_size; ++i) batches[b].samples.push_back(b * batch_size + i);
  return batches;
}

const std::vector<std::string>& workload_names() {
  static const std::vector<std::string> kNames = {"resnet101", "bert"};
  return kNames;
}

std::unique_ptr<Workload> make_workload(const WorkloadOptions& options, Progress& progress) {
  if (options.name == "resnet101") return make_image_classification_workload(options, progress);
  if (options.name == "bert") return make_text_classification_workload(options, progress);
  fail("unknown workload '{}': known workloads are {}", options.name, fmt::join(workload_names(), ", "));
}

}  // namespace cpuinfer

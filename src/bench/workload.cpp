// Workload names -> constructors.
#include "bench/workload.h"

#include <fmt/ranges.h>

#include "bench/image_classification_workload.h"
#include "core/error.h"

namespace cpuinfer {

const std::vector<std::string>& workload_names() {
  static const std::vector<std::string> kNames = {"resnet101"};
  return kNames;
}

std::unique_ptr<Workload> make_workload(const WorkloadOptions& options, Progress& progress) {
  if (options.name == "resnet101") return make_image_classification_workload(options, progress);
  fail("unknown workload '{}': known workloads are {}", options.name, fmt::join(workload_names(), ", "));
}

}  // namespace cpuinfer

// ResNet-101 on labelled image folders: decode, preprocess as torchvision does for the model's
// weights, keep every preprocessed sample in memory so that the timed loop only runs the model.
#pragma once

#include <memory>

#include "bench/workload.h"

namespace cpuinfer {

std::unique_ptr<Workload> make_image_classification_workload(const WorkloadOptions& options, Progress& progress);

}  // namespace cpuinfer

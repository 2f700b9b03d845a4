// BERT sequence classification on labelled texts: tokenise every sample once (WordPiece), then
// batch with a padding strategy — longest (pad each batch to its longest sequence: the study),
// max (pad to the maximum length), bucket (sort by length within a window of batches first).
#pragma once

#include <memory>

#include "bench/workload.h"

namespace cpuinfer {

std::unique_ptr<Workload> make_text_classification_workload(const WorkloadOptions& options, Progress& progress);

// Batches of `batch_size` from samples of the given token lengths (full batches only). Bucketing
// sorts by length within windows of kBucketWindow batches, so similar lengths share a batch while
// the order of the data set still matters at the scale of a window, as in a serving queue.
inline constexpr std::size_t kBucketWindow = 8;
std::vector<PlannedBatch> plan_padded_batches(const std::vector<std::size_t>& lengths, std::size_t batch_size,
                                              const std::string& strategy, std::size_t max_length);

}  // namespace cpuinfer

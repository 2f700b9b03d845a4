// A workload: an exported model plus the samples it is benchmarked on. For each batch size and
// variant (BERT's padding strategies; images have one variant) it plans the batches — which
// samples go together, padded to what length — and turns a planned batch into model inputs.
// The sweep times the model on those inputs; how samples become inputs is the workload's business.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/model_cache.h"
#include "core/tensor.h"

namespace cpuinfer {

class Progress;

struct WorkloadOptions {
  std::string name;                             // "resnet101", "bert"
  std::filesystem::path cache;                  // holds models/ and data/
  std::optional<std::filesystem::path> weights; // checkpoint; none = seeded random weights
  std::optional<std::filesystem::path> data;    // data set; none = the built-in set
  std::size_t samples = 0;                      // 0 = all
  std::uint64_t seed = 0;                       // for the subset and synthesized texts
  std::uint64_t weights_seed = 0;               // for random weights (names their cache folder)
  bool check_export = true;                     // false: reuse a cached export unchecked (ModelRequest::check_current)
  int threads = 1;                              // for preparing samples
  // Text workloads only (an image workload refuses them):
  std::vector<std::string> padding;             // strategies; empty = "longest", the study's
  std::string text_lengths;                     // "" / "sentences": as loaded; "imdb": review-length texts
  std::size_t max_length = 0;                   // tokens incl. [CLS]/[SEP]; 0 = the model's maximum
};

struct PlannedBatch {
  std::vector<std::size_t> samples;  // sample indices, in batch order
  std::size_t length = 0;            // sequence length the batch is padded to (0: not a sequence model)
};

class Workload {
 public:
  virtual ~Workload() = default;

  virtual std::string name() const = 0;
  virtual const ExportedModel& model() const = 0;
  // Data set, sample count, preprocessing: recorded with the results.
  virtual nlohmann::ordered_json description() const = 0;
  virtual std::string dataset() const = 0;
  virtual std::size_t size() const = 0;
  // Whether samples have labels (classification: accuracy and top-1 agreement on output 0).
  // Without, rows compare every output with the reference's, value by value.
  virtual bool labelled() const { return true; }
  virtual int label(std::size_t sample) const = 0;
  // Whether output 0 holds class scores, whose argmax (top-1) is compared with the reference's.
  virtual bool classifies() const { return labelled(); }
  // The largest batch the workload can form (a model without a batch dimension: 1).
  virtual std::size_t max_batch_size() const { return size(); }
  // Rows of the model's own batch in one sample: 1, except for a model whose batch is fixed (its
  // first dimension static, e.g. 4x3x224x224), where a sample is one whole set of inputs and its
  // batch size is that dimension. Its outputs are compared whole.
  virtual std::size_t rows_per_sample() const { return 1; }

  // The variants each batch size is run with (padding strategies); "" when there is one way only.
  virtual std::vector<std::string> variants() const { return {""}; }
  // The batches of one pass over the samples: full batches only, the last incomplete one dropped.
  virtual std::vector<PlannedBatch> plan(std::size_t batch_size, const std::string& variant) const;
  // Columns describing a plan (e.g. real tokens per sample, padding fraction), added to its row.
  virtual nlohmann::ordered_json plan_stats(const std::vector<PlannedBatch>&) const { return nlohmann::ordered_json::object(); }
  // Model inputs for a planned batch, in the model's input order.
  virtual std::vector<Tensor> batch(const PlannedBatch& batch) const = 0;
  // A batch of any samples, as they come (a load generator's queries): sequences padded to the
  // longest among them.
  virtual PlannedBatch batch_of(std::vector<std::size_t> samples) const { return {std::move(samples), 0}; }
  // A text sample's text, for a server that tokenizes (nullopt: not a text workload).
  virtual std::optional<std::string> text(std::size_t /*sample*/) const { return std::nullopt; }
};

// Names accepted by make_workload.
const std::vector<std::string>& workload_names();

// Prepares the model (exporting it if needed) and the samples. Throws cpuinfer::Error.
std::unique_ptr<Workload> make_workload(const WorkloadOptions& options, Progress& progress);

}  // namespace cpuinfer

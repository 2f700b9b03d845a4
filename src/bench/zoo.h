// The model zoo: a folder of ONNX models (tools/export_zoo.py writes them with a zoo.json
// manifest) that `cpuinfer zoo` runs on `native` and ONNX Runtime, each through the benchmark
// sweep, and sums up in one row per model: the native/ORT time ratio at batch 1, agreement at
// every batch size, and a status.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace cpuinfer {

struct ZooModel {
  std::string name;               // the file's stem
  std::filesystem::path file;
  std::string kind;               // classifier, segmentation, text, or "" when unknown
  nlohmann::ordered_json inputs;  // as the manifest gives them: [{name, dtype, shape}], or null
  std::string export_error;       // the exporter's error when it could not export the model
};

// The models of `folder`: from its zoo.json when there is one, else every .onnx file (sorted).
// Throws cpuinfer::Error naming the folder or the manifest's flaw.
std::vector<ZooModel> read_zoo(const std::filesystem::path& folder);

// Sizes for a model's symbolic dimensions other than its batch: each gets `length` (the text
// models' sequence).
std::map<std::string, Shape> zoo_shapes(const ZooModel& model, std::int64_t length);

// CSV columns of the summary.
const std::vector<std::string>& zoo_columns();

// The summary row of one model from its sweep rows (backend `native` against `reference`): a
// status of "ok" needs every row to have run, top-1 equal on every sample for a classifier, and
// the largest output difference within `max_rel_diff` of the reference's largest magnitude.
nlohmann::ordered_json zoo_row(const ZooModel& model, const std::vector<nlohmann::ordered_json>& rows,
                               const std::string& reference, double max_rel_diff);

// A fixed-width table of summary rows, for people.
std::string format_zoo_table(const std::vector<nlohmann::ordered_json>& rows);

}  // namespace cpuinfer

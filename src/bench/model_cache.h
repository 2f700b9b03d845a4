// The model cache: one folder per (workload, weights), made by tools/export_models.py and reused
// by every later run. meta.json in it says which files hold the model, which weights it has, and
// how inputs are preprocessed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "backends/backend.h"

namespace cpuinfer {

struct ExportedModel {
  std::filesystem::path folder;
  ModelFiles files;
  nlohmann::json meta;
  std::map<std::string, std::string> export_errors;  // format -> first error line, for formats that failed
  std::string weights;  // the checkpoint's file name, or "random weights"
  bool random_weights = true;
};

struct ModelRequest {
  std::string workload;                           // "resnet101"
  std::filesystem::path cache;                    // the model cache root
  std::optional<std::filesystem::path> weights;   // checkpoint; none = seeded random weights
  std::uint64_t seed = 0;
  // Images to calibrate int8 quantization with when the export runs (none: the tool's default).
  std::optional<std::filesystem::path> calibration_images;
};

// The cache folder a request maps to (whether or not it exists yet).
std::filesystem::path model_folder(const ModelRequest& request);

// Returns the cached export, running the export tooling first if the cache lacks it.
// Throws cpuinfer::Error (naming the file) if the export fails or meta.json is damaged; model files
// are not checked here, so that a missing one fails only the backends that need it.
ExportedModel prepare_model(const ModelRequest& request);

}  // namespace cpuinfer

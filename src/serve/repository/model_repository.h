// The model repository `cpuinfer serve` loads (the layout Triton and KServe use):
//   <repo>/<model>/config.json
//   <repo>/<model>/<version>/model.onnx     versions are positive integers; the highest is served
//                                           when a request names none
// config.json (every field but "backend" optional):
//   {"backend": "native",             native | native-int8 | native-bf16 | ort
//    "instances": 0,                  engine sessions running requests at once; 0: as many as the
//                                     cores allow at "threads" each
//    "threads": 1,                    intra-op threads per instance
//    "max_batch_size": 8,             requests the batcher joins into one run (1: no batching)
//    "max_queue_delay_us": 1000,      how long the oldest queued request may wait for others
//    "max_queue_size": 64,            queued requests at most; beyond, 503 with Retry-After
//    "default_timeout_ms": 0,         a request's deadline when it gives none (0: none)
//    "pack_tokens": true,             native: a text batch runs on its real tokens, not the padding
//    "text": {"vocab": "vocab.txt",   a text model: a BYTES input "text", tokenized on the server
//             "max_length": 512,      with this WordPiece vocabulary (relative to the model's
//             "lowercase": true}}     folder)
// Every model needs its config.json: a folder with model.onnx files alone is refused. A bad
// config is one cpuinfer::Error naming the file and the field, before the server opens its ports.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cpuinfer::serve {

struct TextConfig {
  std::filesystem::path vocab;  // absolute
  std::size_t max_length = 512;
  bool lowercase = true;
};

struct ModelConfig {
  std::string backend;
  int instances = 0;
  int threads = 1;
  int max_batch_size = 8;
  long max_queue_delay_us = 1000;
  int max_queue_size = 64;
  long default_timeout_ms = 0;
  bool pack_tokens = true;
  std::optional<TextConfig> text;
};

struct ModelVersion {
  std::string version;          // "1", "2", ...
  std::filesystem::path file;   // <repo>/<model>/<version>/model.onnx
};

struct RepositoryModel {
  std::string name;
  ModelConfig config;
  std::vector<ModelVersion> versions;  // ascending; the last is the default
};

// The backends a config may name.
const std::vector<std::string>& serving_backends();

// Reads <folder>/config.json (`folder` names the model in errors).
ModelConfig read_model_config(const std::filesystem::path& folder);

// Every model of the repository, by name. Throws cpuinfer::Error naming the folder or file at the
// first problem: no such folder, a model without config.json or versions, a version folder
// without model.onnx, a bad config.
std::vector<RepositoryModel> read_model_repository(const std::filesystem::path& repository);

}  // namespace cpuinfer::serve

// Any ONNX model (`cpuinfer bench --model M.onnx`), as benchmark_app and onnxruntime_perf_test
// take one: inputs generated from the model's declared types and shapes, or read from .npy files.
//
// Shapes: a static dimension is used as declared; `--shape name=1x3x224x224` gives an input's
// whole shape, `--shape sequence=128` a symbolic dimension's size wherever it appears; an input given by `--input name=file.npy` has the file's shape and data. A symbolic
// leading dimension left open is the batch dimension: each sample is one slice along it, filled
// with seeded random values of its own, so every batch size sees the same samples and outputs are
// compared per sample. Any other open symbolic dimension is an error asking for --shape. A model
// without a batch dimension runs at batch size 1 only.
//
// Generated values: floats uniform in [-1, 1), integers 0 or 1 (valid as token ids, masks and
// segment ids), booleans either. There are no labels: rows have agreement, not accuracy.
#pragma once

#include <filesystem>
#include <map>
#include <memory>

#include "bench/workload.h"

namespace cpuinfer {

struct ModelWorkloadOptions {
  std::filesystem::path model;
  std::map<std::string, Shape> shapes;                    // --shape
  std::map<std::string, std::filesystem::path> inputs;    // --input
  std::size_t samples = 16;
  std::uint64_t seed = 0;
  bool classifier = false;  // output 0 holds class scores: compare top-1 with the reference
};

std::unique_ptr<Workload> make_onnx_model_workload(const ModelWorkloadOptions& options);

// The options the command line gives: --model, each --shape ("input=1x3x224x224" or
// "sequence=128") and --input ("name=file.npy"); throws naming a malformed value.
ModelWorkloadOptions model_options_from_flags(const std::string& model, const std::vector<std::string>& shapes,
                                              const std::vector<std::string>& inputs);

}  // namespace cpuinfer

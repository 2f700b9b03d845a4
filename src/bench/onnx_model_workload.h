// Any ONNX model (`cpuinfer bench --model M.onnx`), as benchmark_app and onnxruntime_perf_test
// take one: inputs generated from the model's declared types and shapes, or read from .npy files,
// optionally with labels.
//
// Shapes: a static dimension is used as declared; `--shape name=1x3x224x224` gives an input's
// whole shape, `--shape sequence=128` a symbolic dimension's size wherever it appears. A symbolic
// leading dimension left open is the batch dimension: each sample is one slice along it, so every
// batch size sees the same samples and outputs are compared per sample. Any other open symbolic
// dimension is an error asking for --shape, unless an --input file gives its size. A model without
// a batch dimension runs at batch size 1 only.
//
// Inputs from files (`--input name=file.npy`): for an input with a batch dimension, the file's first
// dimension is the samples (a data set: 544 images are [544, 1, 8, 8]) and its other dimensions must
// match the model's; every such file must hold the same number of samples. An input without a batch
// dimension takes the file as it is, one fixed tensor for every batch.
//
// Generated values: floats uniform in [-1, 1), integers 0 or 1 (valid as token ids, masks and
// segment ids), booleans either; seeded per sample.
//
// Labels (`--labels file.npy`, int64 or int32, one class per sample of the --input files) make the
// workload labelled: output 0 holds class scores, rows get accuracy and top-1 agreement. Without
// them there is no accuracy, only agreement with the reference.
//
// Samples: `samples` of the files' samples, 0 = all of them; labelled, a seeded subset spread over
// the classes (as the image and text workloads take theirs), unlabelled, the first ones. With no
// input from a file, `samples` generated ones (0 = 16).
//
// The workload is named after the file's stem, or after its folder for a file named model.onnx
// (the exports that keep one model per folder), so results of .../digits/model.onnx are digits-*.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "bench/workload.h"

namespace cpuinfer {

struct ModelWorkloadOptions {
  std::filesystem::path model;
  std::map<std::string, Shape> shapes;                    // --shape
  std::map<std::string, std::filesystem::path> inputs;    // --input
  std::optional<std::filesystem::path> labels;            // --labels
  std::size_t samples = 16;  // 0: every sample of the --input files, or 16 generated ones
  std::uint64_t seed = 0;
  bool classifier = false;  // output 0 holds class scores: compare top-1 with the reference (implied by labels)
};

std::unique_ptr<Workload> make_onnx_model_workload(const ModelWorkloadOptions& options);

// The options the command line gives: --model, each --shape ("input=1x3x224x224" or
// "sequence=128") and --input ("name=file.npy"); throws naming a malformed value.
ModelWorkloadOptions model_options_from_flags(const std::string& model, const std::vector<std::string>& shapes,
                                              const std::vector<std::string>& inputs);

}  // namespace cpuinfer

// Any ONNX model (`cpuinfer bench --model M.onnx`), as benchmark_app and onnxruntime_perf_test
// take one: inputs generated from the model's declared types and shapes, or read from .npy files,
// optionally with labels.
//
// Shapes: a static dimension is used as declared; `--shape name=1x3x224x224` gives an input's
// whole shape (and with it the size of each symbolic dimension it has, for the other inputs too),
// `--shape sequence=128` a symbolic dimension's size wherever it appears; sizes are at least 1. Any
// other open symbolic dimension is an error asking for --shape, unless an --input file gives its
// size.
//
// Batch: a symbolic leading dimension left open is the batch dimension: each sample is one slice
// along it, so every batch size sees the same samples and outputs are compared per sample; inputs
// without one (a fixed tensor beside batched inputs) are the same for every batch. A model whose
// inputs all have a fixed first dimension (static, or given by --shape: e.g. 4x3x224x224) has a
// fixed batch: a sample is one whole set of inputs, every input its own per sample, a batch holds
// one sample (max_batch_size() 1), and rows_per_sample() is input 0's first dimension (1 for a
// scalar), which the sweep reports as the batch size; outputs are compared whole.
//
// Inputs from files: `--input name=file.npy`, for an input with a batch dimension, is a data set:
// the file's first dimension is the samples (544 images are [544, 1, 8, 8]) and its other dimensions
// must match the model's. For a fixed-batch model the file is one sample, the whole input. Beside
// batched inputs, an input without a batch dimension takes the file as one tensor for every batch.
// `--input name=FOLDER` gives one sample per .npy file of the folder (other files are ignored),
// sorted by file name: with a batch dimension, each file holds one sample, the model's shape with
// batch 1 (1x3x224x224) or without the batch dimension (3x224x224); for a fixed-batch model, each
// holds the whole input. Every file is read and checked (dtype, shape against the model and the
// other files, symbolic sizes) when the workload is made, before any backend loads, and every
// --input must give the same number of samples.
//
// Generated values: floats uniform in [-1, 1), uint8 over its range, other integers 0 or 1 (valid
// as token ids, masks and segment ids), booleans either; seeded per input and per sample (an input
// without a batch dimension beside batched ones: per input).
//
// Labels (`--labels file.npy`, int64 or int32, one class per sample of the --input files) make the
// workload labelled: output 0 holds class scores, rows get accuracy and top-1 agreement. Without
// them there is no accuracy, only agreement with the reference. A fixed batch of more than one row
// takes no labels and no top-1 (its outputs are compared whole).
//
// Samples: `samples` of the files' samples, 0 = all of them; labelled, a seeded subset spread over
// the classes (as the image and text workloads take theirs), unlabelled, the first ones. With no
// input from a file, `samples` generated ones (0 = 16).
//
// The model file is checked first: an empty file, one that is not an ONNX model, a model without a
// graph or without inputs to feed is refused with one line naming it.
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
  // Samples of the run. With --input files (or folders): that many of theirs, 0 = all. With every
  // input generated: that many generated samples, 0 = 16 (there is no "all" of generated data).
  std::size_t samples = 16;
  std::uint64_t seed = 0;
  bool classifier = false;  // output 0 holds class scores: compare top-1 with the reference (implied by labels)
};

std::unique_ptr<Workload> make_onnx_model_workload(const ModelWorkloadOptions& options);

// The options the command line gives: --model, each --shape ("input=1x3x224x224" or
// "sequence=128", every size at least 1) and --input ("name=file.npy" or "name=FOLDER"); throws
// naming a malformed value.
ModelWorkloadOptions model_options_from_flags(const std::string& model, const std::vector<std::string>& shapes,
                                              const std::vector<std::string>& inputs);

}  // namespace cpuinfer

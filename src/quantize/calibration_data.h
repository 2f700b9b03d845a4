// Calibration data against a model's declared inputs: the checks made before anything runs (element
// type, rank, static dimensions, the same size for a symbol everywhere, equal sample counts), with
// one-line errors naming the input, and the cutting of whole sample sets into batches.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/graph.h"

namespace cpuinfer::quant {

// `tensors` hold one tensor per declared input, in declaration order, samples along the first
// dimension. `what` starts every message ("calibration data", "calibration batch 3"). With
// `whole_sets`, the tensors are whole sample sets to be cut into batches: a first dimension the
// model declares static (d) then takes any whole number of batches of d samples. Returns the
// sample count; throws cpuinfer::Error, e.g. "calibration data for input 'input' has shape
// 10x3x32x32, the model declares batch x 3 x 224 x 224".
std::size_t check_calibration_inputs(const std::vector<engine::TensorSpec>& inputs, std::span<const Tensor> tensors,
                                     const std::string& what, bool whole_sets);

// Cuts checked whole sample sets into batches of `batch_size` samples, the last one smaller if
// need be; a model whose first dimension is static (d) gets batches of d.
std::vector<std::vector<Tensor>> split_into_batches(const std::vector<engine::TensorSpec>& inputs,
                                                    const std::vector<Tensor>& samples, std::size_t batch_size);

// The --calibration flags of `cpuinfer quantize` and `cpuinfer bench`: "name=FILE.npy" per input,
// or "FILE.npy" alone for a model of one input; each file holds samples along the first dimension.
// A folder instead of a file: its .npy files in file-name order, each samples along the first
// dimension (the input's rank) or one sample (one dimension less), concatenated.
// Reads, checks (check_calibration_inputs) and batches them; `samples`, if given, gets the count.
std::vector<std::vector<Tensor>> read_calibration(const std::vector<engine::TensorSpec>& inputs, const std::vector<std::string>& flags,
                                                 std::size_t batch_size, std::size_t* samples = nullptr);

}  // namespace cpuinfer::quant

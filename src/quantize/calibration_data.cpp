// Checks dimension by dimension, the first dimension (the samples) apart; batches are copies of
// consecutive samples.
#include "quantize/calibration_data.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "data/npy_file.h"

namespace cpuinfer::quant {

namespace fs = std::filesystem;

namespace {

// The static first dimension the model declares for its inputs, or 0 when it is open.
std::int64_t static_batch(const std::vector<engine::TensorSpec>& inputs) {
  for (const auto& spec : inputs)
    if (spec.shape && !spec.shape->empty() && spec.shape->front().is_static()) return spec.shape->front().value;
  return 0;
}

std::string input_names(const std::vector<engine::TensorSpec>& inputs) {
  std::string names;
  for (const auto& spec : inputs) names += (names.empty() ? "" : ", ") + spec.name;
  return names;
}

}  // namespace

std::size_t check_calibration_inputs(const std::vector<engine::TensorSpec>& inputs, std::span<const Tensor> tensors,
                                     const std::string& what, bool whole_sets) {
  if (tensors.size() != inputs.size())
    fail("{} holds {} tensors, the model has {} inputs ({})", what, tensors.size(), inputs.size(), input_names(inputs));
  std::map<std::string, std::pair<std::int64_t, std::string>> bound;  // symbol -> size, input that bound it
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const engine::TensorSpec& spec = inputs[i];
    const Tensor& t = tensors[i];
    if (spec.dtype && t.dtype() != *spec.dtype)
      fail("{} for input '{}' is {}, the model declares {}", what, spec.name, dtype_name(t.dtype()), dtype_name(*spec.dtype));
    if (t.rank() == 0)
      fail("{} for input '{}' is a scalar: samples go along a first dimension", what, spec.name);
    if (!spec.shape) continue;
    const auto& dims = *spec.shape;
    const auto mismatch = [&](const std::string& note) {
      fail("{} for input '{}' has shape {}, the model declares {}{}", what, spec.name, shape_string(t.shape()),
           engine::dims_string(dims), note);
    };
    if (dims.size() != t.rank()) mismatch("");
    for (std::size_t d = 0; d < dims.size(); ++d) {
      if (d == 0 && whole_sets) {
        if (dims[0].is_static() && (dims[0].value == 0 || t.dim(0) % dims[0].value != 0))
          mismatch(fmt::format(" (whole batches of {} samples)", dims[0].value));
        continue;  // the sample count, compared across inputs below
      }
      if (dims[d].is_static() && dims[d].value != t.dim(d)) mismatch("");
      if (!dims[d].is_static() && !dims[d].symbol.empty()) {
        auto [it, fresh] = bound.try_emplace(dims[d].symbol, t.dim(d), spec.name);
        if (!fresh && it->second.first != t.dim(d))
          fail("{} for input '{}' has {} = {}, for input '{}' {} = {}", what, spec.name, dims[d].symbol, t.dim(d),
               it->second.second, dims[d].symbol, it->second.first);
      }
    }
  }
  if (tensors.empty()) fail("{}: the model has no inputs to calibrate with", what);
  for (std::size_t i = 1; i < tensors.size(); ++i)
    if (tensors[i].dim(0) != tensors[0].dim(0))
      fail("{} for input '{}' has {} samples, for input '{}' {}", what, inputs[i].name, tensors[i].dim(0), inputs[0].name,
           tensors[0].dim(0));
  if (tensors[0].dim(0) == 0) fail("{} for input '{}' has no samples", what, inputs[0].name);
  return static_cast<std::size_t>(tensors[0].dim(0));
}

std::vector<std::vector<Tensor>> split_into_batches(const std::vector<engine::TensorSpec>& inputs,
                                                    const std::vector<Tensor>& samples, std::size_t batch_size) {
  if (samples.empty() || batch_size == 0) return {};
  if (const std::int64_t fixed = static_batch(inputs); fixed > 0) batch_size = static_cast<std::size_t>(fixed);
  const auto count = static_cast<std::size_t>(samples[0].dim(0));
  std::vector<std::vector<Tensor>> batches;
  for (std::size_t start = 0; start < count; start += batch_size) {
    const std::size_t n = std::min(batch_size, count - start);
    std::vector<Tensor> batch;
    for (const Tensor& t : samples) {
      Shape shape = t.shape();
      shape[0] = static_cast<std::int64_t>(n);
      Tensor slice = Tensor::uninitialized(t.dtype(), shape);
      const std::size_t sample_bytes = t.nbytes() / count;
      std::memcpy(slice.data(), static_cast<const std::byte*>(t.data()) + start * sample_bytes, n * sample_bytes);
      batch.push_back(std::move(slice));
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

namespace {

std::string names_of(const std::vector<engine::TensorSpec>& inputs) {
  std::string names;
  for (const auto& spec : inputs) names += (names.empty() ? "" : ", ") + spec.name;
  return names;
}

// The samples of a folder's .npy files, concatenated along the first dimension (read_calibration).
Tensor read_npy_folder(const fs::path& folder, const engine::TensorSpec& spec) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".npy" && it->is_regular_file()) files.push_back(it->path());
  if (ec) fail("--calibration {}: cannot list the folder: {}", folder.string(), ec.message());
  if (files.empty()) fail("--calibration {}: the folder holds no .npy files", folder.string());
  std::sort(files.begin(), files.end());
  std::vector<Tensor> parts;
  std::int64_t samples = 0;
  for (const fs::path& file : files) {
    Tensor t = read_npy(file);
    if (spec.shape && t.rank() + 1 == spec.shape->size()) {  // one sample without the batch dimension
      Shape one = t.shape();
      one.insert(one.begin(), 1);
      t = t.reshaped(one);
    }
    if (t.rank() == 0) fail("--calibration {}: a scalar, not samples", file.string());
    if (!parts.empty() && (t.dtype() != parts[0].dtype() || !std::equal(t.shape().begin() + 1, t.shape().end(),
                                                                          parts[0].shape().begin() + 1, parts[0].shape().end())))
      fail("--calibration {}: {} {} does not stack with {} {}", file.string(), dtype_name(t.dtype()), shape_string(t.shape()),
           files.front().filename().string(), shape_string(parts[0].shape()));
    samples += t.dim(0);
    parts.push_back(std::move(t));
  }
  Shape shape = parts[0].shape();
  shape[0] = samples;
  Tensor all = Tensor::uninitialized(parts[0].dtype(), shape);
  auto* dst = static_cast<std::byte*>(all.data());
  for (const Tensor& t : parts) {
    if (t.nbytes()) std::memcpy(dst, t.data(), t.nbytes());
    dst += t.nbytes();
  }
  return all;
}

// "name=FILE.npy", or "FILE.npy" alone for a model of one input: input name -> file.
std::map<std::string, fs::path> calibration_files(const std::vector<std::string>& flags,
                                                  const std::vector<engine::TensorSpec>& inputs) {
  std::map<std::string, fs::path> files;
  for (const std::string& flag : flags) {
    std::string name;
    fs::path file;
    const auto eq = flag.find('=');
    const bool named = eq != std::string::npos &&
                       std::ranges::any_of(inputs, [&](const auto& spec) { return spec.name == flag.substr(0, eq); });
    if (named) {
      name = flag.substr(0, eq);
      file = flag.substr(eq + 1);
    } else if (inputs.size() == 1 && (eq == std::string::npos || fs::exists(flag))) {
      name = inputs[0].name;
      file = flag;
    } else if (eq != std::string::npos) {
      fail("--calibration {}: the model has no input '{}' (its inputs: {})", flag, flag.substr(0, eq), names_of(inputs));
    } else {
      fail("--calibration {}: the model has {} inputs ({}); give name=FILE.npy for each", flag, inputs.size(), names_of(inputs));
    }
    if (!files.emplace(name, file).second) fail("--calibration {}: input '{}' is given twice", flag, name);
  }
  return files;
}

}  // namespace

std::vector<std::vector<Tensor>> read_calibration(const std::vector<engine::TensorSpec>& inputs, const std::vector<std::string>& flags,
                                                 std::size_t batch_size, std::size_t* samples) {
  const auto files = calibration_files(flags, inputs);
  std::vector<Tensor> data;
  for (const auto& spec : inputs) {
    auto it = files.find(spec.name);
    if (it == files.end()) fail("no calibration data for input '{}' (give --calibration {}=FILE.npy)", spec.name, spec.name);
    data.push_back(fs::is_directory(it->second) ? read_npy_folder(it->second, spec) : read_npy(it->second));
  }
  const std::size_t count = check_calibration_inputs(inputs, data, "calibration data", true);
  if (samples) *samples = count;
  return split_into_batches(inputs, data, batch_size);
}

}  // namespace cpuinfer::quant

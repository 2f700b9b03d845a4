// The generic ONNX model workload: input plans from the declared signature and the flags, samples
// generated or read from .npy files, and labels if given.
#include "bench/onnx_model_workload.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <numeric>
#include <random>

#include "core/error.h"
#include "data/npy_file.h"
#include "data/sampling.h"
#include "engine/onnx/import.h"

namespace cpuinfer {

namespace {

// How one input is made.
struct InputPlan {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;                  // for a batched input, dimension 0 is the batch size (stored as 1)
  bool batched = false;         // dimension 0 is the batch dimension
  std::optional<Tensor> given;  // from --input: the whole file; batched, one sample per slice along dimension 0
  std::string source;           // for the description
};

// A symbolic dimension's size as an --input file gave it, and which file, for errors naming both.
struct Binding {
  std::int64_t size = 0;
  std::string source;
};

// Random values every model accepts: floats uniform in [-1, 1), uint8 (an image) uniform over its
// range, other integers 0 or 1 (valid as an index, a token id or a flag).
void fill_random(Tensor& t, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  visit_dtype<AllTypes>(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    for (T& v : t.values<T>()) {
      if constexpr (std::is_floating_point_v<T> || is_half<T>) v = convert<T>(uniform(rng));
      else if constexpr (std::is_same_v<T, std::uint8_t>) v = static_cast<T>(rng() & 0xff);
      else v = convert<T>(rng() & 1);
    }
  });
}

class OnnxModelWorkload final : public Workload {
 public:
  explicit OnnxModelWorkload(const ModelWorkloadOptions& o) : options_(o) {
    if (!std::filesystem::is_regular_file(o.model)) fail("--model {}: no such file", o.model.string());
    const engine::Signature signature = engine::read_onnx_signature(o.model);
    // Exports that keep one model per folder name the file model.onnx: the folder names the model.
    name_ = o.model.stem() == "model" && o.model.has_parent_path() ? o.model.parent_path().filename().string()
                                                                  : o.model.stem().string();
    if (name_.empty() || name_ == "." || name_ == "..") name_ = o.model.stem().string();
    model_.folder = o.model.parent_path();
    model_.files.by_format["onnx"] = o.model;
    model_.weights = "as stored in " + o.model.filename().string();
    model_.random_weights = false;
    for (const auto& [name, shape] : o.shapes) check_shape_flag(signature, name, shape);
    for (const auto& [name, file] : o.inputs) {
      check_known(signature, name, "--input");
      if (o.shapes.count(name)) fail("--input {}={}: --shape {}=... gives the same input", name, file.string(), name);
    }
    // Files first: they fix the sample count and may give symbolic dimensions the generated inputs share.
    plans_.resize(signature.inputs.size());
    for (std::size_t k = 0; k < plans_.size(); ++k)
      if (o.inputs.count(signature.inputs[k].name)) plans_[k] = plan_given(signature.inputs[k]);
    for (std::size_t k = 0; k < plans_.size(); ++k)
      if (!o.inputs.count(signature.inputs[k].name)) plans_[k] = plan_generated(signature.inputs[k]);
    batched_ = std::any_of(plans_.begin(), plans_.end(), [](const InputPlan& p) { return p.batched; });
    choose_samples();
  }

  std::string name() const override { return name_; }
  const ExportedModel& model() const override { return model_; }
  nlohmann::ordered_json description() const override {
    nlohmann::ordered_json inputs = nlohmann::ordered_json::array();
    for (const auto& p : plans_)
      inputs.push_back({{"name", p.name}, {"dtype", dtype_name(p.dtype)},
                        {"shape", p.batched ? "batch x " + shape_string(Shape(p.shape.begin() + 1, p.shape.end())) : shape_string(p.shape)},
                        {"source", p.source}});
    nlohmann::ordered_json d = {{"model", options_.model.string()}, {"inputs", inputs}, {"samples", size()}, {"seed", options_.seed}};
    if (!sample_file_.empty()) {
      d["file_samples"] = file_samples_;
      d["selection"] = size() == file_samples_ && !labelled() ? "all, in file order"
                       : labelled() ? "seeded subset spread over the classes (data/sampling.h)"
                                    : "the first samples, in file order";
    }
    d["labels"] = options_.labels ? nlohmann::ordered_json(options_.labels->string()) : nullptr;
    return d;
  }
  std::string dataset() const override {
    if (sample_file_.empty()) return fmt::format("generated inputs (seed {})", options_.seed);
    std::vector<std::string> files;
    bool generated = false;
    for (const auto& p : plans_) {
      if (p.given) files.push_back(p.name + "=" + p.source);
      generated = generated || !p.given;
    }
    return fmt::format("{} ({} of {} samples){}{}", fmt::join(files, ", "), size(), file_samples_,
                       options_.labels ? ", labels " + options_.labels->string() : "",
                       generated ? fmt::format(", other inputs generated (seed {})", options_.seed) : "");
  }
  std::size_t size() const override { return rows_.size(); }
  bool labelled() const override { return !labels_.empty(); }
  bool classifies() const override { return options_.classifier || labelled(); }
  int label(std::size_t sample) const override { return labelled() ? labels_.at(rows_.at(sample)) : -1; }
  std::size_t max_batch_size() const override { return batched_ ? size() : 1; }

  std::vector<Tensor> batch(const PlannedBatch& batch) const override {
    std::vector<Tensor> inputs;
    for (std::size_t k = 0; k < plans_.size(); ++k) {
      const InputPlan& p = plans_[k];
      if (!p.batched) {
        if (p.given) {
          inputs.push_back(*p.given);
          continue;
        }
        Tensor t(p.dtype, p.shape);
        fill_random(t, options_.seed * 1000003 + k);
        inputs.push_back(std::move(t));
        continue;
      }
      // One slice per sample: the file's row of the sample, or values seeded by the sample, so
      // batching does not change a sample's data.
      Shape shape = p.shape;
      shape[0] = static_cast<std::int64_t>(batch.samples.size());
      Tensor t = Tensor::uninitialized(p.dtype, shape);
      const std::size_t slice_bytes = t.nbytes() / batch.samples.size();
      auto* dst = static_cast<std::byte*>(t.data());
      for (std::size_t i = 0; i < batch.samples.size(); ++i) {
        if (p.given) {
          const auto* src = static_cast<const std::byte*>(p.given->data());
          std::memcpy(dst + i * slice_bytes, src + rows_.at(batch.samples[i]) * slice_bytes, slice_bytes);
          continue;
        }
        Tensor slice(p.dtype, p.shape);
        fill_random(slice, (options_.seed * 1000003 + k) * 1000003 + batch.samples[i]);
        std::memcpy(dst + i * slice_bytes, slice.data(), slice_bytes);
      }
      inputs.push_back(std::move(t));
    }
    return inputs;
  }

 private:
  // --shape names an input (its whole shape) or a symbolic dimension (one size, wherever it appears).
  static void check_shape_flag(const engine::Signature& s, const std::string& name, const Shape& shape) {
    for (const auto& in : s.inputs)
      if (in.shape)
        for (const auto& d : *in.shape)
          if (!d.is_static() && d.symbol == name) {
            if (shape.size() != 1) fail("--shape {}={}: '{}' is a dimension, give one size", name, shape_string(shape), name);
            return;
          }
    check_known(s, name, "--shape");
  }

  static void check_known(const engine::Signature& s, const std::string& name, const char* flag) {
    std::vector<std::string> names;
    for (const auto& in : s.inputs) {
      if (in.name == name) return;
      names.push_back(in.name);
    }
    fail("{} {}: the model has no input '{}' (its inputs: {})", flag, name, name, fmt::join(names, ", "));
  }

  // The size --shape gives a symbolic dimension, if it does.
  std::optional<std::int64_t> shape_flag_size(const engine::Dim& dim) const {
    if (dim.symbol.empty()) return std::nullopt;
    const auto it = options_.shapes.find(dim.symbol);
    if (it == options_.shapes.end() || it->second.size() != 1) return std::nullopt;
    return it->second[0];
  }

  // A symbolic dimension of an --input file: it must agree with --shape and with the other files.
  void bind(const engine::Dim& dim, std::int64_t size, const std::string& source) {
    if (dim.symbol.empty()) return;  // unnamed: nothing to agree with
    if (const auto given = shape_flag_size(dim)) {
      if (*given != size) fail("{} has {} = {}, --shape {}={}", source, dim.symbol, size, dim.symbol, *given);
      return;
    }
    const auto [it, inserted] = bindings_.emplace(dim.symbol, Binding{size, source});
    if (!inserted && it->second.size != size)
      fail("{} has {} = {}, {} has {} = {}", source, dim.symbol, size, it->second.source, dim.symbol, it->second.size);
  }

  // An input from --input name=file.npy. With the batch dimension open, the file's first dimension
  // counts samples; any other dimension must be what the model declares.
  InputPlan plan_given(const engine::TensorSpec& spec) {
    InputPlan p;
    p.name = spec.name;
    if (!spec.dtype) fail("model input '{}' declares no element type", spec.name);
    p.dtype = *spec.dtype;
    const std::filesystem::path& file = options_.inputs.at(spec.name);
    const std::string flag = fmt::format("--input {}={}", spec.name, file.string());
    Tensor t = read_npy(file);
    if (t.dtype() != p.dtype)
      fail("{}: holds {}, the model's input is {}", flag, dtype_name(t.dtype()), dtype_name(p.dtype));
    p.source = file.string();
    if (spec.shape) {
      const auto& dims = *spec.shape;
      p.batched = !dims.empty() && !dims[0].is_static() && !shape_flag_size(dims[0]);
      const auto mismatch = [&] {
        fail("{} has shape {}, the model declares {}", flag, shape_string(t.shape()), engine::dims_string(dims));
      };
      if (t.rank() != dims.size()) mismatch();
      for (std::size_t d = p.batched ? 1 : 0; d < dims.size(); ++d) {
        if (dims[d].is_static()) {
          if (dims[d].value != t.dim(d)) mismatch();
        } else {
          bind(dims[d], t.dim(d), flag);
        }
      }
    }
    p.shape = t.shape();
    if (p.batched) {
      const auto samples = static_cast<std::size_t>(t.dim(0));
      if (samples == 0) fail("{} holds no samples (its first dimension, the batch, is 0)", flag);
      if (sample_file_.empty()) {
        file_samples_ = samples;
        sample_file_ = flag;
      } else if (samples != file_samples_) {
        fail("{} has {} samples, {} has {}: every --input with a batch dimension needs the same count", flag, samples,
             sample_file_, file_samples_);
      }
      p.shape[0] = 1;
    }
    p.given = std::move(t);
    return p;
  }

  InputPlan plan_generated(const engine::TensorSpec& spec) const {
    InputPlan p;
    p.name = spec.name;
    if (!spec.dtype) fail("model input '{}' declares no element type", spec.name);
    p.dtype = *spec.dtype;
    p.source = "random";
    if (auto it = options_.shapes.find(spec.name); it != options_.shapes.end()) {
      p.shape = it->second;
      if (spec.shape) {
        const auto& dims = *spec.shape;
        if (dims.size() != p.shape.size())
          fail("--shape {}={}: the model declares {} ({} dimensions)", spec.name, shape_string(p.shape),
               engine::dims_string(dims), dims.size());
        for (std::size_t d = 0; d < dims.size(); ++d)
          if (dims[d].is_static() && dims[d].value != p.shape[d])
            fail("--shape {}={}: dimension {} is {} in the model", spec.name, shape_string(p.shape), d, dims[d].value);
      }
      return p;
    }
    if (!spec.shape) fail("model input '{}' declares no shape: give it with --shape {}=...", spec.name, spec.name);
    const auto& dims = *spec.shape;
    for (std::size_t d = 0; d < dims.size(); ++d) {
      const auto bound = d == 0 || dims[d].symbol.empty() ? bindings_.end() : bindings_.find(dims[d].symbol);
      if (dims[d].is_static()) {
        p.shape.push_back(dims[d].value);
      } else if (const auto given = shape_flag_size(dims[d])) {
        p.shape.push_back(*given);
      } else if (bound != bindings_.end()) {
        p.shape.push_back(bound->second.size);
      } else if (d == 0) {
        p.batched = true;
        p.shape.push_back(1);
      } else {
        fail("model input '{}' has shape {}: give dimension {} with --shape {}=N or the input's shape with --shape {}=...",
             spec.name, engine::dims_string(dims), d, dims[d].symbol.empty() ? "?" : dims[d].symbol,
             dims[d].symbol.empty() ? spec.name : dims[d].symbol, spec.name);
      }
    }
    return p;
  }

  // The samples of the run: rows of the --input files, or indices of generated samples.
  void choose_samples() {
    if (sample_file_.empty()) {
      if (options_.labels)
        fail("--labels {}: labels the samples of --input files, and no --input gives the model's batch dimension",
             options_.labels->string());
      rows_.resize(options_.samples == 0 ? 16 : options_.samples);
      std::iota(rows_.begin(), rows_.end(), std::size_t{0});
      return;
    }
    if (options_.samples > file_samples_)
      fail("{} samples asked for, {} holds {}", options_.samples, sample_file_, file_samples_);
    const std::size_t count = options_.samples == 0 ? file_samples_ : options_.samples;
    if (options_.labels) {
      read_labels(*options_.labels);
      rows_ = spread_subset(labels_, count, options_.seed);
    } else {
      rows_.resize(count);
      std::iota(rows_.begin(), rows_.end(), std::size_t{0});
    }
  }

  // One class index per sample of the --input files.
  void read_labels(const std::filesystem::path& file) {
    const std::string flag = "--labels " + file.string();
    const Tensor t = read_npy(file);
    if (t.dtype() != DType::i64 && t.dtype() != DType::i32)
      fail("{} holds {}: expected int64 or int32 class indices", flag, dtype_name(t.dtype()));
    if (t.rank() != 1) fail("{} has shape {}: expected one class per sample, a vector", flag, shape_string(t.shape()));
    if (static_cast<std::size_t>(t.dim(0)) != file_samples_)
      fail("{} holds {} labels, {} holds {} samples", flag, t.dim(0), sample_file_, file_samples_);
    const Tensor classes = cast(t, DType::i64);
    const auto values = classes.values<std::int64_t>();
    labels_.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i] < 0 || values[i] > INT_MAX) fail("{}: label {} of sample {} is not a class index", flag, values[i], i);
      labels_.push_back(static_cast<int>(values[i]));
    }
  }

  ModelWorkloadOptions options_;
  std::string name_;
  ExportedModel model_;
  std::vector<InputPlan> plans_;
  bool batched_ = false;
  std::map<std::string, Binding> bindings_;  // symbolic dimensions the --input files gave
  std::string sample_file_;                  // the first --input with a batch dimension ("--input name=file")
  std::size_t file_samples_ = 0;             // its sample count, every such file's
  std::vector<int> labels_;                  // by file sample
  std::vector<std::size_t> rows_;            // the run's samples: file rows (or generated sample indices)
};

}  // namespace

std::unique_ptr<Workload> make_onnx_model_workload(const ModelWorkloadOptions& options) {
  return std::make_unique<OnnxModelWorkload>(options);
}

namespace {

std::pair<std::string, Shape> parse_shape_flag(const std::string& value) {
  const auto eq = value.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
    fail("--shape {}: expected name=DIMS, e.g. input=1x3x224x224", value);
  Shape shape;
  const std::string dims = value.substr(eq + 1);
  std::size_t start = 0;
  while (start <= dims.size()) {
    const std::size_t end = std::min(dims.find('x', start), dims.size());
    const std::string d = dims.substr(start, end - start);
    if (d.empty() || d.size() > 12 || d.find_first_not_of("0123456789") != std::string::npos)
      fail("--shape {}: '{}' is not a dimension", value, d);
    shape.push_back(std::stoll(d));
    start = end + 1;
  }
  return {value.substr(0, eq), shape};
}

std::pair<std::string, std::filesystem::path> parse_input_flag(const std::string& value) {
  const auto eq = value.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
    fail("--input {}: expected name=file.npy", value);
  return {value.substr(0, eq), value.substr(eq + 1)};
}

}  // namespace

ModelWorkloadOptions model_options_from_flags(const std::string& model, const std::vector<std::string>& shapes,
                                              const std::vector<std::string>& inputs) {
  ModelWorkloadOptions o;
  o.model = model;
  for (const auto& s : shapes) {
    auto [name, shape] = parse_shape_flag(s);
    if (!o.shapes.emplace(name, shape).second) fail("--shape {}: '{}' is given twice", s, name);
  }
  for (const auto& i : inputs) {
    auto [name, file] = parse_input_flag(i);
    if (!o.inputs.emplace(name, file).second) fail("--input {}: '{}' is given twice", i, name);
  }
  return o;
}

}  // namespace cpuinfer

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

namespace fs = std::filesystem;

// How one input is made.
struct InputPlan {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;           // one sample's; for a batched input, dimension 0 is the batch size (stored as 1)
  bool batched = false;  // dimension 0 is the batch dimension
  // From --input. Batched: one tensor, a sample per slice along dimension 0 (a file's, or a folder's
  // files stacked). In a fixed-batch model: one whole input per sample. Otherwise: one tensor for
  // every batch. Empty: generated.
  std::vector<Tensor> given;
  std::string source;  // for the description
};

// A symbolic dimension's size and what gave it ("--shape sequence=128", "--input ids=f.npy has
// sequence = 3"), for errors naming both sides.
struct Binding {
  std::int64_t size = 0;
  std::string clause;
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

// The declared inputs, after refusing what is not a model to benchmark: an empty file, bytes that
// are not an ONNX model, a model without a graph or without inputs to feed.
engine::Signature read_signature(const fs::path& model) {
  if (fs::is_directory(model)) fail("--model {}: a folder, not an ONNX model file", model.string());
  if (!fs::is_regular_file(model)) fail("--model {}: no such file", model.string());
  std::error_code ec;
  if (fs::file_size(model, ec) == 0 && !ec) fail("--model {}: 0 bytes, not an ONNX model", model.string());
  engine::Signature signature;
  try {
    signature = engine::read_onnx_signature(model);
  } catch (const Unsupported&) {
    throw;  // a well-formed model: its message names the value
  } catch (const Error& e) {
    // "<file> is not an ONNX model (...)", "<file>: the model has no graph": say which flag gave it.
    const std::string what = e.what(), file = model.string();
    if (what.rfind(file, 0) == 0) fail("--model {}", what);
    fail("--model {}: {}", file, what);
  }
  if (signature.inputs.empty())
    fail("--model {}: the model has no inputs to feed (every graph input is an initializer, or there are none)",
         model.string());
  return signature;
}

// The .npy files of an --input folder, sorted by file name.
std::vector<fs::path> npy_files(const fs::path& folder, const std::string& flag) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".npy" && it->is_regular_file()) files.push_back(it->path());
  if (ec) fail("{}: cannot list the folder: {}", flag, ec.message());
  if (files.empty()) fail("{}: the folder holds no .npy files", flag);
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return files;
}

class OnnxModelWorkload final : public Workload {
 public:
  explicit OnnxModelWorkload(const ModelWorkloadOptions& o) : options_(o) {
    const engine::Signature signature = read_signature(o.model);
    // Exports that keep one model per folder name the file model.onnx: the folder names the model.
    name_ = o.model.stem() == "model" && o.model.has_parent_path() ? o.model.parent_path().filename().string()
                                                                  : o.model.stem().string();
    if (name_.empty() || name_ == "." || name_ == "..") name_ = o.model.stem().string();
    model_.folder = o.model.parent_path();
    model_.files.by_format["onnx"] = o.model;
    model_.weights = "as stored in " + o.model.filename().string();
    model_.random_weights = false;
    model_.quantized = signature.quantized;
    for (const auto& [name, shape] : o.shapes) check_shape_flag(signature, name, shape);
    for (const auto& [name, file] : o.inputs) {
      check_known(signature, name, "--input");
      if (o.shapes.count(name)) fail("--input {}={}: --shape {}=... gives the same input", name, file.string(), name);
    }
    fix_flag_sizes(signature);
    batched_ = std::any_of(signature.inputs.begin(), signature.inputs.end(),
                           [&](const engine::TensorSpec& in) { return has_open_batch(in); });
    // Files first: they fix the sample count and may give symbolic dimensions the generated inputs share.
    plans_.resize(signature.inputs.size());
    for (std::size_t k = 0; k < plans_.size(); ++k)
      if (o.inputs.count(signature.inputs[k].name)) plans_[k] = plan_given(signature.inputs[k]);
    for (std::size_t k = 0; k < plans_.size(); ++k)
      if (!o.inputs.count(signature.inputs[k].name)) plans_[k] = plan_generated(signature.inputs[k]);
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
    d["batch"] = batched_ ? "open: a sample is one row" : fmt::format("fixed: a sample is {} rows, one set of inputs", rows_per_sample());
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
      if (!p.given.empty()) files.push_back(p.name + "=" + p.source);
      generated = generated || p.given.empty();
    }
    return fmt::format("{} ({} of {} samples){}{}", fmt::join(files, ", "), size(), file_samples_,
                       options_.labels ? ", labels " + options_.labels->string() : "",
                       generated ? fmt::format(", other inputs generated (seed {})", options_.seed) : "");
  }
  std::size_t size() const override { return rows_.size(); }
  bool labelled() const override { return !labels_.empty(); }
  // A fixed batch of several rows is compared whole: no top-1 over one argmax of all its rows.
  bool classifies() const override { return (options_.classifier || labelled()) && rows_per_sample() == 1; }
  int label(std::size_t sample) const override { return labelled() ? labels_.at(rows_.at(sample)) : -1; }
  std::size_t max_batch_size() const override { return batched_ ? size() : 1; }
  std::size_t rows_per_sample() const override {
    if (batched_ || plans_.empty() || plans_[0].shape.empty()) return 1;
    return static_cast<std::size_t>(std::max<std::int64_t>(plans_[0].shape[0], 1));
  }

  std::vector<Tensor> batch(const PlannedBatch& batch) const override {
    if (batch.samples.empty()) fail("{}: a batch of no samples", name_);
    if (!batched_) return fixed_batch(batch);
    std::vector<Tensor> inputs;
    for (std::size_t k = 0; k < plans_.size(); ++k) {
      const InputPlan& p = plans_[k];
      if (!p.batched) {
        if (!p.given.empty()) {
          inputs.push_back(p.given.front());
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
        if (!p.given.empty()) {
          const auto* src = static_cast<const std::byte*>(p.given.front().data());
          std::memcpy(dst + i * slice_bytes, src + rows_.at(batch.samples[i]) * slice_bytes, slice_bytes);
          continue;
        }
        std::memcpy(dst + i * slice_bytes, generated(p, k, batch.samples[i]).data(), slice_bytes);
      }
      inputs.push_back(std::move(t));
    }
    return inputs;
  }

 private:
  // A generated sample of input k: the same values whether it is a slice of a batch or a whole input.
  Tensor generated(const InputPlan& p, std::size_t k, std::size_t sample) const {
    Tensor t(p.dtype, p.shape);
    fill_random(t, (options_.seed * 1000003 + k) * 1000003 + sample);
    return t;
  }

  // A fixed-batch model: a batch is one sample, one whole set of inputs.
  std::vector<Tensor> fixed_batch(const PlannedBatch& batch) const {
    if (batch.samples.size() != 1)
      fail("{}: the model's batch is fixed ({} rows per sample), a batch holds one sample, not {}", name_,
           rows_per_sample(), batch.samples.size());
    const std::size_t sample = batch.samples.front();
    std::vector<Tensor> inputs;
    for (std::size_t k = 0; k < plans_.size(); ++k) {
      const InputPlan& p = plans_[k];
      inputs.push_back(p.given.empty() ? generated(p, k, sample) : p.given.at(rows_.at(sample)));
    }
    return inputs;
  }

  // --shape names an input (its whole shape) or a symbolic dimension (one size, wherever it appears).
  static void check_shape_flag(const engine::Signature& s, const std::string& name, const Shape& shape) {
    for (std::size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < 1)
        fail("--shape {}={}: dimension {} is {}, must be at least 1", name, shape_string(shape), d, shape[d]);
    if (names_symbol(s, name)) {
      if (shape.size() != 1) fail("--shape {}={}: '{}' is a dimension, give one size", name, shape_string(shape), name);
      return;
    }
    check_known(s, name, "--shape");
  }

  // Whether --shape `name`=... gives a symbolic dimension (rather than an input's whole shape).
  static bool names_symbol(const engine::Signature& s, const std::string& name) {
    for (const auto& in : s.inputs)
      if (in.shape)
        for (const auto& d : *in.shape)
          if (!d.is_static() && d.symbol == name) return true;
    return false;
  }

  static void check_known(const engine::Signature& s, const std::string& name, const char* flag) {
    std::vector<std::string> names;
    for (const auto& in : s.inputs) {
      if (in.name == name) return;
      names.push_back(in.name);
    }
    fail("{} {}: the model has no input '{}' (its inputs: {})", flag, name, name, fmt::join(names, ", "));
  }

  // The sizes --shape gives symbolic dimensions: by name (sequence=128), and through an input's
  // whole shape (input_ids=1x128 gives its batch and sequence symbols to the other inputs); they
  // must agree with each other and with the model's static dimensions.
  void fix_flag_sizes(const engine::Signature& s) {
    for (const auto& [name, shape] : options_.shapes)
      if (names_symbol(s, name)) flag_sizes_.emplace(name, Binding{shape[0], fmt::format("--shape {}={}", name, shape[0])});
    for (const auto& in : s.inputs) {
      const auto it = options_.shapes.find(in.name);
      if (it == options_.shapes.end() || !in.shape || names_symbol(s, in.name)) continue;
      const Shape& shape = it->second;
      const auto& dims = *in.shape;
      const std::string flag = fmt::format("--shape {}={}", in.name, shape_string(shape));
      if (dims.size() != shape.size())
        fail("{}: the model declares {} ({} dimensions)", flag, engine::dims_string(dims), dims.size());
      for (std::size_t d = 0; d < dims.size(); ++d) {
        if (dims[d].is_static()) {
          if (dims[d].value != shape[d]) fail("{}: dimension {} is {} in the model", flag, d, dims[d].value);
          continue;
        }
        if (dims[d].symbol.empty()) continue;
        const Binding b{shape[d], fmt::format("{} has {} = {}", flag, dims[d].symbol, shape[d])};
        const auto [at, inserted] = flag_sizes_.emplace(dims[d].symbol, b);
        if (!inserted && at->second.size != shape[d]) fail("{}, {}", b.clause, at->second.clause);
      }
    }
  }

  // The size --shape gives a symbolic dimension, if it does.
  std::optional<std::int64_t> shape_flag_size(const engine::Dim& dim) const {
    if (dim.symbol.empty()) return std::nullopt;
    const auto it = flag_sizes_.find(dim.symbol);
    if (it == flag_sizes_.end()) return std::nullopt;
    return it->second.size;
  }

  // Whether the input's first dimension is the open batch dimension: symbolic, and no --shape gives it.
  bool has_open_batch(const engine::TensorSpec& in) const {
    return !options_.shapes.count(in.name) && in.shape && !in.shape->empty() && !(*in.shape)[0].is_static() &&
           !shape_flag_size((*in.shape)[0]);
  }

  // A symbolic dimension of an --input file: it must agree with --shape and with the other files.
  void bind(const engine::Dim& dim, std::int64_t size, const std::string& source) {
    if (dim.symbol.empty()) return;  // unnamed: nothing to agree with
    const std::string clause = fmt::format("{} has {} = {}", source, dim.symbol, size);
    if (const auto it = flag_sizes_.find(dim.symbol); it != flag_sizes_.end()) {
      if (it->second.size != size) fail("{}, {}", clause, it->second.clause);
      return;
    }
    const auto [it, inserted] = bindings_.emplace(dim.symbol, Binding{size, clause});
    if (!inserted && it->second.size != size) fail("{}, {}", clause, it->second.clause);
  }

  // Checks a tensor from `source` against the model's dimensions from `first` on: static ones
  // equal, symbolic ones bound. False on a rank or static mismatch, for the caller's message.
  bool matches(const std::vector<engine::Dim>& dims, const Tensor& t, std::size_t first, const std::string& source) {
    if (t.rank() != dims.size()) return false;
    for (std::size_t d = first; d < dims.size(); ++d)
      if (dims[d].is_static() && dims[d].value != t.dim(d)) return false;
    for (std::size_t d = first; d < dims.size(); ++d)
      if (!dims[d].is_static()) bind(dims[d], t.dim(d), source);
    return true;
  }

  // The sample count an --input gives: every --input that gives samples gives the same count.
  void count_samples(const std::string& flag, std::size_t samples) {
    if (sample_file_.empty()) {
      file_samples_ = samples;
      sample_file_ = flag;
    } else if (samples != file_samples_) {
      fail("{} has {} samples, {} has {}: every --input {}needs the same count", flag, samples, sample_file_,
           file_samples_, batched_ ? "with a batch dimension " : "");
    }
  }

  Tensor read_input(const std::string& flag, const fs::path& file, DType dtype) const {
    Tensor t = read_npy(file);
    if (t.dtype() != dtype) fail("{}: holds {}, the model's input is {}", flag, dtype_name(t.dtype()), dtype_name(dtype));
    return t;
  }

  // An input from --input name=file.npy or name=FOLDER (see the header).
  InputPlan plan_given(const engine::TensorSpec& spec) {
    InputPlan p;
    p.name = spec.name;
    if (!spec.dtype) fail("model input '{}' declares no element type", spec.name);
    p.dtype = *spec.dtype;
    p.batched = has_open_batch(spec);
    const fs::path& path = options_.inputs.at(spec.name);
    const std::string flag = fmt::format("--input {}={}", spec.name, path.string());
    p.source = path.string();
    if (fs::is_directory(path)) {
      plan_folder(spec, p, path, flag);
      return p;
    }
    Tensor t = read_input(flag, path, p.dtype);
    if (spec.shape && !matches(*spec.shape, t, p.batched ? 1 : 0, flag))
      fail("{} has shape {}, the model declares {}", flag, shape_string(t.shape()), engine::dims_string(*spec.shape));
    p.shape = t.shape();
    if (p.batched) {
      const auto samples = static_cast<std::size_t>(t.dim(0));
      if (samples == 0) fail("{} holds no samples (its first dimension, the batch, is 0)", flag);
      count_samples(flag, samples);
      p.shape[0] = 1;
    } else if (!batched_) {
      count_samples(flag, 1);  // a fixed-batch model: the file is one sample, the whole input
    }
    p.given.push_back(std::move(t));
    return p;
  }

  // One sample per .npy file of the folder, every file read and checked now.
  void plan_folder(const engine::TensorSpec& spec, InputPlan& p, const fs::path& folder, const std::string& flag) {
    if (!p.batched && batched_)
      fail("{}: input '{}' has no batch dimension ({}), it takes one .npy file for every batch, not a folder", flag,
           spec.name, spec.shape ? engine::dims_string(*spec.shape) : "no shape declared");
    const std::vector<fs::path> files = npy_files(folder, flag);
    std::vector<Tensor> samples;
    for (const fs::path& file : files) {
      const std::string file_flag = fmt::format("--input {}={}", spec.name, file.string());
      Tensor t = read_input(file_flag, file, p.dtype);
      if (p.batched) {
        const auto& dims = *spec.shape;
        const Shape file_shape = t.shape();
        // One sample: the model's shape with batch 1, or without the batch dimension.
        if (t.rank() + 1 == dims.size()) {
          Shape with_batch = t.shape();
          with_batch.insert(with_batch.begin(), 1);
          t = t.reshaped(with_batch);
        }
        if (!matches(dims, t, 1, file_flag) || t.dim(0) != 1)
          fail("{} has shape {}: a file of the folder holds one sample, the model's {} with batch 1 or without it",
               file_flag, shape_string(file_shape), engine::dims_string(dims));
      } else if (spec.shape && !matches(*spec.shape, t, 0, file_flag)) {
        fail("{} has shape {}, the model declares {}", file_flag, shape_string(t.shape()), engine::dims_string(*spec.shape));
      }
      if (!samples.empty() && samples.front().shape() != t.shape())
        fail("{} has shape {}, {} has {}: every file of the folder holds the same shape", file_flag,
             shape_string(t.shape()), files.front().filename().string(), shape_string(samples.front().shape()));
      samples.push_back(std::move(t));
    }
    p.source = fmt::format("{} ({} .npy files)", folder.string(), files.size());
    p.shape = samples.front().shape();
    count_samples(flag, samples.size());
    if (!p.batched) {
      p.given = std::move(samples);
      return;
    }
    Shape stacked = p.shape;
    stacked[0] = static_cast<std::int64_t>(samples.size());
    Tensor all = Tensor::uninitialized(p.dtype, stacked);
    auto* dst = static_cast<std::byte*>(all.data());
    for (const Tensor& t : samples) {
      std::memcpy(dst, t.data(), t.nbytes());
      dst += t.nbytes();
    }
    p.given.push_back(std::move(all));
  }

  InputPlan plan_generated(const engine::TensorSpec& spec) const {
    InputPlan p;
    p.name = spec.name;
    if (!spec.dtype) fail("model input '{}' declares no element type", spec.name);
    p.dtype = *spec.dtype;
    p.source = "random";
    if (auto it = options_.shapes.find(spec.name); it != options_.shapes.end()) {
      p.shape = it->second;  // checked against the model by fix_flag_sizes
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
        // The input's whole shape first: it sets every open dimension at once.
        std::vector<std::string> example;
        for (std::size_t k = 0; k < dims.size(); ++k)
          example.push_back(dims[k].is_static() ? std::to_string(dims[k].value)
                            : k == 0            ? "1"
                                                : "<" + (dims[k].symbol.empty() ? fmt::format("dim{}", k) : dims[k].symbol) + ">");
        fail("model input '{}' has shape {}: give its shape with --shape {}={}{}", spec.name, engine::dims_string(dims),
             spec.name, fmt::join(example, "x"),
             dims[d].symbol.empty() ? "" : fmt::format(" (or each open dimension, --shape {}=N)", dims[d].symbol));
      }
    }
    return p;
  }

  // The samples of the run: rows of the --input files, or indices of generated samples.
  void choose_samples() {
    if (options_.labels && rows_per_sample() > 1)
      fail("--labels {}: the model's batch is fixed at {} rows (input '{}' has shape {}), labels need one class per "
           "sample: a batch of 1 or an open batch dimension",
           options_.labels->string(), rows_per_sample(), plans_[0].name, shape_string(plans_[0].shape));
    if (sample_file_.empty()) {
      if (options_.labels)
        fail("--labels {}: labels the samples of --input files, and no --input gives the model's {}",
             options_.labels->string(), batched_ ? "batch dimension" : "samples");
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
  bool batched_ = false;                       // some input has the open batch dimension
  std::map<std::string, Binding> flag_sizes_;  // symbolic dimensions --shape gave
  std::map<std::string, Binding> bindings_;    // symbolic dimensions the --input files gave
  std::string sample_file_;                    // the first --input giving samples ("--input name=file")
  std::size_t file_samples_ = 0;               // its sample count, every such input's
  std::vector<int> labels_;                    // by file sample
  std::vector<std::size_t> rows_;              // the run's samples: file rows (or generated sample indices)
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
    const std::size_t digits = d.rfind('-', 0) == 0 ? 1 : 0;  // a negative size gets the message below
    if (d.size() == digits || d.size() > 12 || d.find_first_not_of("0123456789", digits) != std::string::npos)
      fail("--shape {}: '{}' is not a dimension", value, d);
    shape.push_back(std::stoll(d));
    if (shape.back() < 1) fail("--shape {}: dimension {} is {}, must be at least 1", value, shape.size() - 1, shape.back());
    start = end + 1;
  }
  return {value.substr(0, eq), shape};
}

std::pair<std::string, std::filesystem::path> parse_input_flag(const std::string& value) {
  const auto eq = value.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
    fail("--input {}: expected name=file.npy or name=FOLDER (of .npy files)", value);
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

// The generic ONNX model workload: input plans from the declared signature and the flags.
#include "bench/onnx_model_workload.h"

#include <fmt/ranges.h>

#include <cstring>
#include <random>

#include "core/error.h"
#include "data/npy_file.h"
#include "engine/onnx/import.h"

namespace cpuinfer {

namespace {

// How one input is made.
struct InputPlan {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;                  // for a batched input, dimension 0 is the batch size (stored as 1)
  bool batched = false;         // dimension 0 is the batch dimension
  std::optional<Tensor> given;  // from --input
  std::string source;           // for the description
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
    name_ = o.model.stem().string();
    model_.folder = o.model.parent_path();
    model_.files.by_format["onnx"] = o.model;
    model_.weights = "as stored in " + o.model.filename().string();
    model_.random_weights = false;
    for (const auto& [name, shape] : o.shapes) check_shape_flag(signature, name, shape);
    for (const auto& [name, file] : o.inputs) check_known(signature, name, "--input");
    for (const auto& spec : signature.inputs) plans_.push_back(plan_input(spec));
    batched_ = std::any_of(plans_.begin(), plans_.end(), [](const InputPlan& p) { return p.batched; });
    if (o.samples == 0) fail("--samples must be at least 1 for --model");
  }

  std::string name() const override { return name_; }
  const ExportedModel& model() const override { return model_; }
  nlohmann::ordered_json description() const override {
    nlohmann::ordered_json inputs = nlohmann::ordered_json::array();
    for (const auto& p : plans_)
      inputs.push_back({{"name", p.name}, {"dtype", dtype_name(p.dtype)},
                        {"shape", p.batched ? "batch x " + shape_string(Shape(p.shape.begin() + 1, p.shape.end())) : shape_string(p.shape)},
                        {"source", p.source}});
    return {{"model", options_.model.string()}, {"inputs", inputs}, {"samples", options_.samples}, {"seed", options_.seed}};
  }
  std::string dataset() const override {
    return fmt::format("generated inputs (seed {})", options_.seed);
  }
  std::size_t size() const override { return options_.samples; }
  bool labelled() const override { return false; }
  bool classifies() const override { return options_.classifier; }
  int label(std::size_t) const override { return -1; }
  std::size_t max_batch_size() const override { return batched_ ? size() : 1; }

  std::vector<Tensor> batch(const PlannedBatch& batch) const override {
    std::vector<Tensor> inputs;
    for (std::size_t k = 0; k < plans_.size(); ++k) {
      const InputPlan& p = plans_[k];
      if (p.given) {
        inputs.push_back(*p.given);
        continue;
      }
      if (!p.batched) {
        Tensor t(p.dtype, p.shape);
        fill_random(t, options_.seed * 1000003 + k);
        inputs.push_back(std::move(t));
        continue;
      }
      // One slice per sample, seeded by the sample, so batching does not change a sample's data.
      Shape shape = p.shape;
      shape[0] = static_cast<std::int64_t>(batch.samples.size());
      Tensor t(p.dtype, shape);
      Shape slice_shape = p.shape;
      const std::size_t slice_bytes = t.nbytes() / batch.samples.size();
      for (std::size_t i = 0; i < batch.samples.size(); ++i) {
        Tensor slice(p.dtype, slice_shape);
        fill_random(slice, (options_.seed * 1000003 + k) * 1000003 + batch.samples[i]);
        std::memcpy(static_cast<std::byte*>(t.data()) + i * slice_bytes, slice.data(), slice_bytes);
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

  InputPlan plan_input(const engine::TensorSpec& spec) const {
    InputPlan p;
    p.name = spec.name;
    if (!spec.dtype) fail("model input '{}' declares no element type", spec.name);
    p.dtype = *spec.dtype;
    if (auto it = options_.inputs.find(spec.name); it != options_.inputs.end()) {
      Tensor t = read_npy(it->second);
      if (t.dtype() != p.dtype)
        fail("--input {}={}: holds {}, the model's input is {}", spec.name, it->second.string(), dtype_name(t.dtype()),
             dtype_name(p.dtype));
      p.shape = t.shape();
      p.given = std::move(t);
      p.source = it->second.string();
      return p;
    }
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
      const auto named = dims[d].symbol.empty() ? options_.shapes.end() : options_.shapes.find(dims[d].symbol);
      if (dims[d].is_static()) {
        p.shape.push_back(dims[d].value);
      } else if (named != options_.shapes.end()) {
        p.shape.push_back(named->second.at(0));
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

  ModelWorkloadOptions options_;
  std::string name_;
  ExportedModel model_;
  std::vector<InputPlan> plans_;
  bool batched_ = false;
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

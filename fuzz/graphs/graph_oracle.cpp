// The oracle's runs and the comparison.
#include "fuzz/graphs/graph_oracle.h"

#include <fmt/format.h>
#include <onnxruntime_cxx_api.h>

#include <cmath>
#include <cstring>

#include "backends/ort/ort_tensors.h"
#include "core/error.h"
#include "engine/onnx/import.h"

namespace cpuinfer::fuzz {

namespace {

Ort::Env& env() {
  static Ort::Env e(ORT_LOGGING_LEVEL_FATAL, "cpuinfer-graph-fuzzer");
  return e;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

RunResult run_ort(const onnx::ModelProto& model, const std::vector<Tensor>& inputs) {
  RunResult r;
  try {
    const std::string bytes = model.SerializeAsString();
    Ort::SessionOptions so;
    so.SetIntraOpNumThreads(1);
    so.SetInterOpNumThreads(1);
    so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_DISABLE_ALL);
    Ort::Session session(env(), bytes.data(), bytes.size(), so);
    std::vector<const char*> in_names, out_names;
    for (const auto& i : model.graph().input()) in_names.push_back(i.name().c_str());
    for (const auto& o : model.graph().output()) out_names.push_back(o.name().c_str());
    auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    std::vector<Ort::Value> values;
    for (const Tensor& t : inputs) values.push_back(ort_value_view(t, memory));
    auto outputs = session.Run(Ort::RunOptions{nullptr}, in_names.data(), values.data(), values.size(), out_names.data(),
                               out_names.size());
    for (const Ort::Value& v : outputs) r.outputs.push_back(tensor_from_ort(v));
  } catch (const Ort::Exception& e) {
    r.error = first_line(e.what());
  } catch (const Error& e) {
    r.error = e.what();
  }
  return r;
}

bool is_quantized(const onnx::ModelProto& model) {
  for (const auto& n : model.graph().node())
    if (n.op_type() == "QuantizeLinear" || n.op_type() == "DequantizeLinear" || n.op_type() == "DynamicQuantizeLinear" ||
        n.op_type() == "MatMulInteger" || n.op_type() == "ConvInteger")
      return true;
  return false;
}

const std::vector<NativeVariant>& native_variants() {
  static const std::vector<NativeVariant> variants = [] {
    const engine::SessionOptions all{.threads = 2, .poison_storage = true};
    std::vector<NativeVariant> v{{"default", all}};
    engine::SessionOptions o = all;
    o.fuse = false;
    v.push_back({"no-fusion", o});
    o = all;
    o.blocked_layout = false;
    v.push_back({"no-blocking", o});
    o = all;
    o.winograd = false;
    v.push_back({"no-winograd", o});
    o = all;
    o.int8 = false;
    v.push_back({"no-int8", o});
    return v;
  }();
  return variants;
}

RunResult run_native(const onnx::ModelProto& model, const std::vector<Tensor>& inputs, const NativeVariant& variant) {
  RunResult r;
  try {
    engine::Session session(engine::import_onnx_bytes(model.SerializeAsString(), "fuzz graph"), variant.options);
    session.run(inputs);
    r.outputs = session.run(inputs);
  } catch (const Error& e) {
    r.error = e.what();
  } catch (const std::exception& e) {
    r.error = fmt::format("exception: {}", e.what());
  }
  return r;
}

std::vector<double> sensitivity(const onnx::ModelProto& model, const std::vector<Tensor>& inputs, const RunResult& oracle) {
  std::uint32_t state = 12345;
  const auto nudge = [&](float v) {
    state = state * 1664525u + 1013904223u;
    return v * (1.0f + ((state >> 31) ? 1e-6f : -1e-6f));
  };
  std::vector<Tensor> moved;
  for (const Tensor& t : inputs) {
    if (t.dtype() != DType::f32) {
      moved.push_back(t);
      continue;
    }
    Tensor m(DType::f32, t.shape());
    const auto src = t.values<float>();
    auto dst = m.values<float>();
    for (std::size_t i = 0; i < src.size(); ++i) dst[i] = nudge(src[i]);
    moved.push_back(std::move(m));
  }
  // The float constants too (weights, scales, epsilons), where the graph is not quantized: rounding
  // inside the graph moves intermediate values, not only the inputs.
  onnx::ModelProto nudged = model;
  if (!is_quantized(model)) {
    auto nudge_tensor = [&](onnx::TensorProto& t) {
      if (t.data_type() != onnx::TensorProto::FLOAT) return;
      for (int i = 0; i < t.float_data_size(); ++i) t.set_float_data(i, nudge(t.float_data(i)));
    };
    for (auto& t : *nudged.mutable_graph()->mutable_initializer()) nudge_tensor(t);
    for (auto& n : *nudged.mutable_graph()->mutable_node())
      if (n.op_type() == "Constant")
        for (auto& a : *n.mutable_attribute())
          if (a.has_t()) nudge_tensor(*a.mutable_t());
  }
  const RunResult again = run_ort(nudged, moved);
  std::vector<double> slack(oracle.outputs.size(), 0.0);
  if (!again.error.empty() || again.outputs.size() != oracle.outputs.size()) return slack;
  for (std::size_t k = 0; k < slack.size(); ++k) {
    if (again.outputs[k].dtype() != DType::f32 || oracle.outputs[k].dtype() != DType::f32) continue;
    const auto a = again.outputs[k].values<float>(), b = oracle.outputs[k].values<float>();
    if (a.size() != b.size()) continue;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::isfinite(a[i]) && std::isfinite(b[i])) slack[k] = std::max(slack[k], std::fabs(double(a[i]) - double(b[i])));
  }
  return slack;
}

Comparison compare_outputs(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tolerance,
                           const std::vector<double>& slack) {
  Comparison c;
  if (got.size() != want.size()) {
    c.agree = false;
    c.what = fmt::format("{} outputs, ORT gives {}", got.size(), want.size());
    return c;
  }
  for (std::size_t k = 0; k < got.size(); ++k) {
    if (got[k].shape() != want[k].shape()) {
      c.agree = false;
      c.what = fmt::format("output {}: shape {}, ORT gives {}", k, shape_string(got[k].shape()), shape_string(want[k].shape()));
      return c;
    }
    if (got[k].dtype() != want[k].dtype()) {
      c.agree = false;
      c.what = fmt::format("output {}: type {}, ORT gives {}", k, dtype_name(got[k].dtype()), dtype_name(want[k].dtype()));
      return c;
    }
    const DType type = want[k].dtype();
    if (type != DType::f32 && type != DType::f64 && type != DType::f16 && type != DType::bf16) {  // integers and bool: exact
      if (got[k].nbytes() && std::memcmp(got[k].data(), want[k].data(), got[k].nbytes()) != 0) {
        // The first element whose bytes differ (some does: the whole memcmp differs).
        const std::size_t size = dtype_size(type);
        const auto* ga = static_cast<const std::byte*>(got[k].data());
        const auto* wa = static_cast<const std::byte*>(want[k].data());
        std::size_t i = 0;
        while (std::memcmp(ga + i * size, wa + i * size, size) == 0) ++i;
        const Tensor a = cast(got[k], DType::f64), b = cast(want[k], DType::f64);
        c.agree = false;
        c.what = fmt::format("output {}: element {} is {}, ORT gives {}", k, i, a.values<double>()[i], b.values<double>()[i]);
        return c;
      }
      continue;
    }
    const Tensor g = cast(got[k], DType::f32), w = cast(want[k], DType::f32);
    const auto a = g.values<float>();
    const auto b = w.values<float>();
    double scale = 1, diff = 0;
    std::size_t nonfinite = 0, worst = 0, first_nonfinite = 0;
    for (std::size_t i = 0; i < b.size(); ++i) {
      if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
        const bool same = a[i] == b[i] || (std::isnan(a[i]) && !std::isfinite(b[i])) || (std::isnan(b[i]) && !std::isfinite(a[i]));
        if (!same && nonfinite++ == 0) first_nonfinite = i;
        continue;
      }
      scale = std::max(scale, std::fabs(double(b[i])));
      const double d = std::fabs(double(a[i]) - double(b[i]));
      if (d > diff) diff = d, worst = i;
    }
    c.max_abs_diff = std::max(c.max_abs_diff, diff);
    c.max_rel_diff = std::max(c.max_rel_diff, diff / scale);
    if (nonfinite > 0 && c.agree) {
      c.agree = false;
      c.what = fmt::format("output {}: {} values NaN or infinite on one side only, the first element {} (native {}, ORT {})", k,
                           nonfinite, first_nonfinite, a[first_nonfinite], b[first_nonfinite]);
    } else if (diff > tolerance * scale + 4 * (k < slack.size() ? slack[k] : 0.0) && c.agree) {
      c.agree = false;
      c.what = fmt::format("output {}: max |native - ORT| {:.3g} at element {} (native {:.6g}, ORT {:.6g}), {:.3g} of max |ORT| {:.3g}{}",
                           k, diff, worst, a[worst], b[worst], diff / scale, scale,
                           k < slack.size() ? fmt::format("; ORT moves {:.3g} when its inputs move 1e-6", slack[k]) : "");
    }
  }
  return c;
}

bool disagrees(const RunResult& native, const onnx::ModelProto& model, const std::vector<Tensor>& inputs,
               const RunResult& oracle, std::optional<std::vector<double>>& slack, Comparison& c) {
  if (!native.error.empty()) return true;
  const double tolerance = tolerance_for(model);
  c = compare_outputs(native.outputs, oracle.outputs, tolerance);
  if (c.agree) return false;
  if (!slack) slack = sensitivity(model, inputs, oracle);
  c = compare_outputs(native.outputs, oracle.outputs, tolerance, *slack);
  return !c.agree;
}

Finding check(const onnx::ModelProto& model, const std::vector<Tensor>& inputs, const RunResult& oracle) {
  Finding f;
  std::optional<std::vector<double>> slack;
  for (const NativeVariant& v : native_variants()) {
    const RunResult native = run_native(model, inputs, v);
    if (!native.error.empty()) {
      f.differences += fmt::format("{}{} failed", f.differences.empty() ? "" : ", ", v.name);
      if (!f.variant) f = {&v, "native failed: " + native.error, f.differences};
      continue;
    }
    Comparison c;
    const bool bad = disagrees(native, model, inputs, oracle, slack, c);
    f.differences += fmt::format("{}{} {:.2g}", f.differences.empty() ? "" : ", ", v.name, c.max_rel_diff);
    if (bad && !f.variant) {
      f.variant = &v;
      f.what = c.what;
    }
  }
  return f;
}

}  // namespace cpuinfer::fuzz

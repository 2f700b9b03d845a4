// The generator: a builder that tracks every value's static shape, and one function per operator
// form that appends it to a value it applies to (or declines). Shapes follow the ONNX operator
// specifications, so every graph is valid; ONNX Runtime, the oracle, refusing one is a generator bug.
#include "fuzz/graphs/graph_generator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <random>

namespace cpuinfer::fuzz {

namespace {

struct Value {
  std::string name;
  Shape shape;
};

class Builder {
 public:
  Builder(std::uint64_t seed, int opset, bool open_batch) : rng_(seed), opset_(opset), open_batch_(open_batch) {
    model_.set_ir_version(opset_ <= 14 ? 7 : opset_ <= 18 ? 8 : 9);
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset_);
    model_.set_producer_name("cpuinfer graph fuzzer");
    graph()->set_name("fuzz");
  }

  onnx::GraphProto* graph() { return model_.mutable_graph(); }
  int opset() const { return opset_; }
  bool open_batch() const { return open_batch_; }
  std::mt19937_64& rng() { return rng_; }
  const std::vector<Value>& values() const { return values_; }
  std::vector<std::string>& ops() { return ops_; }

  bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(rng_); }
  std::int64_t between(std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_); }
  template <typename T> T pick(std::initializer_list<T> choices) {
    return *(choices.begin() + between(0, static_cast<std::int64_t>(choices.size()) - 1));
  }
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng_); }
  std::vector<float> normal(std::size_t n, float scale) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng_);
    return v;
  }

  std::string fresh(const std::string& prefix) { return fmt::format("{}{}", prefix, counter_++); }

  Value input(Shape shape, bool symbolic_batch) {
    Value v{fresh("x"), shape};
    auto* in = graph()->add_input();
    in->set_name(v.name);
    auto* t = in->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (std::size_t i = 0; i < shape.size(); ++i) {
      auto* d = t->mutable_shape()->add_dim();
      if (i == 0 && symbolic_batch) d->set_dim_param("N");
      else d->set_dim_value(shape[i]);
    }
    values_.push_back(v);
    return v;
  }

  // A constant, as an initializer or a Constant node (exporters write both).
  std::string constant(const Shape& shape, const std::vector<float>& data) {
    onnx::TensorProto t;
    for (auto d : shape) t.add_dims(d);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (float x : data) t.add_float_data(x);
    return add_constant(std::move(t));
  }
  std::string int_constant(const Shape& shape, const std::vector<std::int64_t>& data) {
    onnx::TensorProto t;
    for (auto d : shape) t.add_dims(d);
    t.set_data_type(onnx::TensorProto::INT64);
    for (auto x : data) t.add_int64_data(x);
    return add_constant(std::move(t));
  }
  std::string scalar(float value) {  // rank 0 or [1], as exporters write either
    return coin() ? constant({}, {value}) : constant({1}, {value});
  }

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output) {
    onnx::NodeProto& n = *graph()->add_node();
    n.set_op_type(op);
    n.set_name(output + "_" + op);
    for (const auto& i : inputs) n.add_input(i);
    n.add_output(output);
    return n;
  }
  // A node whose output is a value later operators may take.
  Value emit(const std::string& op, const std::vector<std::string>& inputs, Shape shape,
             const std::function<void(onnx::NodeProto&)>& attributes = {}) {
    Value v{fresh("v"), std::move(shape)};
    onnx::NodeProto& n = node(op, inputs, v.name);
    if (attributes) attributes(n);
    values_.push_back(v);
    return v;
  }
  std::string temp(const std::string& op, const std::vector<std::string>& inputs,
                   const std::function<void(onnx::NodeProto&)>& attributes = {}) {
    const std::string out = fresh("t");
    onnx::NodeProto& n = node(op, inputs, out);
    if (attributes) attributes(n);
    return out;
  }

  onnx::ModelProto& model() { return model_; }

 private:
  std::string add_constant(onnx::TensorProto t) {
    const std::string name = fresh("c");
    if (coin()) {
      t.set_name(name);
      *graph()->add_initializer() = std::move(t);
    } else {
      onnx::NodeProto& n = node("Constant", {}, name);
      auto* a = n.add_attribute();
      a->set_name("value");
      a->set_type(onnx::AttributeProto::TENSOR);
      *a->mutable_t() = std::move(t);
    }
    return name;
  }

  std::mt19937_64 rng_;
  int opset_;
  bool open_batch_;
  onnx::ModelProto model_;
  std::vector<Value> values_;
  std::vector<std::string> ops_;
  int counter_ = 0;
};

void set(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void set(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void set(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}
void set(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

std::size_t numel(const Shape& s) {
  return static_cast<std::size_t>(std::accumulate(s.begin(), s.end(), std::int64_t{1}, std::multiplies<>()));
}

// Keeps tensors small: every run of a graph is milliseconds.
constexpr std::size_t kMaxElements = 40000;

// ---- operators: each appends itself to x and returns true, or declines (x does not fit) --------

// Conv: groups (1, depthwise, or a divisor), kernels 1 to 5 (not always square), strides, dilations,
// asymmetric pads or auto_pad, bias or none.
bool conv(Builder& b, const Value& x) {
  if (x.shape.size() != 4) return false;
  const std::int64_t c = x.shape[1];
  std::int64_t group = 1, maps = b.pick<std::int64_t>({1, 3, 4, 8, 12, 16, 17, 24});
  const int form = static_cast<int>(b.between(0, 2));
  if (form == 1) {  // depthwise, multiplier 1 or 2
    group = c;
    maps = c * b.pick<std::int64_t>({1, 1, 2});
  } else if (form == 2 && c % 2 == 0 && c > 2) {
    group = c / 2;
    maps = group * b.pick<std::int64_t>({1, 2});
  }
  Shape k{b.pick<std::int64_t>({1, 2, 3, 3, 5}), 0};
  k[1] = b.coin(0.8) ? k[0] : b.pick<std::int64_t>({1, 3});
  std::vector<std::int64_t> strides{b.pick<std::int64_t>({1, 1, 2}), 1}, dilations{1, 1}, pads(4, 0);
  strides[1] = b.coin(0.8) ? strides[0] : 1;
  const bool auto_pad = b.coin(0.15);
  if (!auto_pad && b.coin(0.2)) dilations = {2, 2};  // ORT takes no dilations with auto_pad
  Shape out{x.shape[0], maps, 0, 0};
  for (int i = 0; i < 2; ++i) {
    const std::int64_t span = dilations[i] * (k[i] - 1) + 1;
    if (auto_pad) {
      out[i + 2] = (x.shape[i + 2] + strides[i] - 1) / strides[i];  // SAME_UPPER
    } else {
      pads[i] = b.between(0, k[i] - 1);
      pads[i + 2] = b.coin(0.7) ? pads[i] : b.between(0, k[i] - 1);
      out[i + 2] = (x.shape[i + 2] + pads[i] + pads[i + 2] - span) / strides[i] + 1;
    }
    if (x.shape[i + 2] + pads[i] + pads[i + 2] < span && !auto_pad) return false;
    if (out[i + 2] < 1) return false;
  }
  if (numel(out) > kMaxElements) return false;
  const Shape w_shape{maps, c / group, k[0], k[1]};
  const float scale = 1.0f / std::sqrt(static_cast<float>((c / group) * k[0] * k[1]));
  std::vector<std::string> inputs{x.name, b.constant(w_shape, b.normal(numel(w_shape), scale))};
  if (b.coin(0.7)) inputs.push_back(b.constant({maps}, b.normal(static_cast<std::size_t>(maps), 0.5f)));
  b.ops().push_back(group == 1 ? "Conv" : group == c ? "Conv(depthwise)" : "Conv(grouped)");
  b.emit("Conv", inputs, out, [&](onnx::NodeProto& n) {
    set(n, "kernel_shape", std::vector<std::int64_t>(k.begin(), k.end()));
    if (group != 1) set(n, "group", group);
    if (strides != std::vector<std::int64_t>{1, 1} || b.coin()) set(n, "strides", strides);
    if (dilations != std::vector<std::int64_t>{1, 1}) set(n, "dilations", dilations);
    if (auto_pad) set(n, "auto_pad", std::string("SAME_UPPER"));
    else if (std::ranges::any_of(pads, [](std::int64_t p) { return p != 0; }) || b.coin()) set(n, "pads", pads);
  });
  return true;
}

// ConvTranspose with strides, output_padding, pads and dilations.
bool conv_transpose(Builder& b, const Value& x) {
  if (x.shape.size() != 4 || x.shape[1] > 24) return false;
  const std::int64_t c = x.shape[1], maps = b.pick<std::int64_t>({1, 4, 8, 16});
  const std::int64_t group = b.coin(0.2) ? c : 1;
  const std::int64_t out_maps = group == c ? c : maps;
  const std::int64_t k = b.pick<std::int64_t>({1, 2, 3, 4}), stride = b.pick<std::int64_t>({1, 2, 2, 3});
  const std::int64_t dilation = b.coin(0.15) ? 2 : 1;
  std::vector<std::int64_t> pads(4, 0), output_padding{0, 0};
  Shape out{x.shape[0], out_maps, 0, 0};
  for (int i = 0; i < 2; ++i) {
    if (stride > 1 && b.coin(0.4)) output_padding[i] = b.between(0, std::min(stride, dilation * 1 + stride) - 1);
    pads[i] = b.between(0, k - 1);
    pads[i + 2] = b.coin(0.7) ? pads[i] : b.between(0, k - 1);
    out[i + 2] = stride * (x.shape[i + 2] - 1) + output_padding[i] + (k - 1) * dilation + 1 - pads[i] - pads[i + 2];
    if (out[i + 2] < 1) return false;
  }
  if (numel(out) > kMaxElements) return false;
  const Shape w_shape{c, out_maps / group, k, k};
  const float scale = 1.0f / std::sqrt(static_cast<float>(c * k * k / (stride * stride) + 1));
  std::vector<std::string> inputs{x.name, b.constant(w_shape, b.normal(numel(w_shape), scale))};
  if (b.coin()) inputs.push_back(b.constant({out_maps}, b.normal(static_cast<std::size_t>(out_maps), 0.5f)));
  b.ops().push_back("ConvTranspose");
  b.emit("ConvTranspose", inputs, out, [&](onnx::NodeProto& n) {
    set(n, "kernel_shape", std::vector<std::int64_t>{k, k});
    set(n, "strides", std::vector<std::int64_t>{stride, stride});
    if (group != 1) set(n, "group", group);
    if (dilation != 1) set(n, "dilations", std::vector<std::int64_t>{dilation, dilation});
    if (output_padding != std::vector<std::int64_t>{0, 0}) set(n, "output_padding", output_padding);
    set(n, "pads", pads);
  });
  return true;
}

bool batch_norm(Builder& b, const Value& x) {
  if (x.shape.size() < 2) return false;
  const auto c = static_cast<std::size_t>(x.shape[1]);
  std::vector<float> var(c);
  for (float& v : var) v = b.uniform(0.3f, 2.0f);
  std::vector<std::string> inputs{x.name, b.constant({x.shape[1]}, b.normal(c, 1.0f)),
                                  b.constant({x.shape[1]}, b.normal(c, 0.5f)),
                                  b.constant({x.shape[1]}, b.normal(c, 0.5f)), b.constant({x.shape[1]}, var)};
  b.ops().push_back("BatchNormalization");
  b.emit("BatchNormalization", inputs, x.shape, [&](onnx::NodeProto& n) {
    if (b.coin()) set(n, "epsilon", b.pick<float>({1e-5f, 1e-3f}));
  });
  return true;
}

// A constant shape that broadcasts against x: rank 0 to 4, each dimension x's or 1 (a
// per-channel [C, 1, 1] and one-element shapes are drawn often: exporters write them).
Shape broadcast_shape(Builder& b, const Shape& x) {
  const int form = static_cast<int>(b.between(0, 5));
  if (form == 0) return {};
  if (form == 1) return Shape(static_cast<std::size_t>(b.between(1, 4)), 1);
  if (form == 2 && x.size() >= 3) {
    Shape s(x.size() - 1, 1);
    s[0] = x[1];
    return s;  // per channel, [C, 1, 1] for NCHW
  }
  const auto rank = static_cast<std::size_t>(b.between(1, static_cast<std::int64_t>(std::min<std::size_t>(x.size(), 4))));
  Shape s(x.end() - static_cast<std::ptrdiff_t>(rank), x.end());
  for (auto& d : s)
    if (b.coin(0.4)) d = 1;
  if (b.open_batch() && rank == x.size()) s[0] = 1;  // the batch stays open
  return s;
}

// numpy broadcasting of two shapes; nullopt where they do not broadcast.
std::optional<Shape> broadcast(const Shape& a, const Shape& c) {
  Shape out(std::max(a.size(), c.size()), 1);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const std::int64_t dc = i < out.size() - c.size() ? 1 : c[i - (out.size() - c.size())];
    if (da != dc && da != 1 && dc != 1) return std::nullopt;
    out[i] = da == 1 ? dc : da;
  }
  return out;
}

// Add, Sub, Mul, Div with a constant on either side (Div by a constant only: a divisor away from 0).
bool binary_constant(Builder& b, const Value& x) {
  const std::string op = b.pick<const char*>({"Add", "Mul", "Sub", "Div", "Add", "Mul"});
  const Shape s = broadcast_shape(b, x.shape);
  std::vector<float> v = b.normal(numel(s), 1.0f);
  if (op == "Div" || op == "Mul")
    for (float& f : v) f = (f < 0 ? -1.0f : 1.0f) * b.uniform(0.5f, 2.0f);
  const std::string c = b.constant(s, v);
  const bool first = op != "Div" && b.coin();
  b.ops().push_back(fmt::format("{}({})[{}]", op, first ? "c,x" : "x,c", shape_string(s)));
  b.emit(op, first ? std::vector<std::string>{c, x.name} : std::vector<std::string>{x.name, c}, *broadcast(x.shape, s));
  return true;
}

// Two values of the graph: a residual Add, a gate Mul, Max, Min (same shape or broadcast).
bool binary_values(Builder& b, const Value& x) {
  std::vector<const Value*> partners;
  for (const Value& v : b.values())
    if (v.name != x.name && broadcast(x.shape, v.shape) == x.shape)
      partners.push_back(&v);
  if (partners.empty()) return false;
  const Value& y = *partners[static_cast<std::size_t>(b.between(0, static_cast<std::int64_t>(partners.size()) - 1))];
  const std::string op = b.pick<const char*>({"Add", "Add", "Mul", "Sub", "Max", "Min"});
  const bool first = b.coin();
  b.ops().push_back(op + "(values)");
  b.emit(op, first ? std::vector<std::string>{y.name, x.name} : std::vector<std::string>{x.name, y.name}, x.shape);
  return true;
}

// Clip, attributes before opset 11, inputs from it (either bound may be left out).
std::string clip(Builder& b, const std::string& x, float lo, float hi, bool keep_both = false) {
  if (b.opset() < 11)
    return b.temp("Clip", {x}, [&](onnx::NodeProto& n) {
      set(n, "min", lo);
      set(n, "max", hi);
    });
  const int form = keep_both ? 0 : static_cast<int>(b.between(0, 2));
  if (form == 1) return b.temp("Clip", {x, b.constant({}, {lo})});
  if (form == 2) return b.temp("Clip", {x, "", b.constant({}, {hi})});
  return b.temp("Clip", {x, b.constant({}, {lo}), b.constant({}, {hi})});
}

bool unary(Builder& b, const Value& x) {
  std::vector<std::string> ops{"Relu", "Relu", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "Clip", "Neg", "Abs", "Elu"};
  if (b.opset() >= 14) ops.push_back("HardSwish");
  const std::string op = ops[static_cast<std::size_t>(b.between(0, static_cast<std::int64_t>(ops.size()) - 1))];
  b.ops().push_back(op);
  if (op == "Clip") {
    const float lo = b.pick<float>({0.0f, -1.0f, -0.5f}), hi = b.pick<float>({6.0f, 1.0f, 0.5f});
    const std::string t = clip(b, x.name, lo, hi);
    b.emit("Identity", {t}, x.shape);
    return true;
  }
  b.emit(op, {x.name}, x.shape, [&](onnx::NodeProto& n) {
    if (op == "LeakyRelu" && b.coin()) set(n, "alpha", b.pick<float>({0.1f, 0.2f}));
    if (op == "HardSigmoid" && b.coin()) {
      set(n, "alpha", 1.0f / 6.0f);
      set(n, "beta", 0.5f);
    }
  });
  return true;
}

std::vector<std::string> either_order(Builder& b, const std::string& a, const std::string& c) {
  return b.coin() ? std::vector<std::string>{a, c} : std::vector<std::string>{c, a};
}

// Activations as exporters decompose them: HardSwish x * Clip(x + 3, 0, 6) / 6 (or * 1/6),
// HardSigmoid Clip(x / 6 + 0.5, 0, 1), SiLU x * Sigmoid(x), GELU x * 0.5 * (1 + Erf(x / sqrt 2)),
// Mish x * Tanh(Softplus(x)); operands in either order.
bool decomposed_activation(Builder& b, const Value& x) {
  const int form = static_cast<int>(b.between(0, 4));
  if (form == 0) {
    b.ops().push_back("HardSwish(decomposed)");
    const std::string a = b.temp("Add", either_order(b, x.name, b.scalar(3.0f)));
    const std::string k = clip(b, a, 0.0f, 6.0f, true);
    if (b.coin()) {
      const std::string p = b.temp("Mul", either_order(b, x.name, k));
      b.emit(b.coin() ? "Div" : "Mul", {p, b.scalar(6.0f)}, x.shape, {});
      auto& n = *b.model().mutable_graph()->mutable_node()->rbegin();
      if (n.op_type() == "Mul") n.mutable_input(1)->assign(b.scalar(1.0f / 6.0f));
    } else {
      const std::string g = b.temp("Div", {k, b.scalar(6.0f)});
      b.emit("Mul", either_order(b, x.name, g), x.shape);
    }
  } else if (form == 1) {
    b.ops().push_back("HardSigmoid(decomposed)");
    const std::string s = b.temp("Mul", either_order(b, x.name, b.scalar(1.0f / 6.0f)));
    const std::string a = b.temp("Add", either_order(b, s, b.scalar(0.5f)));
    b.emit("Identity", {clip(b, a, 0.0f, 1.0f, true)}, x.shape);
  } else if (form == 2) {
    b.ops().push_back("SiLU(decomposed)");
    b.emit("Mul", either_order(b, x.name, b.temp("Sigmoid", {x.name})), x.shape);
  } else if (form == 3) {
    b.ops().push_back("GELU(decomposed)");
    const std::string e = b.temp("Erf", {b.temp("Div", {x.name, b.scalar(std::sqrt(2.0f))})});
    const std::string one = b.temp("Add", either_order(b, e, b.scalar(1.0f)));
    if (b.coin()) {  // torch: (x * (1 + erf)) * 0.5
      b.emit("Mul", either_order(b, b.temp("Mul", either_order(b, x.name, one)), b.scalar(0.5f)), x.shape);
    } else {  // (x * 0.5) * (1 + erf)
      b.emit("Mul", either_order(b, b.temp("Mul", either_order(b, x.name, b.scalar(0.5f))), one), x.shape);
    }
  } else {
    b.ops().push_back("Mish(decomposed)");
    b.emit("Mul", either_order(b, x.name, b.temp("Tanh", {b.temp("Softplus", {x.name})})), x.shape);
  }
  return true;
}

std::string reduce_mean_last(Builder& b, const std::string& x) {
  if (b.opset() >= 18) return b.temp("ReduceMean", {x, b.int_constant({1}, {-1})});
  return b.temp("ReduceMean", {x}, [](onnx::NodeProto& n) { set(n, "axes", std::vector<std::int64_t>{-1}); });
}

// LayerNorm over the last axis: LayerNormalization from opset 17, else (and sometimes anyway) as
// torch exports it: ReduceMean, Sub, Pow (or Mul), ReduceMean, Add eps, Sqrt, Div, Mul, Add.
// Not over rows of fewer than 8 values: (x - mean) / std of two or three values is +-1 or a ratio of
// their differences, which amplifies float32 rounding without bound (the fuzzer's only float32
// mismatches left were such rows, every native configuration alike, 1.2e-4 to 2.5e-4).
bool layer_norm(Builder& b, const Value& x) {
  if (x.shape.size() < 2 || x.shape.back() < 8) return false;
  const std::int64_t f = x.shape.back();
  const std::string gamma = b.constant({f}, b.normal(static_cast<std::size_t>(f), 1.0f));
  const std::string beta = b.constant({f}, b.normal(static_cast<std::size_t>(f), 0.5f));
  if (b.opset() >= 17 && b.coin()) {
    b.ops().push_back("LayerNormalization");
    b.emit("LayerNormalization", {x.name, gamma, beta}, x.shape, [&](onnx::NodeProto& n) {
      set(n, "axis", std::int64_t{-1});
      set(n, "epsilon", 1e-5f);
    });
    return true;
  }
  b.ops().push_back("LayerNorm(decomposed)");
  const std::string d = b.temp("Sub", {x.name, reduce_mean_last(b, x.name)});
  const std::string sq = b.coin() ? b.temp("Pow", {d, b.scalar(2.0f)}) : b.temp("Mul", {d, d});
  const std::string var = b.temp("Add", {reduce_mean_last(b, sq), b.scalar(1e-5f)});
  const std::string norm = b.temp("Div", {d, b.temp("Sqrt", {var})});
  b.emit("Add", {b.temp("Mul", either_order(b, norm, gamma)), beta}, x.shape);
  return true;
}

bool softmax(Builder& b, const Value& x) {
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  const std::int64_t axis = b.coin(0.6) ? -1 : b.between(-rank, rank - 1);
  b.ops().push_back(fmt::format("Softmax(axis {})", axis));
  b.emit(b.coin(0.8) ? "Softmax" : "LogSoftmax", {x.name}, x.shape, [&](onnx::NodeProto& n) { set(n, "axis", axis); });
  return true;
}

// Reshape: two adjacent dimensions merged, or one split, written with 0 and -1 codes at times.
bool reshape(Builder& b, const Value& x) {
  Shape target = x.shape;
  if (x.shape.size() >= 2 && b.coin()) {
    const auto i = static_cast<std::size_t>(b.between(0, static_cast<std::int64_t>(x.shape.size()) - 2));
    target[i] *= target[i + 1];
    target.erase(target.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  } else {
    std::vector<std::size_t> splittable;
    for (std::size_t i = 0; i < x.shape.size(); ++i)
      if (x.shape[i] % 2 == 0 || x.shape[i] % 3 == 0) splittable.push_back(i);
    if (splittable.empty() || x.shape.size() >= 5) return false;
    const std::size_t i = splittable[static_cast<std::size_t>(b.between(0, static_cast<std::int64_t>(splittable.size()) - 1))];
    const std::int64_t f = x.shape[i] % 2 == 0 ? 2 : 3;
    target[i] /= f;
    target.insert(target.begin() + static_cast<std::ptrdiff_t>(i) + 1, f);
  }
  std::vector<std::int64_t> written(target.begin(), target.end());
  if (b.coin(0.3)) written[static_cast<std::size_t>(b.between(0, static_cast<std::int64_t>(written.size()) - 1))] = -1;
  if (b.coin(0.3) && written[0] != -1 && !x.shape.empty() && target[0] == x.shape[0]) written[0] = 0;
  b.ops().push_back("Reshape");
  b.emit("Reshape", {x.name, b.int_constant({static_cast<std::int64_t>(written.size())}, written)}, target);
  return true;
}

bool transpose(Builder& b, const Value& x) {
  if (x.shape.size() < 2) return false;
  std::vector<std::int64_t> perm(x.shape.size());
  std::iota(perm.begin(), perm.end(), 0);
  if (b.coin(0.3) && x.shape.size() == 4) perm = {0, 2, 3, 1};  // NCHW -> NHWC, as converters write
  else std::shuffle(perm.begin(), perm.end(), b.rng());
  Shape out;
  for (auto p : perm) out.push_back(x.shape[static_cast<std::size_t>(p)]);
  b.ops().push_back(fmt::format("Transpose({})", fmt::join(perm, ",")));
  b.emit("Transpose", {x.name}, out, [&](onnx::NodeProto& n) { set(n, "perm", perm); });
  return true;
}

bool concat(Builder& b, const Value& x) {
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  const std::int64_t axis = b.between(b.open_batch() ? 1 : 0, rank - 1);
  std::vector<std::string> inputs{x.name};
  Shape out = x.shape;
  for (const Value& v : b.values()) {
    if (v.name == x.name || v.shape.size() != x.shape.size()) continue;
    bool fits = true;
    for (std::size_t i = 0; i < v.shape.size(); ++i) fits = fits && (static_cast<std::int64_t>(i) == axis || v.shape[i] == x.shape[i]);
    if (fits && b.coin()) {
      inputs.push_back(v.name);
      out[static_cast<std::size_t>(axis)] += v.shape[static_cast<std::size_t>(axis)];
      break;
    }
  }
  if (inputs.size() == 1 || b.coin(0.3)) {  // with itself, or a constant block
    inputs.push_back(x.name);
    out[static_cast<std::size_t>(axis)] += x.shape[static_cast<std::size_t>(axis)];
  }
  if (numel(out) > kMaxElements) return false;
  if (b.coin(0.5)) std::shuffle(inputs.begin(), inputs.end(), b.rng());
  b.ops().push_back(fmt::format("Concat(axis {})", axis));
  b.emit("Concat", inputs, out, [&](onnx::NodeProto& n) { set(n, "axis", b.coin() ? axis : axis - rank); });
  return true;
}

// Slice: attributes before opset 10, inputs from it (with steps, negative ones included, and
// out-of-range bounds that clamp).
bool slice(Builder& b, const Value& x) {
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  const std::int64_t axis = b.between(0, rank - 1);
  const std::int64_t d = x.shape[static_cast<std::size_t>(axis)];
  if (d < 2) return false;
  std::int64_t step = b.opset() >= 10 ? b.pick<std::int64_t>({1, 1, 2, -1}) : 1;
  std::int64_t start = b.between(0, d - 1), end = b.between(start + 1, d);
  std::int64_t count = (end - start + step - 1) / step;
  std::int64_t written_start = start, written_end = end;
  if (step < 0) {  // from end - 1 down to start
    written_start = end - 1;
    written_end = start - 1 < 0 ? -d - 1 : start - 1;
    count = end - start;
  } else {
    if (b.coin(0.3)) written_end = end == d ? std::int64_t{1} << 40 : end;  // INT_MAX-like "to the end"
    if (b.coin(0.3)) written_start = start - d;                            // negative: from the end
  }
  Shape out = x.shape;
  out[static_cast<std::size_t>(axis)] = count;
  b.ops().push_back(fmt::format("Slice(axis {}, {}:{}:{})", axis, written_start, written_end, step));
  if (b.opset() < 10) {
    b.emit("Slice", {x.name}, out, [&](onnx::NodeProto& n) {
      set(n, "starts", std::vector<std::int64_t>{written_start});
      set(n, "ends", std::vector<std::int64_t>{written_end});
      set(n, "axes", std::vector<std::int64_t>{axis});
    });
    return true;
  }
  std::vector<std::string> inputs{x.name, b.int_constant({1}, {written_start}), b.int_constant({1}, {written_end})};
  if (step != 1 || b.coin()) {
    inputs.push_back(b.int_constant({1}, {b.coin() ? axis : axis - rank}));
    if (step != 1 || b.coin()) inputs.push_back(b.int_constant({1}, {step}));
  } else if (axis != 0) {
    inputs.push_back(b.int_constant({1}, {axis}));
  }
  b.emit("Slice", inputs, out);
  return true;
}

bool flatten(Builder& b, const Value& x) {
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  const std::int64_t axis = b.between(0, rank);
  const Shape out{static_cast<std::int64_t>(numel(Shape(x.shape.begin(), x.shape.begin() + axis))),
                  static_cast<std::int64_t>(numel(Shape(x.shape.begin() + axis, x.shape.end())))};
  b.ops().push_back(fmt::format("Flatten(axis {})", axis));
  b.emit("Flatten", {x.name}, out, [&](onnx::NodeProto& n) { set(n, "axis", axis); });
  return true;
}

// Resize (opset 11 on) by scales or by sizes, nearest or linear, with its coordinate modes;
// Upsample at opset 9.
bool resize(Builder& b, const Value& x) {
  if (x.shape.size() != 4) return false;
  const float sh = b.pick<float>({2.0f, 2.0f, 0.5f, 1.5f, 3.0f}), sw = b.coin(0.8) ? sh : b.pick<float>({1.0f, 2.0f});
  Shape out{x.shape[0], x.shape[1], static_cast<std::int64_t>(std::floor(static_cast<float>(x.shape[2]) * sh)),
            static_cast<std::int64_t>(std::floor(static_cast<float>(x.shape[3]) * sw))};
  if (out[2] < 1 || out[3] < 1 || numel(out) > kMaxElements) return false;
  const bool linear = b.coin();
  if (b.opset() < 10) {
    if (sh < 1.0f || sw < 1.0f) return false;  // Upsample scales are at least 1
    b.ops().push_back(linear ? "Upsample(linear)" : "Upsample(nearest)");
    b.emit("Upsample", {x.name, b.constant({4}, {1.0f, 1.0f, sh, sw})}, out,
           [&](onnx::NodeProto& n) { set(n, "mode", std::string(linear ? "linear" : "nearest")); });
    return true;
  }
  if (b.opset() < 11) return false;  // Resize-10's coordinates are Upsample's; not drawn
  std::string mode = b.pick<const char*>({"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"});
  const std::string nearest = b.pick<const char*>({"round_prefer_floor", "floor", "round_prefer_ceil", "ceil"});
  // Not drawn where the resized length in * scale is not whole:
  //  - align_corners by scales: ONNX divides by the exact length (in * scale - 1; its node test
  //    resize_downsample_scales_linear_align_corners expects 3.142857, as the engine gives), ONNX
  //    Runtime 1.30 by the rounded one (it gives 4): the oracle departs from the specification;
  //  - sizes: the scale is then sizes / in, which ONNX Runtime takes in float32 and the engine in
  //    double, so a source coordinate of exactly n + 0.5 rounds either way in nearest mode.
  const auto whole = [](std::int64_t in, float scale) { return std::floor(static_cast<float>(in) * scale) == static_cast<float>(in) * scale; };
  const bool exact = whole(x.shape[2], sh) && whole(x.shape[3], sw);
  const bool by_sizes = !b.open_batch() && exact && b.coin();
  if (mode == "align_corners" && !exact) mode = "asymmetric";
  std::vector<std::string> inputs{x.name};
  const std::string empty = b.opset() >= 13 && b.coin() ? "" : b.constant({0}, {});
  inputs.push_back(empty);  // roi
  if (by_sizes) {
    inputs.push_back(b.opset() >= 13 && b.coin() ? "" : b.constant({0}, {}));
    inputs.push_back(b.int_constant({4}, std::vector<std::int64_t>(out.begin(), out.end())));
  } else {
    inputs.push_back(b.constant({4}, {1.0f, 1.0f, sh, sw}));
  }
  b.ops().push_back(fmt::format("Resize({}, {}, {})", linear ? "linear" : "nearest " + nearest, mode, by_sizes ? "sizes" : "scales"));
  b.emit("Resize", inputs, out, [&](onnx::NodeProto& n) {
    set(n, "mode", std::string(linear ? "linear" : "nearest"));
    set(n, "coordinate_transformation_mode", mode);
    if (!linear) set(n, "nearest_mode", nearest);
  });
  return true;
}

bool pool(Builder& b, const Value& x) {
  if (x.shape.size() != 4) return false;
  const int form = static_cast<int>(b.between(0, 3));
  if (form == 3) {
    const bool avg = b.coin();
    b.ops().push_back(avg ? "GlobalAveragePool" : "GlobalMaxPool");
    b.emit(avg ? "GlobalAveragePool" : "GlobalMaxPool", {x.name}, {x.shape[0], x.shape[1], 1, 1});
    return true;
  }
  const bool avg = form == 0;
  const std::int64_t k = b.pick<std::int64_t>({1, 2, 3, 3}), stride = b.pick<std::int64_t>({1, 2, 2});
  bool ceil_mode = b.opset() >= 10 && b.coin(0.3);
  std::vector<std::int64_t> pads(4, 0);
  Shape out{x.shape[0], x.shape[1], 0, 0};
  for (int i = 0; i < 2; ++i) {
    pads[i] = b.between(0, k - 1);
    pads[i + 2] = b.coin(0.7) ? pads[i] : b.between(0, k - 1);
    if (x.shape[i + 2] + pads[i] + pads[i + 2] - k < 0) return false;
  }
  for (int i = 0; i < 2; ++i) {
    const std::int64_t span = x.shape[i + 2] + pads[i] + pads[i + 2] - k;
    out[i + 2] = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    // Not drawn: ceil_mode where the last window would start past the input and its begin padding.
    // ONNX drops that window (its pooling operators' specification since ONNX 1.16, as PyTorch
    // does, and so does the engine); ONNX Runtime 1.30 keeps it: the oracle departs from the
    // specification there.
    if (ceil_mode && (out[i + 2] - 1) * stride >= x.shape[i + 2] + pads[i]) {
      ceil_mode = false;
      i = -1;  // again, in floor mode
    }
  }
  const bool count_pad = avg && b.coin(0.3);
  b.ops().push_back(fmt::format("{}(k{} s{}{}{})", avg ? "AveragePool" : "MaxPool", k, stride, ceil_mode ? " ceil" : "",
                                count_pad ? " count_include_pad" : ""));
  b.emit(avg ? "AveragePool" : "MaxPool", {x.name}, out, [&](onnx::NodeProto& n) {
    set(n, "kernel_shape", std::vector<std::int64_t>{k, k});
    set(n, "strides", std::vector<std::int64_t>{stride, stride});
    set(n, "pads", pads);
    if (ceil_mode) set(n, "ceil_mode", std::int64_t{1});
    if (count_pad) set(n, "count_include_pad", std::int64_t{1});
  });
  return true;
}

// MatMul by constant weights (2-D or batched) or by another value; Gemm on 2-D values with its
// transposes, alpha, beta and a C of any broadcastable shape.
bool matmul(Builder& b, const Value& x) {
  if (x.shape.size() < 2) return false;
  const std::int64_t k = x.shape.back(), n = b.pick<std::int64_t>({1, 3, 8, 16, 17, 32});
  const float scale = 1.0f / std::sqrt(static_cast<float>(k));
  Shape out = x.shape;
  out.back() = n;
  if (numel(out) > kMaxElements) return false;
  if (x.shape.size() == 2 && b.coin(0.4)) {
    const bool trans_b = b.coin();
    const Shape w_shape = trans_b ? Shape{n, k} : Shape{k, n};
    std::vector<std::string> inputs{x.name, b.constant(w_shape, b.normal(numel(w_shape), scale))};
    if (b.opset() < 11 || b.coin(0.8)) {  // C is optional from opset 11
      const Shape c_shape = b.pick<int>({0, 1, 2, 3}) == 0 ? Shape{} : b.coin() ? Shape{n} : b.coin() ? Shape{1} : Shape{x.shape[0], n};
      inputs.push_back(b.constant(c_shape, b.normal(numel(c_shape), 0.5f)));
    }
    const float alpha = b.coin(0.3) ? 0.5f : 1.0f, beta = b.coin(0.3) ? 2.0f : 1.0f;
    b.ops().push_back("Gemm");
    b.emit("Gemm", inputs, out, [&](onnx::NodeProto& node) {
      if (trans_b) set(node, "transB", std::int64_t{1});
      if (alpha != 1.0f) set(node, "alpha", alpha);
      if (beta != 1.0f) set(node, "beta", beta);
    });
    return true;
  }
  Shape w_shape{k, n};
  if (x.shape.size() >= 3 && b.coin(0.2)) w_shape.insert(w_shape.begin(), x.shape[x.shape.size() - 3]);
  b.ops().push_back(fmt::format("MatMul(x, {})", shape_string(w_shape)));
  b.emit("MatMul", {x.name, b.constant(w_shape, b.normal(numel(w_shape), scale))}, out);
  return true;
}

bool reduce(Builder& b, const Value& x) {
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  if (rank < 2) return false;
  const std::int64_t axis = b.between(1, rank - 1);
  const bool keep = b.coin();
  const std::string op = b.pick<const char*>({"ReduceMean", "ReduceSum", "ReduceMax"});
  Shape out = x.shape;
  if (keep) out[static_cast<std::size_t>(axis)] = 1;
  else out.erase(out.begin() + axis);
  b.ops().push_back(fmt::format("{}(axis {}{})", op, axis, keep ? "" : ", dropped"));
  const bool axes_input = (op == "ReduceSum" && b.opset() >= 13) || b.opset() >= 18;
  std::vector<std::string> inputs{x.name};
  if (axes_input) inputs.push_back(b.int_constant({1}, {axis}));
  b.emit(op, inputs, out, [&](onnx::NodeProto& n) {
    if (!axes_input) set(n, "axes", std::vector<std::int64_t>{axis});
    set(n, "keepdims", std::int64_t{keep ? 1 : 0});
  });
  return true;
}

using Operator = bool (*)(Builder&, const Value&);
struct Weighted {
  Operator op;
  int weight;
};
// The operators that keep an open batch open (GeneratorOptions::open_batch).
bool keeps_batch(Operator op) {
  return op == conv || op == batch_norm || op == binary_constant || op == binary_values || op == unary ||
         op == decomposed_activation || op == concat || op == resize || op == pool;
}
constexpr Weighted kOperators[] = {
    {conv, 8},       {conv_transpose, 2}, {batch_norm, 3}, {binary_constant, 10}, {binary_values, 3},
    {unary, 6},      {decomposed_activation, 4}, {layer_norm, 2}, {softmax, 2}, {reshape, 2},
    {transpose, 2},  {concat, 2},         {slice, 2},      {flatten, 1},          {resize, 2},
    {pool, 3},       {matmul, 4},         {reduce, 1},
};

}  // namespace

GeneratedGraph generate_graph(std::uint64_t seed, const GeneratorOptions& options) {
  std::mt19937_64 pre(seed);
  // Mostly the opsets exporters write (9 to 17), at times a newer one (the engine maps each operator
  // to the version that opset means: kernel.h, semantic_opset).
  const int opset = options.open_batch                               ? std::uniform_int_distribution<int>(13, 17)(pre)
                    : std::uniform_int_distribution<int>(0, 5)(pre) == 0 ? std::uniform_int_distribution<int>(18, 20)(pre)
                                                                         : std::uniform_int_distribution<int>(9, 17)(pre);
  Builder b(pre(), opset, options.open_batch);
  GeneratedGraph out;
  // The input: NCHW images (most operators), [N, S, F] sequences or [N, F] rows.
  const int kind = options.open_batch ? 0 : static_cast<int>(b.between(0, 5));
  const std::int64_t batch = b.pick<std::int64_t>({1, 1, 2, 3});
  Shape shape;
  if (kind <= 3) shape = {batch, b.pick<std::int64_t>({1, 2, 3, 4, 8, 12, 16, 17}), b.between(1, 13), b.between(1, 13)};
  else if (kind == 4) shape = {batch, b.between(1, 9), b.pick<std::int64_t>({1, 4, 8, 16, 17})};
  else shape = {batch, b.pick<std::int64_t>({1, 5, 8, 16, 33})};
  const Value x = b.input(shape, options.open_batch || b.coin());
  Tensor input(DType::f32, shape);
  const std::vector<float> data = b.normal(input.numel(), 1.0f);
  std::copy(data.begin(), data.end(), input.values<float>().begin());
  out.inputs.push_back(std::move(input));

  int total = 0;
  for (const auto& w : kOperators) total += options.open_batch && !keeps_batch(w.op) ? 0 : w.weight;
  const auto nodes = b.between(options.min_nodes, options.max_nodes);
  std::size_t outputs_used = 0;
  for (std::int64_t i = 0, attempts = 0; i < nodes && attempts < 200; ++attempts) {
    // Mostly the newest value (chains), at times an earlier one (branches: a DAG).
    const auto& vs = b.values();
    const Value v = b.coin(0.75) ? vs.back() : vs[static_cast<std::size_t>(b.between(0, static_cast<std::int64_t>(vs.size()) - 1))];
    std::int64_t r = b.between(0, total - 1);
    Operator op = kOperators[0].op;
    for (const auto& w : kOperators) {
      const int weight = options.open_batch && !keeps_batch(w.op) ? 0 : w.weight;
      if (r < weight) {
        op = w.op;
        break;
      }
      r -= weight;
    }
    if (op(b, v)) ++i;
  }
  // Outputs: the last value, and at times an intermediate one as well (fusion must keep it).
  auto add_output = [&](const Value& v) {
    auto* o = b.graph()->add_output();
    o->set_name(v.name);
    o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    ++outputs_used;
  };
  const auto& vs = b.values();
  add_output(vs.back());
  if (vs.size() > 2 && b.coin(0.25)) add_output(vs[static_cast<std::size_t>(b.between(1, static_cast<std::int64_t>(vs.size()) - 2))]);
  out.summary = fmt::format("opset {}, input {}: {}", opset, shape_string(shape), fmt::join(b.ops(), " "));
  out.model = std::move(b.model());
  return out;
}

std::vector<Tensor> inputs_with_batch(const GeneratedGraph& graph, std::int64_t batch, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<Tensor> inputs;
  for (const Tensor& like : graph.inputs) {
    Shape shape = like.shape();
    shape[0] = batch;
    Tensor t(DType::f32, shape);
    for (float& v : t.values<float>()) v = normal(rng);
    inputs.push_back(std::move(t));
  }
  return inputs;
}

}  // namespace cpuinfer::fuzz

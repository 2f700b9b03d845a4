// Recurrent layers: RNN, GRU and LSTM as ONNX defines them from opset 7 (opset 14 added `layout`):
// forward, reverse or bidirectional; the activation functions named by the node, with their alpha
// and beta; clip; LSTM peepholes and input_forget; GRU linear_before_reset; per-entry sequence
// lengths. The input projection X·Wᵀ of every step is one product before the recurrence, which
// then adds H·Rᵀ step by step.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/kernels/kernel_util.h"
#include "engine/kernels/vector/vector_loops.h"

namespace cpuinfer::engine {

namespace {

enum class Function { relu, tanh, sigmoid, affine, leaky_relu, thresholded_relu, scaled_tanh, hard_sigmoid, elu, softsign, softplus };

// A function, whether it takes alpha and beta, and their defaults: those of the ONNX operators of
// the same name; Affine and ScaledTanh, which ONNX no longer has, default to alpha 1, beta 0 and
// alpha 1, beta 1.
struct FunctionInfo {
  const char* name;
  Function function;
  bool has_alpha, has_beta;
  float alpha, beta;
};
constexpr FunctionInfo kFunctions[] = {
    {"Relu", Function::relu, false, false, 0.0f, 0.0f},
    {"Tanh", Function::tanh, false, false, 0.0f, 0.0f},
    {"Sigmoid", Function::sigmoid, false, false, 0.0f, 0.0f},
    {"Affine", Function::affine, true, true, 1.0f, 0.0f},
    {"LeakyRelu", Function::leaky_relu, true, false, 0.01f, 0.0f},
    {"ThresholdedRelu", Function::thresholded_relu, true, false, 1.0f, 0.0f},
    {"ScaledTanh", Function::scaled_tanh, true, true, 1.0f, 1.0f},
    {"HardSigmoid", Function::hard_sigmoid, true, true, 0.2f, 0.5f},
    {"Elu", Function::elu, true, false, 1.0f, 0.0f},
    {"Softsign", Function::softsign, false, false, 0.0f, 0.0f},
    {"Softplus", Function::softplus, false, false, 0.0f, 0.0f},
};

struct Activation {
  Function function = Function::tanh;
  float alpha = 0.0f, beta = 0.0f;
};

// Names compared without case, as ONNX Runtime does ("tanh" from some exporters).
const FunctionInfo* find_function(std::string_view name) {
  const auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  for (const FunctionInfo& f : kFunctions)
    if (std::ranges::equal(name, std::string_view(f.name), [&](char a, char b) { return lower(a) == lower(b); })) return &f;
  return nullptr;
}

// The node's activations, `defaults.size()` per direction. activation_alpha and activation_beta are
// consumed in list order by the functions that take them; a function past their end takes its
// default. A list for one direction serves both of a bidirectional node; a one-direction node
// given two lists (the RNN schema's default is {Tanh, Tanh}) uses the first.
std::vector<Activation> parse_activations(const Node& node, const NodeInfo& info, const std::vector<const char*>& defaults,
                                          std::int64_t directions) {
  const std::size_t per_direction = defaults.size();
  std::vector<std::string> names = node.get_strings("activations");
  if (names.empty()) names.assign(defaults.begin(), defaults.end());
  const std::vector<float> alphas = node.get_floats("activation_alpha"), betas = node.get_floats("activation_beta");
  std::size_t next_alpha = 0, next_beta = 0;
  std::vector<Activation> activations;
  activations.reserve(2 * std::max(names.size(), per_direction));
  for (const std::string& name : names) {
    const FunctionInfo* f = find_function(name);
    if (!f)
      info.unsupported("activation '{}' (supported: Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, "
                       "HardSigmoid, Elu, Softsign, Softplus)",
                       name);
    Activation a{f->function, f->alpha, f->beta};
    if (f->has_alpha && next_alpha < alphas.size()) a.alpha = alphas[next_alpha++];
    if (f->has_beta && next_beta < betas.size()) a.beta = betas[next_beta++];
    activations.push_back(a);
  }
  const std::size_t wanted = per_direction * static_cast<std::size_t>(directions);
  if (activations.size() == per_direction && directions == 2)
    for (std::size_t k = 0; k < per_direction; ++k) activations.push_back(activations[k]);
  else if (activations.size() == 2 * per_direction && directions == 1)
    activations.resize(per_direction);
  if (activations.size() != wanted)
    info.fail("activations lists {} functions, expected {} ({} per direction)", names.size(), wanted, per_direction);
  return activations;
}

// out[i] = f(in[i] clipped to [-clip, clip]); in and out may be the same.
template <typename T, typename F> void clipped_map(const T* in, T* out, std::int64_t n, T clip, F f) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = f(std::min(std::max(in[i], -clip), clip));
}

template <typename T> void activate(const Activation& a, T clip, const T* in, T* out, std::int64_t n) {
  const T alpha = static_cast<T>(a.alpha), beta = static_cast<T>(a.beta);
  switch (a.function) {
    case Function::relu: clipped_map(in, out, n, clip, [](T v) { return std::max(v, T{0}); }); break;
    case Function::tanh: clipped_map(in, out, n, clip, [](T v) { return std::tanh(v); }); break;
    case Function::sigmoid: clipped_map(in, out, n, clip, [](T v) { return T{1} / (T{1} + std::exp(-v)); }); break;
    case Function::affine: clipped_map(in, out, n, clip, [=](T v) { return alpha * v + beta; }); break;
    case Function::leaky_relu: clipped_map(in, out, n, clip, [=](T v) { return v >= T{0} ? v : alpha * v; }); break;
    case Function::thresholded_relu: clipped_map(in, out, n, clip, [=](T v) { return v >= alpha ? v : T{0}; }); break;
    case Function::scaled_tanh: clipped_map(in, out, n, clip, [=](T v) { return alpha * std::tanh(beta * v); }); break;
    case Function::hard_sigmoid:
      clipped_map(in, out, n, clip, [=](T v) { return std::min(std::max(alpha * v + beta, T{0}), T{1}); });
      break;
    case Function::elu: clipped_map(in, out, n, clip, [=](T v) { return v >= T{0} ? v : alpha * std::expm1(v); }); break;
    case Function::softsign: clipped_map(in, out, n, clip, [](T v) { return v / (T{1} + std::abs(v)); }); break;
    case Function::softplus:
      clipped_map(in, out, n, clip, [](T v) { return v > T{0} ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); });
      break;
  }
}

enum class Cell { rnn, gru, lstm };

// What the node's attributes fix.
struct Recurrent {
  Cell cell = Cell::rnn;
  std::int64_t gates = 1;        // blocks of hidden_size rows in W and R: 1; 3 (z, r, h); 4 (i, o, f, c)
  std::int64_t hidden_size = 0;  // 0: not given, taken from R
  std::int64_t directions = 1;
  bool reverse = false;      // the one direction runs from the last step
  bool batch_major = false;  // layout 1: X [batch, seq, input], Y [batch, seq, directions, hidden]
  std::vector<Activation> activations;  // per direction: f (RNN); f, g (GRU); f, g, h (LSTM)
  double clip = std::numeric_limits<double>::infinity();
  bool input_forget = false;         // LSTM: f = 1 - i
  bool linear_before_reset = false;  // GRU: r (.) (H·Rhᵀ + Rbh) instead of (r (.) H)·Rhᵀ
};

// The inputs of one run, checked against each other.
struct Operands {
  const Tensor *x = nullptr, *w = nullptr, *r = nullptr, *b = nullptr, *h0 = nullptr, *c0 = nullptr, *p = nullptr;
  const Tensor *wt = nullptr, *rt = nullptr;  // W and R with each direction's matrix transposed
  std::int64_t seq = 0, batch = 0, input = 0, hidden = 0;
  std::vector<std::int64_t> lengths;  // per batch entry, in [0, seq]
};

// "4*hidden_size", or "hidden_size" for one block.
std::string blocks(std::int64_t n) { return n == 1 ? "hidden_size" : fmt::format("{}*hidden_size", n); }

void expect_shape(const NodeInfo& info, const Tensor& t, const char* name, const std::string& form, const Shape& expected) {
  if (t.shape() != expected)
    info.fail("{} has shape {}, expected {} = {}", name, shape_string(t.shape()), form, shape_string(expected));
}

Operands check_operands(const Recurrent& spec, const NodeInfo& info, Inputs inputs) {
  Operands o;
  o.x = &info.input(inputs, 0);
  o.w = &info.input(inputs, 1);
  o.r = &info.input(inputs, 2);
  o.b = info.optional_input(inputs, 3);
  const Tensor* lens = info.optional_input(inputs, 4);
  o.h0 = info.optional_input(inputs, 5);
  if (spec.cell == Cell::lstm) {
    o.c0 = info.optional_input(inputs, 6);
    o.p = info.optional_input(inputs, 7);
  }
  const char* x_form = spec.batch_major ? "[batch_size, seq_length, input_size]" : "[seq_length, batch_size, input_size]";
  if (o.x->rank() != 3) info.fail("X has shape {}, expected rank 3 {}", shape_string(o.x->shape()), x_form);
  o.seq = o.x->dim(spec.batch_major ? 1 : 0);
  o.batch = o.x->dim(spec.batch_major ? 0 : 1);
  o.input = o.x->dim(2);
  o.hidden = spec.hidden_size > 0 ? spec.hidden_size : o.r->rank() == 3 ? o.r->dim(2) : 0;
  if (o.hidden <= 0) info.fail("hidden_size is not given and R of shape {} does not give it", shape_string(o.r->shape()));

  const std::int64_t d = spec.directions, g = spec.gates, h = o.hidden;
  const std::string state_form = spec.batch_major ? "[batch_size, num_directions, hidden_size]"
                                                  : "[num_directions, batch_size, hidden_size]";
  const Shape state = spec.batch_major ? Shape{o.batch, d, h} : Shape{d, o.batch, h};
  const DType dtype = o.x->dtype();
  info.expect_dtype(*o.w, dtype, "W");
  expect_shape(info, *o.w, "W", fmt::format("[num_directions, {}, input_size]", blocks(g)), {d, g * h, o.input});
  info.expect_dtype(*o.r, dtype, "R");
  expect_shape(info, *o.r, "R", fmt::format("[num_directions, {}, hidden_size]", blocks(g)), {d, g * h, h});
  if (o.b) {
    info.expect_dtype(*o.b, dtype, "B");
    expect_shape(info, *o.b, "B", fmt::format("[num_directions, {}]", blocks(2 * g)), {d, 2 * g * h});
  }
  if (o.h0) {
    info.expect_dtype(*o.h0, dtype, "initial_h");
    expect_shape(info, *o.h0, "initial_h", state_form, state);
  }
  if (o.c0) {
    info.expect_dtype(*o.c0, dtype, "initial_c");
    expect_shape(info, *o.c0, "initial_c", state_form, state);
  }
  if (o.p) {
    info.expect_dtype(*o.p, dtype, "P");
    expect_shape(info, *o.p, "P", "[num_directions, 3*hidden_size]", {d, 3 * h});
  }
  if (lens) {
    expect_shape(info, *lens, "sequence_lens", "[batch_size]", {o.batch});
    o.lengths = info.ints(*lens, "sequence_lens");
    for (std::size_t k = 0; k < o.lengths.size(); ++k)
      if (o.lengths[k] < 0 || o.lengths[k] > o.seq)
        info.fail("sequence_lens[{}] = {} is outside [0, seq_length = {}]", k, o.lengths[k], o.seq);
  } else {
    o.lengths.assign(static_cast<std::size_t>(o.batch), o.seq);
  }
  return o;
}

// W or R ([directions, rows, cols]) with each direction's matrix transposed ([directions, cols,
// rows]), so that products with it run along contiguous rows. Constant weights are transposed once,
// at load (RecurrentKernel::prepack).
Tensor transposed(const Tensor& m) {
  Tensor t = Tensor::uninitialized(m.dtype(), {m.dim(0), m.dim(2), m.dim(1)});
  const std::int64_t rows = m.dim(1), cols = m.dim(2);
  visit_dtype<FloatTypes>(m.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = m.values<T>().data();
    T* out = t.values<T>().data();
    for (std::int64_t d = 0; d < m.dim(0); ++d)
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) out[(d * cols + j) * rows + i] = in[(d * rows + i) * cols + j];
  });
  return t;
}

// acc[j] += sum over k < depth of v[k] * mt[k * ld + j], for j < n: a row times a k-major matrix;
// float32 by the loop of the engine's ISA (kernels/vector), float64 here.
template <typename T>
void add_product(const VectorLoops& loops, const T* v, std::int64_t depth, const T* mt, std::int64_t ld, T* acc, std::int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    loops.row_times_matrix(v, depth, mt, ld, acc, n);
  } else {
    for (std::int64_t k = 0; k < depth; ++k) {
      const T a = v[k];
      const T* row = mt + k * ld;
      for (std::int64_t j = 0; j < n; ++j) acc[j] += a * row[j];
    }
  }
}

// One direction of the layer over the whole batch: Y's column `d`, and its final states.
template <typename T> class DirectionRun {
 public:
  DirectionRun(const Recurrent& spec, const Operands& o, std::int64_t d, const VectorLoops& loops)
      : spec_(spec), o_(o), loops_(loops), d_(d), gh_(spec.gates * o.hidden),
        act_(spec.activations.data() + d * std::ssize(spec.activations) / spec.directions),
        clip_(static_cast<T>(spec.clip)) {
    const std::int64_t h = o.hidden, n = o.batch;
    wt_ = o.wt->values<T>().data() + d * gh_ * o.input;
    rt_ = o.rt->values<T>().data() + d * gh_ * h;
    // Wb + Rb are added once to the input projection, except GRU's Rbh under linear_before_reset,
    // which the reset gate scales.
    x_bias_.assign(static_cast<std::size_t>(gh_), T{0});
    h_bias_.assign(static_cast<std::size_t>(h), T{0});
    if (o.b) {
      const T* b = o.b->values<T>().data() + d * 2 * gh_;
      for (std::int64_t j = 0; j < gh_; ++j) x_bias_[static_cast<std::size_t>(j)] = b[j] + b[gh_ + j];
      if (spec.cell == Cell::gru && spec.linear_before_reset)
        for (std::int64_t j = 0; j < h; ++j) {
          x_bias_[static_cast<std::size_t>(2 * h + j)] = b[2 * h + j];
          h_bias_[static_cast<std::size_t>(j)] = b[gh_ + 2 * h + j];
        }
    }
    if (o.p) peephole_ = o.p->values<T>().data() + d * 3 * h;
    h_.assign(static_cast<std::size_t>(n * h), T{0});
    if (spec.cell == Cell::lstm) c_.assign(static_cast<std::size_t>(n * h), T{0});
    for (std::int64_t b = 0; b < n; ++b) {
      if (o.h0) std::copy_n(o.h0->values<T>().data() + state_offset(b), h, h_.data() + b * h);
      if (o.c0) std::copy_n(o.c0->values<T>().data() + state_offset(b), h, c_.data() + b * h);
    }
    gates_.resize(static_cast<std::size_t>(n * gh_));
    scratch_.resize(static_cast<std::size_t>(n * h));
  }

  void run(T* y, T* y_h, T* y_c) {
    project();
    const std::int64_t seq = o_.seq, n = o_.batch, h = o_.hidden, d_count = spec_.directions;
    const bool backwards = d_count == 2 ? d_ == 1 : spec_.reverse;
    const std::int64_t grain = std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(gh_ * h, 1));
    for (std::int64_t s = 0; s < seq; ++s) {
      // An entry of length L runs steps [0, L) in either direction; a reverse one from L - 1.
      const std::int64_t t = backwards ? seq - 1 - s : s;
      parallel_for(n, grain, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t b = begin; b < end; ++b) {
          T* out = y + (spec_.batch_major ? (b * seq + t) * d_count + d_ : (t * d_count + d_) * n + b) * h;
          if (t >= o_.lengths[static_cast<std::size_t>(b)]) {
            std::fill_n(out, h, T{0});
            continue;
          }
          step(b, xw_.data() + (spec_.batch_major ? b * seq + t : t * n + b) * gh_);
          std::copy_n(h_.data() + b * h, h, out);
        }
      });
    }
    for (std::int64_t b = 0; b < n; ++b) {
      std::copy_n(h_.data() + b * h, h, y_h + state_offset(b));
      if (y_c) std::copy_n(c_.data() + b * h, h, y_c + state_offset(b));
    }
  }

 private:
  // Of batch entry b's row of this direction in initial_h, Y_h and their kin.
  std::int64_t state_offset(std::int64_t b) const {
    return (spec_.batch_major ? b * spec_.directions + d_ : d_ * o_.batch + b) * o_.hidden;
  }

  // xw_ = X·Wᵀ + bias for every row of X, in X's order.
  void project() {
    const std::int64_t rows = o_.seq * o_.batch, in = o_.input;
    xw_.resize(static_cast<std::size_t>(rows * gh_));
    const T* x = o_.x->values<T>().data();
    parallel_for(rows, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(gh_ * in, 1)), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) {
        T* out = xw_.data() + row * gh_;
        std::copy_n(x_bias_.data(), gh_, out);
        add_product(loops_, x + row * in, in, wt_, gh_, out, gh_);
      }
    });
  }

  // Batch entry b's state one step on, from its projected input xw.
  void step(std::int64_t b, const T* xw) {
    const std::int64_t h = o_.hidden;
    T* state = h_.data() + b * h;
    T* acc = gates_.data() + b * gh_;
    T* tmp = scratch_.data() + b * h;
    std::copy_n(xw, gh_, acc);
    switch (spec_.cell) {
      case Cell::rnn:
        add_product(loops_, state, h, rt_, gh_, acc, gh_);
        activate(act_[0], clip_, acc, state, h);
        break;
      case Cell::gru: {
        add_product(loops_, state, h, rt_, gh_, acc, 2 * h);
        activate(act_[0], clip_, acc, acc, 2 * h);
        const T *z = acc, *r = acc + h;
        T* candidate = acc + 2 * h;
        if (spec_.linear_before_reset) {
          std::copy_n(h_bias_.data(), h, tmp);
          add_product(loops_, state, h, rt_ + 2 * h, gh_, tmp, h);
          for (std::int64_t j = 0; j < h; ++j) candidate[j] += r[j] * tmp[j];
        } else {
          for (std::int64_t j = 0; j < h; ++j) tmp[j] = r[j] * state[j];
          add_product(loops_, tmp, h, rt_ + 2 * h, gh_, candidate, h);
        }
        activate(act_[1], clip_, candidate, candidate, h);
        for (std::int64_t j = 0; j < h; ++j) state[j] = (T{1} - z[j]) * candidate[j] + z[j] * state[j];
        break;
      }
      case Cell::lstm: {
        add_product(loops_, state, h, rt_, gh_, acc, gh_);
        T *i = acc, *o = acc + h, *f = acc + 2 * h, *c = acc + 3 * h;
        T* cell = c_.data() + b * h;
        if (peephole_)
          for (std::int64_t j = 0; j < h; ++j) i[j] += peephole_[j] * cell[j];
        activate(act_[0], clip_, i, i, h);
        if (spec_.input_forget) {
          for (std::int64_t j = 0; j < h; ++j) f[j] = T{1} - i[j];
        } else {
          if (peephole_)
            for (std::int64_t j = 0; j < h; ++j) f[j] += peephole_[2 * h + j] * cell[j];
          activate(act_[0], clip_, f, f, h);
        }
        activate(act_[1], clip_, c, c, h);
        for (std::int64_t j = 0; j < h; ++j) cell[j] = f[j] * cell[j] + i[j] * c[j];
        if (peephole_)
          for (std::int64_t j = 0; j < h; ++j) o[j] += peephole_[h + j] * cell[j];
        activate(act_[0], clip_, o, o, h);
        activate(act_[2], clip_, cell, tmp, h);
        for (std::int64_t j = 0; j < h; ++j) state[j] = o[j] * tmp[j];
        break;
      }
    }
  }

  const Recurrent& spec_;
  const Operands& o_;
  const VectorLoops& loops_;
  std::int64_t d_, gh_;
  const Activation* act_;  // this direction's functions
  T clip_;
  const T *wt_, *rt_;            // W and R of this direction, transposed: [input, gates*hidden], [hidden, gates*hidden]
  std::vector<T> x_bias_, h_bias_;
  const T* peephole_ = nullptr;  // P [i, o, f] of this direction
  std::vector<T> xw_;            // the input projection, per row of X
  std::vector<T> h_, c_;         // the states, [batch, hidden]
  std::vector<T> gates_, scratch_;  // per batch entry: gates*hidden and hidden values
};

// `wt`, `rt`: W and R transposed at load, or null to transpose them here.
std::vector<Tensor> run_recurrent(const Recurrent& spec, const NodeInfo& info, const VectorLoops& loops, Inputs inputs,
                                  const Tensor* wt, const Tensor* rt) {
  const Tensor& x = info.input(inputs, 0);
  return visit_dtype<FloatTypes>(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Operands o = check_operands(spec, info, inputs);
    std::optional<Tensor> w_transposed, r_transposed;
    o.wt = wt ? wt : &w_transposed.emplace(transposed(*o.w));
    o.rt = rt ? rt : &r_transposed.emplace(transposed(*o.r));
    const std::int64_t d = spec.directions, h = o.hidden;
    const Shape state = spec.batch_major ? Shape{o.batch, d, h} : Shape{d, o.batch, h};
    std::vector<Tensor> outputs;
    outputs.push_back(Tensor::uninitialized(x.dtype(), spec.batch_major ? Shape{o.batch, o.seq, d, h} : Shape{o.seq, d, o.batch, h}));
    outputs.push_back(Tensor::uninitialized(x.dtype(), state));
    if (spec.cell == Cell::lstm) outputs.push_back(Tensor::uninitialized(x.dtype(), state));
    for (std::int64_t k = 0; k < d; ++k)
      DirectionRun<T>(spec, o, k, loops).run(outputs[0].values<T>().data(), outputs[1].values<T>().data(),
                                      spec.cell == Cell::lstm ? outputs[2].values<T>().data() : nullptr);
    return outputs;
  });
}

// Constant W and R (the usual case) are kept transposed from load on.
class RecurrentKernel final : public Kernel {
 public:
  RecurrentKernel(NodeInfo info, Recurrent spec) : info_(std::move(info)), spec_(std::move(spec)), loops_(vector_loops()) {}

  bool prepack(std::size_t input, const Tensor& constant) override {
    if ((input != 1 && input != 2) || constant.rank() != 3 || (constant.dtype() != DType::f32 && constant.dtype() != DType::f64))
      return false;
    Constant& c = input == 1 ? w_ : r_;
    c.plain = constant;
    c.transposed = transposed(constant);
    return true;
  }

  std::vector<Tensor> run(Inputs inputs) const override {
    std::vector<const Tensor*> args(inputs.begin(), inputs.end());
    for (auto [k, c] : {std::pair{std::size_t{1}, &w_}, std::pair{std::size_t{2}, &r_}})
      if (k < args.size() && !args[k] && c->plain) args[k] = &*c->plain;
    return run_recurrent(spec_, info_, loops_, args, w_.plain ? &*w_.transposed : nullptr, r_.plain ? &*r_.transposed : nullptr);
  }

 private:
  struct Constant {
    std::optional<Tensor> plain, transposed;
  };
  NodeInfo info_;
  Recurrent spec_;
  const VectorLoops& loops_;
  Constant w_, r_;
};

std::unique_ptr<Kernel> make_recurrent(const Node& node, Cell cell) {
  NodeInfo info(node);
  Recurrent spec;
  spec.cell = cell;
  spec.gates = cell == Cell::rnn ? 1 : cell == Cell::gru ? 3 : 4;
  if (node.has("hidden_size")) {
    spec.hidden_size = node.get_int("hidden_size", 0);
    if (spec.hidden_size <= 0) info.fail("hidden_size {} is not positive", spec.hidden_size);
  }
  const std::string direction = node.get_string("direction", "forward");
  if (direction == "bidirectional")
    spec.directions = 2;
  else if (direction == "reverse")
    spec.reverse = true;
  else if (direction != "forward")
    info.fail("direction '{}' is not forward, reverse or bidirectional", direction);
  const std::int64_t layout = node.get_int("layout", 0);
  if (layout != 0 && layout != 1) info.fail("layout {} is not 0 or 1", layout);
  spec.batch_major = layout == 1;
  if (node.has("clip")) {
    spec.clip = node.get_float("clip", 0.0f);
    if (!(spec.clip >= 0)) info.fail("clip {} is not a non-negative threshold", spec.clip);
  }
  const std::vector<const char*> defaults = cell == Cell::rnn   ? std::vector<const char*>{"Tanh"}
                                            : cell == Cell::gru ? std::vector<const char*>{"Sigmoid", "Tanh"}
                                                                : std::vector<const char*>{"Sigmoid", "Tanh", "Tanh"};
  spec.activations = parse_activations(node, info, defaults, spec.directions);
  if (cell == Cell::lstm) spec.input_forget = node.get_int("input_forget", 0) != 0;
  if (cell == Cell::gru) spec.linear_before_reset = node.get_int("linear_before_reset", 0) != 0;
  return std::make_unique<RecurrentKernel>(info, std::move(spec));
}

}  // namespace

void add_recurrent_kernels(KernelTable& t) {
  const OpsetRange since_7{7, kNewestOpset};
  const std::vector<DType> floats = dtypes(FloatTypes{});
  t.add("RNN", [](const Node& node, std::int64_t) { return make_recurrent(node, Cell::rnn); }, since_7, floats);
  t.add("GRU", [](const Node& node, std::int64_t) { return make_recurrent(node, Cell::gru); }, since_7, floats);
  t.add("LSTM", [](const Node& node, std::int64_t) { return make_recurrent(node, Cell::lstm); }, since_7, floats);
}

}  // namespace cpuinfer::engine

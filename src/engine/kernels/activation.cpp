// Activations whose function depends on the node's attributes (Elu, Selu, LeakyRelu,
// ThresholdedRelu, HardSigmoid, HardSwish, Celu), Clip, PRelu, IsNaN/IsInf, and Dropout as the
// identity it is at inference.
#include <cmath>
#include <limits>

#include "engine/kernels/elementwise_util.h"

namespace cpuinfer::engine {

namespace {

// A float-only element-wise kernel: make(node) reads the attributes once and returns f(x).
template <typename Make> void add_float_activation(KernelTable& t, const char* op, Make make) {
  t.add(op, [make](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node), f = make(node)](Inputs inputs) {
      const Tensor& x = info.input(inputs, 0);
      Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
      visit_dtype<FloatTypes>(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.values<T>().data();
        T* out = y.values<T>().data();
        parallel_for(static_cast<std::int64_t>(x.numel()), 16384, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t i = b; i < e; ++i) out[i] = static_cast<T>(f(in[i]));
        });
      });
      return std::vector<Tensor>{std::move(y)};
    }, true);
  }, {}, {DType::f32, DType::f64});
}

// IsNaN and IsInf: a boolean per element.
template <typename Make> void add_float_predicate(KernelTable& t, const char* op, Make make) {
  t.add(op, [make](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node), p = make(node)](Inputs inputs) {
      const Tensor& x = info.input(inputs, 0);
      Tensor y = Tensor::uninitialized(DType::boolean, x.shape());
      visit_dtype<FloatTypes>(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* in = x.values<T>().data();
        bool* out = y.values<bool>().data();
        for (std::size_t i = 0; i < x.numel(); ++i) out[i] = p(in[i]);
      });
      return std::vector<Tensor>{std::move(y)};
    });
  }, {}, {DType::f32, DType::f64});
}

// Clip: bounds from attributes before opset 11, from optional scalar inputs after; any numeric type.
std::unique_ptr<Kernel> make_clip(const Node& node, std::int64_t opset) {
  const bool attributes = opset < 11;
  const float lo_attr = node.get_float("min", std::numeric_limits<float>::lowest());
  const float hi_attr = node.get_float("max", std::numeric_limits<float>::max());
  return make_function_kernel([info = NodeInfo(node), attributes, lo_attr, hi_attr](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
    visit_dtype<NumericTypes>(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      {
        T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
        if (attributes) {
          lo = convert<T>(lo_attr);
          hi = convert<T>(hi_attr);
        }
        for (std::size_t k : {1, 2}) {
          const Tensor* bound = info.optional_input(inputs, k);
          if (attributes || !bound) continue;
          if (bound->dtype() != x.dtype() || bound->numel() != 1)
            info.fail("{} must be one {} value, got {} {}", k == 1 ? "min" : "max", dtype_name(x.dtype()),
                      dtype_name(bound->dtype()), shape_string(bound->shape()));
          (k == 1 ? lo : hi) = bound->values<T>()[0];
        }
        const T* in = x.values<T>().data();
        T* out = y.values<T>().data();
        for (std::size_t i = 0; i < x.numel(); ++i) out[i] = in[i] < lo ? lo : (in[i] > hi ? hi : in[i]);
      }
    });
    return std::vector<Tensor>{std::move(y)};
  }, true);
}

// PRelu: x < 0 ? slope * x : x, the slope broadcast to x. Before opset 7 a slope of one value
// per channel applies along axis 1.
std::unique_ptr<Kernel> make_prelu(const Node& node, std::int64_t opset) {
  return make_function_kernel([info = NodeInfo(node), opset](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    Tensor slope = info.input(inputs, 1);
    if (opset < 7 && slope.rank() == 1 && x.rank() > 2 && slope.dim(0) == x.dim(1) && slope.dim(0) > 1) {
      Shape per_channel(x.rank() - 1, 1);
      per_channel[0] = slope.dim(0);
      slope = slope.reshaped(per_channel);
    }
    if (slope.dtype() != x.dtype()) info.fail("slope is {}, X is {}", dtype_name(slope.dtype()), dtype_name(x.dtype()));
    const Broadcast plan = plan_broadcast({x.shape(), slope.shape()}, info);
    if (plan.shape != x.shape()) info.fail("slope {} does not broadcast to X {}", shape_string(slope.shape()), shape_string(x.shape()));
    Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
    visit_dtype<StandardNumbers>(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      broadcast_apply<T, T, T>(plan, y, [](T v, T s) { return v < T(0) ? static_cast<T>(s * v) : v; }, {&x, &slope});
    });
    return std::vector<Tensor>{std::move(y)};
  }, true);
}

// Dropout at inference, or in training mode with a ratio of 0: the input, and a mask of ones.
// Training mode with a ratio above 0 (elements zeroed at random) is refused.
std::unique_ptr<Kernel> make_dropout(const Node& node, std::int64_t opset) {
  NodeInfo info(node);
  if (opset < 7 && node.get_int("is_test", 0) == 0) info.unsupported("training mode (is_test = 0)");
  return make_function_kernel([info, outputs = node.outputs.size()](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    if (const Tensor* training = info.optional_input(inputs, 2)) {
      info.expect_dtype(*training, DType::boolean, "training_mode");
      if (training->numel() != 1) info.fail("training_mode must be one value");
      const Tensor* ratio = info.optional_input(inputs, 1);
      if (ratio && ratio->numel() != 1) info.fail("ratio must be one value");
      const double p = ratio ? cast(*ratio, DType::f64).values<double>()[0] : 0.5;
      if (training->values<bool>()[0] && p != 0) info.unsupported("training mode with a ratio above 0 (random)");
    }
    std::vector<Tensor> result{x};
    if (outputs > 1) {
      Tensor mask = Tensor::uninitialized(DType::boolean, x.shape());
      std::fill_n(mask.values<bool>().data(), mask.numel(), true);
      result.push_back(std::move(mask));
    }
    return result;
  });
}

// min(1, max(0, v)), a NaN kept NaN (std::min and std::max would give a bound).
double unit_clamp(double v) { return v < 0 ? 0.0 : (v > 1 ? 1.0 : v); }

}  // namespace

void add_activation_kernels(KernelTable& t) {
  add_float_activation(t, "Elu", [](const Node& n) {
    return [alpha = double(n.get_float("alpha", 1.0f))](double x) { return x < 0 ? alpha * std::expm1(x) : x; };
  });
  add_float_activation(t, "Selu", [](const Node& n) {
    return [alpha = double(n.get_float("alpha", 1.67326319217681884765625f)),
            gamma = double(n.get_float("gamma", 1.05070102214813232421875f))](double x) {
      return x <= 0 ? gamma * alpha * std::expm1(x) : gamma * x;
    };
  });
  add_float_activation(t, "LeakyRelu", [](const Node& n) {
    return [alpha = double(n.get_float("alpha", 0.01f))](double x) { return x < 0 ? alpha * x : x; };
  });
  add_float_activation(t, "ThresholdedRelu", [](const Node& n) {
    return [alpha = double(n.get_float("alpha", 1.0f))](double x) { return x > alpha ? x : 0.0; };
  });
  add_float_activation(t, "HardSigmoid", [](const Node& n) {
    return [alpha = double(n.get_float("alpha", 0.2f)), beta = double(n.get_float("beta", 0.5f))](double x) {
      return unit_clamp(alpha * x + beta);
    };
  });
  add_float_activation(t, "HardSwish", [](const Node&) {
    return [](double x) { return x * unit_clamp(x / 6 + 0.5); };
  });
  add_float_activation(t, "Celu", [](const Node& n) {
    return [alpha = double(n.get_float("alpha", 1.0f))](double x) {
      return x > 0 ? x : alpha * std::expm1(x / alpha);  // max(0, x) + min(0, ...), NaN kept
    };
  });
  add_float_activation(t, "Shrink", [](const Node& n) {
    return [lambd = double(n.get_float("lambd", 0.5f)), bias = double(n.get_float("bias", 0.0f))](double x) {
      return x < -lambd ? x + bias : (x > lambd ? x - bias : 0.0);
    };
  });
  add_float_predicate(t, "IsNaN", [](const Node&) { return [](double x) { return std::isnan(x); }; });
  add_float_predicate(t, "IsInf", [](const Node& n) {
    return [negative = n.get_int("detect_negative", 1) != 0, positive = n.get_int("detect_positive", 1) != 0](double x) {
      return std::isinf(x) && ((x < 0 && negative) || (x > 0 && positive));
    };
  });
  t.add("Clip", make_clip);
  t.add("PRelu", make_prelu);
  t.add("Dropout", make_dropout);
}

}  // namespace cpuinfer::engine

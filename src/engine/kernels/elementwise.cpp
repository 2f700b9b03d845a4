// Element-wise operators: unary math, binary arithmetic and comparisons with broadcasting, Where,
// Cast (activations with attributes: activation.cpp; Min/Max/Sum/Mean: variadic.cpp). Integer arithmetic wraps (two's complement) instead of overflowing, and integer division
// by zero is an error, so that no input can cause undefined behaviour.
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "engine/kernels/elementwise_util.h"
#include "engine/onnx/tensor_proto.h"
#include "engine/kernels/vector/vector_loops.h"

namespace cpuinfer::engine {

namespace {

// ---- unary ----

// `vector`: the float32 loop of kernels/vector (per ISA), if it has one.
template <typename F>
void add_unary(KernelTable& t, const char* op, bool floats_only, F f, std::optional<VectorOp> vector = std::nullopt) {
  t.add(op, [floats_only, f, vector](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node), floats_only, f, vector, &loops = vector_loops()](Inputs inputs) {
      const Tensor& x = info.input(inputs, 0);
      Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
      if (vector && x.dtype() == DType::f32) {
        const float* in = x.values<float>().data();
        float* out = y.values<float>().data();
        parallel_for(static_cast<std::int64_t>(x.numel()), 16384, [&](std::int64_t b, std::int64_t e) {
          loops.map(*vector, in + b, out + b, e - b, 1.0f);
        });
        return std::vector<Tensor>{std::move(y)};
      }
      visit_dtype<StandardNumbers>(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        if (floats_only && !is_float<T>) info.unsupported("element type {}", dtype_name(x.dtype()));
        const T* in = x.values<T>().data();
        T* out = y.values<T>().data();
        parallel_for(static_cast<std::int64_t>(x.numel()), 16384, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t i = b; i < e; ++i) out[i] = f(in[i]);
        });
      });
      return std::vector<Tensor>{std::move(y)};
    }, true);
  }, {}, floats_only ? dtypes(FloatTypes{}) : dtypes(StandardNumbers{}));
}

// ---- binary ----

// The two operands of a binary operator, which must have one element type, and their broadcast.
struct BinaryOperands {
  const Tensor& a;
  const Tensor& b;
  Broadcast plan;
};
BinaryOperands same_type_operands(Inputs inputs, const NodeInfo& info) {
  const Tensor& a = info.input(inputs, 0);
  const Tensor& b = info.input(inputs, 1);
  if (a.dtype() != b.dtype()) info.fail("operands have different types {} and {}", dtype_name(a.dtype()), dtype_name(b.dtype()));
  return {a, b, plan_broadcast({a.shape(), b.shape()}, info)};
}

// Wrapping integer arithmetic: computed on an unsigned type at least as wide as unsigned int
// (narrower ones would promote to int, whose overflow is undefined).
template <typename T> T wrap(T a, T b, char op) {
  using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
  const U ua = static_cast<U>(a), ub = static_cast<U>(b);
  switch (op) {
    case '+': return static_cast<T>(static_cast<U>(ua + ub));
    case '-': return static_cast<T>(static_cast<U>(ua - ub));
    default: return static_cast<T>(static_cast<U>(ua * ub));
  }
}

template <typename T> T arithmetic(T a, T b, char op) {
  if constexpr (is_int<T>) {
    if (op == '/') return a / b;  // divisors checked before the loop
    return wrap(a, b, op);
  } else {
    switch (op) {
      case '+': return a + b;
      case '-': return a - b;
      case '*': return a * b;
      default: return a / b;
    }
  }
}

void add_arithmetic(KernelTable& t, const char* op, char symbol) {
  t.add(op, [symbol](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node), symbol](Inputs inputs) {
      const BinaryOperands operands = same_type_operands(inputs, info);  // no structured binding: lambdas capture these
      const Tensor &a = operands.a, &b = operands.b;
      const Broadcast& plan = operands.plan;
      Tensor y = allocate_checked(a.dtype(), plan.shape, info);
      visit_dtype<NumericTypes>(a.dtype(), [&](auto tag) {
        using T = decltype(tag);
        {
          if constexpr (is_int<T>) {
            if (symbol == '/') {
              bool minus_one = false;
              for (T d : b.values<T>()) {
                if (d == 0) info.fail("integer division by zero");
                if constexpr (std::is_signed_v<T>) minus_one = minus_one || d == T(-1);
              }
              if (minus_one)
                for (T n : a.values<T>())
                  if (n == std::numeric_limits<T>::min()) info.fail("integer division overflows");
            }
          }
          broadcast_apply<T, T, T>(plan, y, [symbol](T x, T z) { return arithmetic(x, z, symbol); }, {&a, &b});
        }
      });
      return std::vector<Tensor>{std::move(y)};
    }, true);
  }, {}, dtypes(NumericTypes{}));
}

template <typename T> T power(T base, double exponent) {
  if constexpr (std::is_same_v<T, float>) return std::pow(base, static_cast<float>(exponent));
  else if constexpr (std::is_same_v<T, double>) return std::pow(base, exponent);
  else {
    const double r = std::pow(static_cast<double>(base), exponent);
    // Exclusive upper bound: double(INT64_MAX) rounds up to 2^63, which does not fit.
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
    constexpr double hi = -static_cast<double>(std::numeric_limits<T>::min());
    if (!(r >= lo && r < hi)) return std::numeric_limits<T>::min();
    return static_cast<T>(r);
  }
}

// Mod: with fmod = 0 the remainder takes the divisor's sign (integers only), with fmod = 1 the
// dividend's (C's fmod). An integer divisor of zero is an error.
void add_mod(KernelTable& t) {
  t.add("Mod", [](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node), fmod = node.get_int("fmod", 0) != 0](Inputs inputs) {
      const BinaryOperands operands = same_type_operands(inputs, info);  // no structured binding: lambdas capture these
      const Tensor &a = operands.a, &b = operands.b;
      const Broadcast& plan = operands.plan;
      Tensor y = allocate_checked(a.dtype(), plan.shape, info);
      visit_dtype<NumericTypes>(a.dtype(), [&](auto tag) {
        using T = decltype(tag);
        if constexpr (is_float<T>) {
          if (!fmod) info.fail("fmod must be 1 for floating-point operands");
          broadcast_apply<T, T, T>(plan, y, [](T x, T d) { return std::fmod(x, d); }, {&a, &b});
        } else {
          for (T d : b.values<T>())
            if (d == 0) info.fail("integer division by zero");
          broadcast_apply<T, T, T>(plan, y, [fmod](T x, T d) {
            if constexpr (std::is_signed_v<T>) {
              if (d == T(-1)) return T(0);  // INT_MIN % -1 overflows
              const T r = static_cast<T>(x % d);
              return !fmod && r != 0 && ((r < 0) != (d < 0)) ? static_cast<T>(r + d) : r;
            } else {
              (void)fmod;  // unsigned: both conventions agree
              return static_cast<T>(x % d);
            }
          }, {&a, &b});
        }
      });
      return std::vector<Tensor>{std::move(y)};
    });
  }, {}, dtypes(NumericTypes{}));
}

// BitShift on unsigned integers; a shift by the width or more gives 0.
void add_bit_shift(KernelTable& t) {
  using Unsigned = TypeList<std::uint8_t, std::uint16_t, std::uint32_t, std::uint64_t>;
  t.add("BitShift", [](const Node& node, std::int64_t) {
    NodeInfo info(node);
    const std::string direction = node.get_string("direction", "");
    if (direction != "LEFT" && direction != "RIGHT") info.fail("direction must be LEFT or RIGHT, got '{}'", direction);
    return make_function_kernel([info, left = direction == "LEFT"](Inputs inputs) {
      const BinaryOperands operands = same_type_operands(inputs, info);  // no structured binding: lambdas capture these
      const Tensor &a = operands.a, &b = operands.b;
      const Broadcast& plan = operands.plan;
      Tensor y = allocate_checked(a.dtype(), plan.shape, info);
      visit_dtype<Unsigned>(a.dtype(), [&](auto tag) {
        using T = decltype(tag);
        broadcast_apply<T, T, T>(plan, y, [left](T x, T n) {
          if (n >= sizeof(T) * 8) return T(0);
          return static_cast<T>(left ? x << n : x >> n);
        }, {&a, &b});
      });
      return std::vector<Tensor>{std::move(y)};
    }, true);
  }, {}, dtypes(Unsigned{}));
}

// Pow's bases as ONNX types them (the halves through float32); its exponents may be any number.
using PowerBases = TypeList<float, double, std::int32_t, std::int64_t>;

void add_pow(KernelTable& t) {
  t.add("Pow", [](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
      const Tensor& a = info.input(inputs, 0);
      const Tensor& b = info.input(inputs, 1);
      Broadcast plan = plan_broadcast({a.shape(), b.shape()}, info);
      Tensor y = allocate_checked(a.dtype(), plan.shape, info);
      visit_dtype<PowerBases>(a.dtype(), [&](auto tag) {
        using T = decltype(tag);
        visit_dtype<NumericTypes>(b.dtype(), [&](auto tag2) {
          using E = decltype(tag2);
          if constexpr (std::is_same_v<T, float> && std::is_same_v<E, float>) {
            broadcast_apply<T, T, E>(plan, y, [](float x, float e) { return std::pow(x, e); }, {&a, &b});
          } else {
            broadcast_apply<T, T, E>(plan, y, [](T x, E e) { return power(x, static_cast<double>(e)); }, {&a, &b});
          }
        });
      });
      return std::vector<Tensor>{std::move(y)};
    });
  });
}

template <typename Compare> void add_comparison(KernelTable& t, const char* op, Compare compare) {
  t.add(op, [compare](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node), compare](Inputs inputs) {
      const BinaryOperands operands = same_type_operands(inputs, info);  // no structured binding: lambdas capture these
      const Tensor &a = operands.a, &b = operands.b;
      const Broadcast& plan = operands.plan;
      Tensor y = allocate_checked(DType::boolean, plan.shape, info);
      visit_dtype(a.dtype(), [&](auto tag) {
        using T = decltype(tag);
        broadcast_apply<bool, T, T>(plan, y, [compare](T x, T z) { return compare(x, z); }, {&a, &b});
      });
      return std::vector<Tensor>{std::move(y)};
    });
  });
}

template <typename Logic> void add_logic(KernelTable& t, const char* op, Logic logic) {
  t.add(op, [logic](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node), logic](Inputs inputs) {
      const Tensor& a = info.input(inputs, 0);
      const Tensor& b = info.input(inputs, 1);
      info.expect_dtype(a, DType::boolean, "input A");
      info.expect_dtype(b, DType::boolean, "input B");
      Broadcast plan = plan_broadcast({a.shape(), b.shape()}, info);
      Tensor y = allocate_checked(DType::boolean, plan.shape, info);
      broadcast_apply<bool, bool, bool>(plan, y, logic, {&a, &b});
      return std::vector<Tensor>{std::move(y)};
    });
  });
}

void add_where(KernelTable& t) {
  t.add("Where", [](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
      const Tensor& c = info.input(inputs, 0);
      const Tensor& x = info.input(inputs, 1);
      const Tensor& z = info.input(inputs, 2);
      info.expect_dtype(c, DType::boolean, "condition");
      if (x.dtype() != z.dtype())
        info.fail("X and Y have different types {} and {}", dtype_name(x.dtype()), dtype_name(z.dtype()));
      Broadcast plan = plan_broadcast({c.shape(), x.shape(), z.shape()}, info);
      Tensor y = allocate_checked(x.dtype(), plan.shape, info);
      visit_element_size(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        broadcast_apply<T, bool, T, T>(plan, y, [](bool cond, T p, T q) { return cond ? p : q; }, {&c, &x, &z});
      });
      return std::vector<Tensor>{std::move(y)};
    });
  }, {}, dtypes(AllTypes{}));
}

// Cast-19 and -24 changed float8 and float8e8m0 conversions only: types the engine refuses at
// import, so every later Cast means what Cast-13 means for the types it has.
void add_cast(KernelTable& t) {
  constexpr OpsetRange through_24{1, 24};
  t.add("Cast", [](const Node& node, std::int64_t) -> std::unique_ptr<Kernel> {
    NodeInfo info(node);
    if (!node.has("to")) info.fail("attribute 'to' is required");
    const std::int64_t to = node.get_int("to", 0);
    const std::optional<DType> target = dtype_from_onnx(static_cast<int>(to));
    if (!target) info.unsupported("cast to {}", onnx_type_name(static_cast<int>(to)));
    return make_function_kernel([info, target = *target](Inputs inputs) { return one(cast(info.input(inputs, 0), target)); });
  }, through_24, dtypes(AllTypes{}));
  // CastLike: to the type of input 1.
  t.add("CastLike", [](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
      return one(cast(info.input(inputs, 0), info.input(inputs, 1).dtype()));
    });
  }, through_24, dtypes(AllTypes{}));
}

}  // namespace

void add_elementwise_kernels(KernelTable& t) {
  add_unary(t, "Relu", false, [](auto x) { return x < decltype(x)(0) ? decltype(x)(0) : x; }, VectorOp::relu);  // NaN stays
  add_unary(t, "Neg", false, [](auto x) {
    using T = decltype(x);
    if constexpr (is_int<T>) return wrap<T>(T(0), x, '-');
    else return -x;
  });
  add_unary(t, "Abs", false, [](auto x) {
    using T = decltype(x);
    if constexpr (is_int<T>) return x < T(0) ? wrap<T>(T(0), x, '-') : x;
    else return std::abs(x);
  });
  add_unary(t, "Erf", true, [](auto x) { return static_cast<decltype(x)>(std::erf(x)); }, VectorOp::erf);
  add_unary(t, "Tanh", true, [](auto x) { return static_cast<decltype(x)>(std::tanh(x)); }, VectorOp::tanh);
  add_unary(t, "Sqrt", true, [](auto x) { return static_cast<decltype(x)>(std::sqrt(x)); }, VectorOp::sqrt);
  add_unary(t, "Exp", true, [](auto x) { return static_cast<decltype(x)>(std::exp(x)); }, VectorOp::exp);
  add_unary(t, "Log", true, [](auto x) { return static_cast<decltype(x)>(std::log(x)); }, VectorOp::log);
  add_unary(t, "Floor", true, [](auto x) { return static_cast<decltype(x)>(std::floor(x)); });
  add_unary(t, "Ceil", true, [](auto x) { return static_cast<decltype(x)>(std::ceil(x)); });
  add_unary(t, "Reciprocal", true, [](auto x) { return static_cast<decltype(x)>(1 / x); });
  add_unary(t, "Sigmoid", true, [](auto x) {
    using T = decltype(x);
    return x >= T(0) ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
  }, VectorOp::sigmoid);
  add_unary(t, "Sign", false, [](auto x) {
    using T = decltype(x);
    return x != x ? x : static_cast<T>((x > T(0)) - (x < T(0)));  // NaN stays
  });
  add_unary(t, "Round", true, [](auto x) { return std::nearbyint(x); });  // halves to even
  add_unary(t, "Softplus", true, [](auto x) {
    using T = decltype(x);
    return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  });
  add_unary(t, "Softsign", true, [](auto x) { return x / (decltype(x)(1) + std::abs(x)); });
  add_unary(t, "Sin", true, [](auto x) { return std::sin(x); });
  add_unary(t, "Cos", true, [](auto x) { return std::cos(x); });
  add_unary(t, "Tan", true, [](auto x) { return std::tan(x); });
  add_unary(t, "Asin", true, [](auto x) { return std::asin(x); });
  add_unary(t, "Acos", true, [](auto x) { return std::acos(x); });
  add_unary(t, "Atan", true, [](auto x) { return std::atan(x); });
  add_unary(t, "Sinh", true, [](auto x) { return std::sinh(x); });
  add_unary(t, "Cosh", true, [](auto x) { return std::cosh(x); });
  add_unary(t, "Asinh", true, [](auto x) { return std::asinh(x); });
  add_unary(t, "Acosh", true, [](auto x) { return std::acosh(x); });
  add_unary(t, "Atanh", true, [](auto x) { return std::atanh(x); });
  add_arithmetic(t, "Add", '+');
  add_arithmetic(t, "Sub", '-');
  add_arithmetic(t, "Mul", '*');
  add_arithmetic(t, "Div", '/');
  add_pow(t);
  add_mod(t);
  add_bit_shift(t);
  add_comparison(t, "Equal", [](auto a, auto b) { return a == b; });
  add_comparison(t, "Less", [](auto a, auto b) { return a < b; });
  add_comparison(t, "Greater", [](auto a, auto b) { return a > b; });
  add_comparison(t, "LessOrEqual", [](auto a, auto b) { return a <= b; });
  add_comparison(t, "GreaterOrEqual", [](auto a, auto b) { return a >= b; });
  add_logic(t, "And", [](bool a, bool b) { return a && b; });
  add_logic(t, "Or", [](bool a, bool b) { return a || b; });
  add_logic(t, "Xor", [](bool a, bool b) { return a != b; });
  t.add("Not", [](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
      const Tensor& x = info.input(inputs, 0);
      info.expect_dtype(x, DType::boolean, "input");
      Tensor y(DType::boolean, x.shape());
      auto in = x.values<bool>();
      auto out = y.values<bool>();
      for (std::size_t i = 0; i < in.size(); ++i) out[i] = !in[i];
      return std::vector<Tensor>{std::move(y)};
    });
  });
  add_where(t);
  add_cast(t);
}

}  // namespace cpuinfer::engine

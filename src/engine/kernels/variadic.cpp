// Min, Max, Sum and Mean: element-wise over any number of inputs with multidirectional
// broadcasting, folded left to right (Mean divides the sum by the count); Min and Max of a NaN are NaN.
#include "engine/kernels/elementwise_util.h"

namespace cpuinfer::engine {

namespace {

enum class Fold { min, max, sum, mean };

template <typename T> T combine(Fold fold, T a, T b) {
  switch (fold) {
    // NaN wins, as in ONNX Runtime (and numpy's minimum and maximum).
    case Fold::min: return b < a || b != b ? b : a;
    case Fold::max: return b > a || b != b ? b : a;
    default:
      if constexpr (is_int<T>) return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) + static_cast<std::make_unsigned_t<T>>(b));
      else return a + b;
  }
}

std::unique_ptr<Kernel> make_variadic(const Node& node, Fold fold) {
  return make_function_kernel([info = NodeInfo(node), fold](Inputs inputs) {
    if (inputs.empty()) info.fail("needs at least one input");
    const Tensor& first = info.input(inputs, 0);
    std::vector<Shape> shapes;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const Tensor& t = info.input(inputs, k);
      if (t.dtype() != first.dtype()) info.fail("input {} is {}, input 0 is {}", k, dtype_name(t.dtype()), dtype_name(first.dtype()));
      shapes.push_back(t.shape());
    }
    plan_broadcast(shapes, info);  // all inputs broadcast together, or an error naming the shapes
    Tensor acc = first;
    visit_dtype<NumericTypes>(first.dtype(), [&](auto tag) {
      using T = decltype(tag);
      {
        if (fold == Fold::mean && !is_float<T>) info.unsupported("Mean of {}", dtype_name(first.dtype()));
        for (std::size_t k = 1; k < inputs.size(); ++k) {
          const Tensor& next = *inputs[k];
          const Broadcast plan = plan_broadcast({acc.shape(), next.shape()}, info);
          Tensor out = allocate_checked(first.dtype(), plan.shape, info);
          broadcast_apply<T, T, T>(plan, out, [fold](T a, T b) { return combine(fold, a, b); }, {&acc, &next});
          acc = std::move(out);
        }
        if (inputs.size() == 1) {  // a copy of the one input
          const Broadcast plan = plan_broadcast({acc.shape()}, info);
          Tensor out = allocate_checked(first.dtype(), plan.shape, info);
          broadcast_apply<T, T>(plan, out, [](T a) { return a; }, {&acc});
          acc = std::move(out);
        }
        if (fold == Fold::mean) {
          if constexpr (is_float<T>) {
            const T n = static_cast<T>(inputs.size());
            for (T& v : acc.values<T>()) v /= n;
          }
        }
      }
    });
    return std::vector<Tensor>{std::move(acc)};
  });
}

}  // namespace

void add_variadic_kernels(KernelTable& t) {
  t.add("Min", [](const Node& n, std::int64_t) { return make_variadic(n, Fold::min); });
  t.add("Max", [](const Node& n, std::int64_t) { return make_variadic(n, Fold::max); });
  t.add("Sum", [](const Node& n, std::int64_t) { return make_variadic(n, Fold::sum); });
  t.add("Mean", [](const Node& n, std::int64_t) { return make_variadic(n, Fold::mean); });
}

}  // namespace cpuinfer::engine

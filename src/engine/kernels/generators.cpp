// Tensors made from scalars and shapes: Range, EyeLike, and the Hann, Hamming and Blackman windows.
#include <cmath>
#include <numbers>

#include "engine/kernels/elementwise_util.h"

namespace cpuinfer::engine {

namespace {

// Range(start, limit, delta): max(ceil((limit - start) / delta), 0) values.
std::unique_ptr<Kernel> make_range(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
    const Tensor& start = info.input(inputs, 0);
    const Tensor& limit = info.input(inputs, 1);
    const Tensor& delta = info.input(inputs, 2);
    for (const Tensor* s : {&start, &limit, &delta}) {
      if (s->numel() != 1) info.fail("start, limit and delta must be scalars, got {}", shape_string(s->shape()));
      if (s->dtype() != start.dtype()) info.fail("start, limit and delta must have one type");
    }
    Tensor y;
    visit_dtype<StandardNumbers>(start.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T s = start.values<T>()[0], l = limit.values<T>()[0], d = delta.values<T>()[0];
      if (d == T(0)) info.fail("delta is zero");
      const double count = std::ceil((static_cast<double>(l) - static_cast<double>(s)) / static_cast<double>(d));
      if (std::isnan(count)) info.fail("start {}, limit {} and delta {} give no count of values", s, l, d);
      if (count > static_cast<double>(kMaxDimension)) info.fail("start {}, limit {} and delta {} give {:g} values", s, l, d, count);
      const auto n = static_cast<std::int64_t>(std::max(count, 0.0));
      y = allocate_checked(start.dtype(), {n}, info);
      T* o = y.values<T>().data();
      for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(s + static_cast<T>(i) * d);
    });
    return one(std::move(y));
  });
}

// EyeLike(x): x's 2-D shape, ones on the diagonal shifted by k, of type `dtype` (default x's).
std::unique_ptr<Kernel> make_eye_like(const Node& node, std::int64_t) {
  NodeInfo info(node);
  std::optional<DType> dtype;
  if (node.has("dtype")) {
    switch (node.get_int("dtype", 1)) {
      case 1: dtype = DType::f32; break;
      case 6: dtype = DType::i32; break;
      case 7: dtype = DType::i64; break;
      case 9: dtype = DType::boolean; break;
      case 11: dtype = DType::f64; break;
      default: info.unsupported("dtype {}", node.get_int("dtype", 1));
    }
  }
  return make_function_kernel([info, dtype, k = node.get_int("k", 0)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    if (x.rank() != 2) info.fail("input must be 2-D, got {}", shape_string(x.shape()));
    Tensor y(dtype.value_or(x.dtype()), x.shape());
    visit_dtype(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* o = y.values<T>().data();
      for (std::int64_t i = 0; i < x.dim(0); ++i)
        if (const std::int64_t j = i + k; j >= 0 && j < x.dim(1)) o[i * x.dim(1) + j] = T(1);
    });
    return one(std::move(y));
  });
}

// A window of `size` values (periodic: of size + 1, the last dropped), as float32 unless
// output_datatype says float64: a0 - a1 cos(2 pi k / N) + a2 cos(4 pi k / N).
std::unique_ptr<Kernel> make_window(const Node& node, double a0, double a1, double a2) {
  NodeInfo info(node);
  const std::int64_t type = node.get_int("output_datatype", 1);
  if (type != 1 && type != 11) info.unsupported("output_datatype {}", type);
  return make_function_kernel([info, a0, a1, a2, f64 = type == 11, periodic = node.get_int("periodic", 1) != 0](Inputs inputs) {
    const auto size = info.ints(info.input(inputs, 0), "size");
    if (size.size() != 1 || size[0] < 0) info.fail("size must be one non-negative value");
    Tensor y = allocate_checked(f64 ? DType::f64 : DType::f32, {size[0]}, info);
    const double n = static_cast<double>(periodic ? size[0] : size[0] - 1);
    visit_dtype(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_float<T>) {
        T* o = y.values<T>().data();
        for (std::int64_t k = 0; k < size[0]; ++k) {
          const double t = n > 0 ? 2 * std::numbers::pi * static_cast<double>(k) / n : 0.0;
          o[k] = static_cast<T>(a0 - a1 * std::cos(t) + a2 * std::cos(2 * t));
        }
      }
    });
    return one(std::move(y));
  });
}

}  // namespace

void add_generator_kernels(KernelTable& t) {
  t.add("HannWindow", [](const Node& n, std::int64_t) { return make_window(n, 0.5, 0.5, 0.0); });
  t.add("HammingWindow", [](const Node& n, std::int64_t) { return make_window(n, 25.0 / 46.0, 21.0 / 46.0, 0.0); });
  t.add("BlackmanWindow", [](const Node& n, std::int64_t) { return make_window(n, 0.42, 0.5, 0.08); });
  t.add("Range", make_range);
  t.add("EyeLike", make_eye_like);
}

}  // namespace cpuinfer::engine

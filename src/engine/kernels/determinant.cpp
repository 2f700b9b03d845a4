// Det: the determinant of each square matrix in the last two dimensions, by LU decomposition with
// partial pivoting in double precision.
#include <cmath>
#include <utility>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

namespace {

double determinant(std::vector<double>& a, std::int64_t n) {
  double det = 1;
  for (std::int64_t k = 0; k < n; ++k) {
    std::int64_t pivot = k;
    for (std::int64_t r = k + 1; r < n; ++r)
      if (std::abs(a[static_cast<std::size_t>(r * n + k)]) > std::abs(a[static_cast<std::size_t>(pivot * n + k)])) pivot = r;
    if (a[static_cast<std::size_t>(pivot * n + k)] == 0) return 0;
    if (pivot != k) {
      for (std::int64_t c = 0; c < n; ++c) std::swap(a[static_cast<std::size_t>(k * n + c)], a[static_cast<std::size_t>(pivot * n + c)]);
      det = -det;
    }
    const double d = a[static_cast<std::size_t>(k * n + k)];
    det *= d;
    for (std::int64_t r = k + 1; r < n; ++r) {
      const double f = a[static_cast<std::size_t>(r * n + k)] / d;
      for (std::int64_t c = k + 1; c < n; ++c) a[static_cast<std::size_t>(r * n + c)] -= f * a[static_cast<std::size_t>(k * n + c)];
    }
  }
  return det;
}

std::unique_ptr<Kernel> make_det(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    if (x.rank() < 2 || x.dim(x.rank() - 1) != x.dim(x.rank() - 2))
      info.fail("input of shape {} is not a batch of square matrices", shape_string(x.shape()));
    const std::int64_t n = x.dim(x.rank() - 1);
    const Shape batch(x.shape().begin(), x.shape().end() - 2);
    Tensor y = Tensor::uninitialized(x.dtype(), batch);
    visit_dtype<FloatTypes>(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* in = x.values<T>().data();
      T* out = y.values<T>().data();
      std::vector<double> a(static_cast<std::size_t>(n * n));
      for (std::size_t m = 0; m < y.numel(); ++m) {
        for (std::size_t i = 0; i < a.size(); ++i) a[i] = in[m * a.size() + i];
        out[m] = static_cast<T>(determinant(a, n));
      }
    });
    return one(std::move(y));
  });
}

}  // namespace

void add_determinant_kernels(KernelTable& t) { t.add("Det", make_det, {}, {DType::f32, DType::f64}); }

}  // namespace cpuinfer::engine

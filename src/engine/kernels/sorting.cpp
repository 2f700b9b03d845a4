// TopK: the k largest (or smallest) values along an axis with their int64 indices; ties keep the
// lower index first, as ONNX specifies.
#include <algorithm>
#include <numeric>

#include "engine/kernels/elementwise_util.h"

namespace cpuinfer::engine {

namespace {

std::unique_ptr<Kernel> make_top_k(const Node& node, std::int64_t opset) {
  const bool largest = node.get_int("largest", 1) != 0;
  return make_function_kernel([info = NodeInfo(node), opset, largest, axis_attr = node.get_int("axis", -1),
                               k_attr = node.get_int("k", 0)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    std::int64_t k = k_attr;
    if (opset >= 10) {
      const auto ks = info.ints(info.input(inputs, 1), "K");
      if (ks.size() != 1) info.fail("K must be one value");
      k = ks[0];
    }
    if (x.rank() == 0) info.fail("input is a scalar");
    const auto axis = static_cast<std::size_t>(info.axis(axis_attr, x.rank()));
    const std::int64_t n = x.dim(axis);
    if (k < 0 || k > n) info.fail("K {} is outside [0, {}]", k, n);
    const std::int64_t outer = product(x.shape(), 0, axis), inner = product(x.shape(), axis + 1, x.rank());
    Shape out = x.shape();
    out[axis] = k;
    Tensor values = Tensor::uninitialized(x.dtype(), out), indices = Tensor::uninitialized(DType::i64, out);
    std::int64_t* idx = indices.values<std::int64_t>().data();
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* in = x.values<T>().data();
      T* v = values.values<T>().data();
      std::vector<std::int64_t> order(static_cast<std::size_t>(n));
      for (std::int64_t a = 0; a < outer; ++a)
        for (std::int64_t b = 0; b < inner; ++b) {
          const T* row = in + a * n * inner + b;
          std::iota(order.begin(), order.end(), std::int64_t{0});
          std::stable_sort(order.begin(), order.end(), [&](std::int64_t p, std::int64_t q) {
            return largest ? row[p * inner] > row[q * inner] : row[p * inner] < row[q * inner];
          });
          for (std::int64_t j = 0; j < k; ++j) {
            const std::int64_t at = (a * k + j) * inner + b;
            idx[at] = order[static_cast<std::size_t>(j)];
            v[at] = row[order[static_cast<std::size_t>(j)] * inner];
          }
        }
    });
    return std::vector<Tensor>{std::move(values), std::move(indices)};
  });
}

}  // namespace

void add_sorting_kernels(KernelTable& t) { t.add("TopK", make_top_k); }

}  // namespace cpuinfer::engine

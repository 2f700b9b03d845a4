// TopK: the k largest (or smallest) values along an axis with their int64 indices; ties keep the
// lower index first, as ONNX specifies. Unique: the distinct elements, or slices along an axis, in
// sorted or first-seen order, with their first indices, the inverse mapping and the counts.
#include <algorithm>
#include <numeric>
#include <optional>

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

std::unique_ptr<Kernel> make_unique_op(const Node& node, std::int64_t) {
  const bool sorted = node.get_int("sorted", 1) != 0;
  const std::optional<std::int64_t> axis_attr = node.has("axis") ? std::optional(node.get_int("axis", 0)) : std::nullopt;
  return make_function_kernel([info = NodeInfo(node), sorted, axis_attr](Inputs inputs) {
    const Tensor& input = info.input(inputs, 0);
    // Without an axis the flattened elements are the slices.
    const Tensor x = axis_attr ? input : input.reshaped({static_cast<std::int64_t>(input.numel())});
    if (x.rank() == 0) info.fail("input is a scalar");
    const auto axis = static_cast<std::size_t>(axis_attr ? info.axis(*axis_attr, x.rank()) : 0);
    const std::int64_t outer = product(x.shape(), 0, axis), n = x.dim(axis), inner = product(x.shape(), axis + 1, x.rank());
    std::vector<Tensor> result;
    visit_dtype<NumericTypes>(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* in = x.values<T>().data();
      // Slice k: the elements at [o, k, i] for every outer o and inner i, compared in that order.
      auto compare = [&](std::int64_t p, std::int64_t q) {
        for (std::int64_t o = 0; o < outer; ++o)
          for (std::int64_t i = 0; i < inner; ++i) {
            const T a = in[(o * n + p) * inner + i], b = in[(o * n + q) * inner + i];
            if (a < b) return -1;
            if (b < a) return 1;
          }
        return 0;
      };
      std::vector<std::int64_t> order(static_cast<std::size_t>(n));
      std::iota(order.begin(), order.end(), std::int64_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::int64_t p, std::int64_t q) { return compare(p, q) < 0; });
      // Groups of equal slices, each first met at its lowest index (stable sort: the group's first).
      std::vector<std::int64_t> first, counts, inverse(static_cast<std::size_t>(n));
      for (std::size_t k = 0; k < order.size(); ++k) {
        if (k == 0 || compare(order[k - 1], order[k]) != 0) {
          first.push_back(order[k]);
          counts.push_back(0);
        }
        ++counts.back();
        inverse[static_cast<std::size_t>(order[k])] = static_cast<std::int64_t>(first.size() - 1);
      }
      std::vector<std::size_t> rank(first.size());  // output position of each group
      std::iota(rank.begin(), rank.end(), std::size_t{0});
      if (!sorted) {
        std::vector<std::size_t> by_first(first.size());
        std::iota(by_first.begin(), by_first.end(), std::size_t{0});
        std::sort(by_first.begin(), by_first.end(), [&](std::size_t a, std::size_t b) { return first[a] < first[b]; });
        for (std::size_t k = 0; k < by_first.size(); ++k) rank[by_first[k]] = k;
      }
      const auto groups = static_cast<std::int64_t>(first.size());
      Shape y_shape = x.shape();
      y_shape[axis] = groups;
      Tensor y = Tensor::uninitialized(x.dtype(), y_shape), indices = Tensor::uninitialized(DType::i64, {groups}),
             inverse_indices = Tensor::uninitialized(DType::i64, {n}), count_out = Tensor::uninitialized(DType::i64, {groups});
      T* out = y.values<T>().data();
      for (std::size_t g = 0; g < first.size(); ++g) {
        const auto at = static_cast<std::int64_t>(rank[g]);
        for (std::int64_t o = 0; o < outer; ++o)
          for (std::int64_t i = 0; i < inner; ++i) out[(o * groups + at) * inner + i] = in[(o * n + first[g]) * inner + i];
        indices.values<std::int64_t>()[rank[g]] = first[g];
        count_out.values<std::int64_t>()[rank[g]] = counts[g];
      }
      for (std::size_t k = 0; k < inverse.size(); ++k)
        inverse_indices.values<std::int64_t>()[k] = static_cast<std::int64_t>(rank[static_cast<std::size_t>(inverse[k])]);
      result = {std::move(y), std::move(indices), std::move(inverse_indices), std::move(count_out)};
    });
    return result;
  });
}

}  // namespace

void add_sorting_kernels(KernelTable& t) {
  t.add("TopK", make_top_k);
  t.add("Unique", make_unique_op);
}

}  // namespace cpuinfer::engine

// Max pooling by plain loops, for what oneDNN's pooling (kernels/pooling.cpp) does not give: the
// Indices output (flat positions in the input, row- or column-major over the spatial dimensions
// as storage_order says) and integer element types; and MaxUnpool, which scatters pooled values
// back to those positions.
#include <cstring>
#include <limits>

#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/max_pool_indices.h"

namespace cpuinfer::engine {

std::vector<Tensor> max_pool_indices(const Tensor& x, const Window& window, bool column_major, const NodeInfo& info) {
  if (x.rank() < 3) info.fail("input of shape {} has no spatial dimensions", shape_string(x.shape()));
  const std::vector<std::int64_t> in(x.shape().begin() + 2, x.shape().end());
  const std::size_t rank = in.size();
  if (window.kernel.size() != rank) info.fail("kernel_shape has {} dimensions, the input {}", window.kernel.size(), rank);
  const Window::Resolved r = window.resolve(in, info);
  Shape out_shape{x.dim(0), x.dim(1)};
  out_shape.insert(out_shape.end(), r.out.begin(), r.out.end());
  Tensor y = allocate_checked(x.dtype(), out_shape, info);
  Tensor indices = allocate_checked(DType::i64, out_shape, info);
  const std::int64_t planes = x.dim(0) * x.dim(1), in_plane = product(x.shape(), 2, x.rank()),
                     out_plane = product(out_shape, 2, out_shape.size());
  const Shape kernel(window.kernel.begin(), window.kernel.end());
  std::int64_t* idx = indices.values<std::int64_t>().data();
  visit_dtype<NumericTypes>(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = x.values<T>().data();
    T* dst = y.values<T>().data();
    parallel_for(planes, 1, [&](std::int64_t begin, std::int64_t end) {
      std::vector<std::int64_t> at(rank);
      for (std::int64_t p = begin; p < end; ++p) {
        for_each_index(Shape(r.out.begin(), r.out.end()), [&](std::size_t o, const std::vector<std::int64_t>& out_index) {
          T best = std::numeric_limits<T>::lowest();
          std::int64_t best_at = -1;
          for_each_index(kernel, [&](std::size_t, const std::vector<std::int64_t>& k) {
            std::int64_t row_major = 0, col_major = 0, col_stride = 1;
            for (std::size_t d = 0; d < rank; ++d) {
              const std::int64_t stride = window.strides.empty() ? 1 : window.strides[d];
              const std::int64_t dilation = window.dilations.empty() ? 1 : window.dilations[d];
              at[d] = out_index[d] * stride - r.pad_begin[d] + k[d] * dilation;
              if (at[d] < 0 || at[d] >= in[d]) return;
              row_major = row_major * in[d] + at[d];
              col_major += at[d] * col_stride;
              col_stride *= in[d];
            }
            const T v = src[p * in_plane + row_major];
            if (best_at < 0 || v > best) {
              best = v;
              best_at = column_major ? col_major : row_major;
            }
          });
          const std::int64_t o_at = p * out_plane + static_cast<std::int64_t>(o);
          dst[o_at] = best;
          idx[o_at] = best_at < 0 ? -1 : p * in_plane + best_at;
        });
      }
    });
  });
  return {std::move(y), std::move(indices)};
}

namespace {

// MaxUnpool: Y of the pooled input's shape (or output_shape), zero but for X's values at I.
std::unique_ptr<Kernel> make_max_unpool(const Node& node, std::int64_t) {
  NodeInfo info(node);
  const Window window = Window::from(node, info);
  if (window.kernel.empty()) info.fail("attribute 'kernel_shape' is required");
  return make_function_kernel([info, window](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const std::vector<std::int64_t> positions = info.ints(info.input(inputs, 1), "I");
    if (positions.size() != x.numel())
      info.fail("I has {} values, X has {}", positions.size(), x.numel());
    if (x.rank() != window.kernel.size() + 2)
      info.fail("X of shape {} does not match kernel_shape of {} dimensions", shape_string(x.shape()), window.kernel.size());
    // The indices count in the shape MaxPool's input had; output_shape may add rows and columns.
    Shape pooled{x.dim(0), x.dim(1)};
    for (std::size_t d = 0; d < window.kernel.size(); ++d) {
      const std::int64_t stride = window.strides.empty() ? 1 : window.strides[d];
      const std::int64_t pads = window.pads.empty() ? 0 : window.pads[d] + window.pads[d + window.kernel.size()];
      pooled.push_back((x.dim(d + 2) - 1) * stride + window.kernel[d] - pads);
    }
    Shape out = pooled;
    if (const Tensor* shape = info.optional_input(inputs, 2)) {
      out = info.ints(*shape, "output_shape");
      if (out.size() != x.rank()) info.fail("output_shape has {} dimensions, X {}", out.size(), x.rank());
      for (std::size_t d = 0; d < out.size(); ++d)
        if (out[d] < pooled[d]) info.fail("output_shape {} is smaller than the pooled input's {}", shape_string(out), shape_string(pooled));
    }
    Tensor y = allocate_checked(x.dtype(), out, info);
    std::memset(y.data(), 0, y.nbytes());
    const auto limit = static_cast<std::int64_t>(checked_numel(pooled, 1));
    std::vector<std::int64_t> targets(positions.size());
    for (std::size_t i = 0; i < positions.size(); ++i) {
      std::int64_t rest = positions[i];
      if (rest < 0 || rest >= limit) info.fail("index {} in I is outside the pooled input's {} elements", rest, limit);
      std::int64_t target = 0, scale = 1;
      for (std::size_t d = pooled.size(); d-- > 0;) {
        target += (rest % pooled[d]) * scale;
        rest /= pooled[d];
        scale *= out[d];
      }
      targets[i] = target;
    }
    visit_element_size(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* src = static_cast<const T*>(x.data());
      T* dst = static_cast<T*>(y.data());
      for (std::size_t i = 0; i < targets.size(); ++i) dst[targets[i]] = src[i];
    });
    return one(std::move(y));
  });
}

}  // namespace

void add_max_unpool_kernels(KernelTable& t) { t.add("MaxUnpool", make_max_unpool); }

}  // namespace cpuinfer::engine

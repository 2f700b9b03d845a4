// Operators driven by index tensors: GatherElements, ScatterElements, GatherND, ScatterND (the
// scatters with their reductions) and OneHot; and NonZero, which makes them. Every index is checked against its dimension (negative ones count from the end) before
// any element moves; an index out of range is an error naming the node.
#include <algorithm>
#include <cstring>

#include "engine/kernels/elementwise_util.h"

namespace cpuinfer::engine {

namespace {

// The checked indices along `axis` of a dimension of `size`.
std::vector<std::int64_t> checked_indices(const Tensor& indices, std::int64_t size, const NodeInfo& info) {
  std::vector<std::int64_t> v = info.ints(indices, "indices");
  for (std::int64_t& k : v) {
    if (k < -size || k >= size) info.fail("index {} is out of range for a dimension of {}", k, size);
    if (k < 0) k += size;
  }
  return v;
}

// A scatter's `reduction` attribute: none, add, mul, max or min.
std::string scatter_reduction(const Node& node) {
  const std::string reduction = node.get_string("reduction", "none");
  if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" && reduction != "min")
    NodeInfo(node).fail("unknown reduction '{}'", reduction);
  return reduction;
}

// The element a scatter leaves: the update, or the update combined with what is there.
template <typename T> T scattered(T current, T update, const std::string& reduction, const NodeInfo& info) {
  if constexpr (std::is_same_v<T, bool>) {
    if (reduction != "none") info.unsupported("reduction '{}' of bool", reduction);
    return update;
  } else {
    if (reduction == "add") return static_cast<T>(current + update);
    if (reduction == "mul") return static_cast<T>(current * update);
    if (reduction == "max") return update > current ? update : current;
    if (reduction == "min") return update < current ? update : current;
    return update;
  }
}

// GatherElements / ScatterElements: element i of `indices` (at `index`) addresses data at the same
// index, except along `axis`, where its value stands.
class ElementAddressing {
 public:
  ElementAddressing(const Tensor& data, const Tensor& indices, std::int64_t axis_attr, const NodeInfo& info)
      : strides_(contiguous_strides(data.shape())) {
    if (indices.rank() != data.rank())
      info.fail("indices {} and data {} differ in rank", shape_string(indices.shape()), shape_string(data.shape()));
    axis_ = static_cast<std::size_t>(info.axis(axis_attr, std::max<std::size_t>(data.rank(), 1)));
    for (std::size_t d = 0; d < data.rank(); ++d)
      if (d != axis_ && indices.dim(d) > data.dim(d))
        info.fail("indices {} exceed data {} along axis {}", shape_string(indices.shape()), shape_string(data.shape()), d);
    at_ = checked_indices(indices, data.rank() ? data.dim(axis_) : 0, info);
  }
  // The data element (in elements from its start) of indices' element i.
  std::int64_t offset(std::size_t i, const std::vector<std::int64_t>& index) const {
    std::int64_t offset = 0;
    for (std::size_t d = 0; d < index.size(); ++d) offset += (d == axis_ ? at_[i] : index[d]) * strides_[d];
    return offset;
  }

 private:
  std::vector<std::int64_t> strides_, at_;
  std::size_t axis_ = 0;
};

std::unique_ptr<Kernel> make_gather_elements(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), axis_attr = node.get_int("axis", 0)](Inputs inputs) {
    const Tensor& data = info.input(inputs, 0);
    const Tensor& indices = info.input(inputs, 1);
    const ElementAddressing address(data, indices, axis_attr, info);
    Tensor y = Tensor::uninitialized(data.dtype(), indices.shape());
    const std::size_t size = dtype_size(data.dtype());
    const auto* in = static_cast<const std::byte*>(data.data());
    auto* out = static_cast<std::byte*>(y.data());
    for_each_index(indices.shape(), [&](std::size_t i, const std::vector<std::int64_t>& index) {
      std::memcpy(out + i * size, in + static_cast<std::size_t>(address.offset(i, index)) * size, size);
    });
    return one(std::move(y));
  });
}

std::unique_ptr<Kernel> make_scatter_elements(const Node& node, std::int64_t) {
  const std::string reduction = scatter_reduction(node);
  return make_function_kernel([info = NodeInfo(node), axis_attr = node.get_int("axis", 0), reduction](Inputs inputs) {
    const Tensor& data = info.input(inputs, 0);
    const Tensor& indices = info.input(inputs, 1);
    const Tensor& updates = info.input(inputs, 2);
    if (updates.shape() != indices.shape()) info.fail("updates {} and indices {} differ", shape_string(updates.shape()), shape_string(indices.shape()));
    if (updates.dtype() != data.dtype()) info.fail("updates are {}, data {}", dtype_name(updates.dtype()), dtype_name(data.dtype()));
    const ElementAddressing address(data, indices, axis_attr, info);
    Tensor y = Tensor::uninitialized(data.dtype(), data.shape());
    std::memcpy(y.data(), data.data(), data.nbytes());
    visit_dtype(data.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* out = y.values<T>().data();
      const T* up = updates.values<T>().data();
      for_each_index(indices.shape(), [&](std::size_t i, const std::vector<std::int64_t>& index) {
        T& o = out[address.offset(i, index)];
        o = scattered(o, up[i], reduction, info);
      });
    });
    return one(std::move(y));
  });
}

// OneHot(indices, depth, values = [off, on]): a new axis of `depth` at `axis`; negative indices
// count from the end of depth, and indices outside [-depth, depth) give an all-off row.
std::unique_ptr<Kernel> make_one_hot(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), axis_attr = node.get_int("axis", -1)](Inputs inputs) {
    const Tensor& indices = info.input(inputs, 0);
    const Tensor& depth_t = info.input(inputs, 1);
    const Tensor& values = info.input(inputs, 2);
    if (depth_t.numel() != 1) info.fail("depth must be one value");
    if (values.numel() != 2) info.fail("values must be [off, on], got {}", shape_string(values.shape()));
    std::int64_t depth = 0;
    visit_dtype(depth_t.dtype(), [&](auto tag) {
      using T = decltype(tag);
      depth = static_cast<std::int64_t>(depth_t.values<T>()[0]);
    });
    if (depth <= 0) info.fail("depth {} is not positive", depth);
    std::vector<std::int64_t> at;
    visit_dtype(indices.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) info.fail("indices must be numbers");
      else for (T v : indices.values<T>()) at.push_back(static_cast<std::int64_t>(v));
    });
    const auto axis = static_cast<std::size_t>(info.axis(axis_attr, indices.rank() + 1));
    Shape out = indices.shape();
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(axis), depth);
    Tensor y = allocate_checked(values.dtype(), out, info);
    const std::int64_t outer = product(indices.shape(), 0, axis), inner = product(indices.shape(), axis, indices.rank());
    visit_dtype(values.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T off = values.values<T>()[0], on = values.values<T>()[1];
      T* o = y.values<T>().data();
      std::fill_n(o, y.numel(), off);
      for (std::int64_t a = 0; a < outer; ++a)
        for (std::int64_t b = 0; b < inner; ++b) {
          std::int64_t k = at[static_cast<std::size_t>(a * inner + b)];
          if (k < -depth || k >= depth) continue;
          if (k < 0) k += depth;
          o[(a * depth + k) * inner + b] = on;
        }
    });
    return one(std::move(y));
  });
}

// GatherND / ScatterND: the last dimension of `indices` addresses the leading dimensions of data
// after `batch_dims` shared ones; each address names a slice of the remaining dimensions.
struct NdAddressing {
  std::int64_t batches = 1, addresses = 0, depth = 0;  // batch count, addresses per batch, index length
  std::size_t slice = 0;                                // bytes per addressed slice
  std::vector<std::int64_t> offsets;                    // per address, in slices from its batch's start
  std::int64_t batch_slices = 0;                        // slices per batch of data
};

NdAddressing address_nd(const Tensor& data, const Tensor& indices, std::int64_t batch_dims, const NodeInfo& info) {
  NdAddressing a;
  if (indices.rank() < 1) info.fail("indices must have a last dimension");
  a.depth = indices.dim(indices.rank() - 1);
  const auto b = static_cast<std::size_t>(batch_dims);
  if (batch_dims < 0 || b >= indices.rank() || b > data.rank() || a.depth > static_cast<std::int64_t>(data.rank() - b))
    info.fail("indices {} with batch_dims {} do not address data {}", shape_string(indices.shape()), batch_dims, shape_string(data.shape()));
  for (std::size_t d = 0; d < b; ++d) {
    if (indices.dim(d) != data.dim(d)) info.fail("batch dimension {} differs: {} and {}", d, indices.dim(d), data.dim(d));
    a.batches *= data.dim(d);
  }
  a.addresses = product(indices.shape(), b, indices.rank() - 1);
  const auto end = b + static_cast<std::size_t>(a.depth);
  a.slice = static_cast<std::size_t>(product(data.shape(), end, data.rank())) * dtype_size(data.dtype());
  a.batch_slices = product(data.shape(), b, end);
  const std::vector<std::int64_t> v = info.ints(indices, "indices");
  for (std::size_t k = 0; k < v.size(); k += static_cast<std::size_t>(std::max<std::int64_t>(a.depth, 1))) {
    std::int64_t offset = 0;
    for (std::int64_t j = 0; j < a.depth; ++j) {
      const std::int64_t n = data.dim(b + static_cast<std::size_t>(j));
      std::int64_t i = v[k + static_cast<std::size_t>(j)];
      if (i < -n || i >= n) info.fail("index {} is out of range for a dimension of {}", i, n);
      offset = offset * n + (i < 0 ? i + n : i);
    }
    a.offsets.push_back(offset);
  }
  if (a.depth == 0) a.offsets.assign(static_cast<std::size_t>(a.batches * a.addresses), 0);
  return a;
}

std::unique_ptr<Kernel> make_gather_nd(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), batch_dims = node.get_int("batch_dims", 0)](Inputs inputs) {
    const Tensor& data = info.input(inputs, 0);
    const Tensor& indices = info.input(inputs, 1);
    const NdAddressing a = address_nd(data, indices, batch_dims, info);
    Shape out(indices.shape().begin(), indices.shape().end() - 1);
    out.insert(out.end(), data.shape().begin() + batch_dims + a.depth, data.shape().end());
    Tensor y = allocate_checked(data.dtype(), out, info);
    const auto* in = static_cast<const std::byte*>(data.data());
    auto* o = static_cast<std::byte*>(y.data());
    for (std::int64_t b = 0; b < a.batches; ++b)
      for (std::int64_t k = 0; k < a.addresses; ++k) {
        const auto at = static_cast<std::size_t>(b * a.addresses + k);
        std::memcpy(o + at * a.slice, in + static_cast<std::size_t>(b * a.batch_slices + a.offsets[at]) * a.slice, a.slice);
      }
    return one(std::move(y));
  });
}

std::unique_ptr<Kernel> make_scatter_nd(const Node& node, std::int64_t) {
  const std::string reduction = scatter_reduction(node);
  return make_function_kernel([info = NodeInfo(node), reduction](Inputs inputs) {
    const Tensor& data = info.input(inputs, 0);
    const Tensor& indices = info.input(inputs, 1);
    const Tensor& updates = info.input(inputs, 2);
    if (updates.dtype() != data.dtype()) info.fail("updates are {}, data {}", dtype_name(updates.dtype()), dtype_name(data.dtype()));
    const NdAddressing a = address_nd(data, indices, 0, info);
    Shape expected(indices.shape().begin(), indices.shape().end() - 1);
    expected.insert(expected.end(), data.shape().begin() + a.depth, data.shape().end());
    if (updates.shape() != expected) info.fail("updates {} must be {}", shape_string(updates.shape()), shape_string(expected));
    Tensor y = Tensor::uninitialized(data.dtype(), data.shape());
    std::memcpy(y.data(), data.data(), data.nbytes());
    visit_dtype(data.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* o = y.values<T>().data();
      const T* up = updates.values<T>().data();
      const std::size_t per = a.slice / sizeof(T);
      for (std::size_t k = 0; k < a.offsets.size(); ++k)
        for (std::size_t e = 0; e < per; ++e) {
          T& dst = o[static_cast<std::size_t>(a.offsets[k]) * per + e];
          dst = scattered(dst, up[k * per + e], reduction, info);
        }
    });
    return one(std::move(y));
  });
}

}  // namespace

// NonZero: the indices of the non-zero elements, one column per element in row-major order.
std::unique_ptr<Kernel> make_non_zero(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor flags = cast(x, DType::boolean);
    const auto nonzero = flags.values<bool>();
    const auto count = static_cast<std::int64_t>(std::count(nonzero.begin(), nonzero.end(), true));
    const auto rank = static_cast<std::int64_t>(x.rank());
    Tensor y = allocate_checked(DType::i64, {rank, count}, info);
    std::int64_t* out = y.values<std::int64_t>().data();
    std::int64_t column = 0;
    for_each_index(x.shape(), [&](std::size_t i, const std::vector<std::int64_t>& index) {
      if (!nonzero[i]) return;
      for (std::int64_t d = 0; d < rank; ++d) out[d * count + column] = index[static_cast<std::size_t>(d)];
      ++column;
    });
    return one(std::move(y));
  });
}

void add_indexing_kernels(KernelTable& t) {
  t.add("NonZero", make_non_zero, {}, dtypes(AllTypes{}));
  t.add("GatherElements", make_gather_elements);
  t.add("ScatterElements", make_scatter_elements, {1, 18});  // with opset 18's max and min reductions
  t.add("Scatter", make_scatter_elements, {9, 10});  // its name before opset 11
  t.add("OneHot", make_one_hot);
  t.add("GatherND", make_gather_nd);
  t.add("ScatterND", make_scatter_nd, {1, 18});
}

}  // namespace cpuinfer::engine

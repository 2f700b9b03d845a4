// Operators that move data: Transpose, Slice (strided views copied out), Concat, Gather, Split,
// DepthToSpace and SpaceToDepth (transposes of 6-D views), Trilu, Tile, Pad, Compress,
// ReverseSequence.
// Indices from data are checked before any copy.
#include <algorithm>
#include <cstring>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

namespace {

std::unique_ptr<Kernel> make_transpose(const Node& node, std::int64_t) {
  const bool has_perm = node.has("perm");
  const auto perm = node.get_ints("perm");
  return make_function_kernel([info = NodeInfo(node), has_perm, perm](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const std::size_t r = x.rank();
    std::vector<std::int64_t> p(r);
    if (has_perm) {
      if (perm.size() != r) info.fail("perm has {} entries for a rank-{} input", perm.size(), r);
      std::vector<bool> seen(r, false);
      for (std::size_t i = 0; i < r; ++i) {
        const std::int64_t a = info.axis(perm[i], r);
        if (seen[static_cast<std::size_t>(a)]) info.fail("perm {} is not a permutation", fmt::join(perm, ","));
        seen[static_cast<std::size_t>(a)] = true;
        p[i] = a;
      }
    } else {
      for (std::size_t i = 0; i < r; ++i) p[i] = static_cast<std::int64_t>(r - 1 - i);
    }
    const auto in_strides = contiguous_strides(x.shape());
    Shape out_shape(r);
    std::vector<std::int64_t> strides(r);
    for (std::size_t i = 0; i < r; ++i) {
      out_shape[i] = x.dim(static_cast<std::size_t>(p[i]));
      strides[i] = in_strides[static_cast<std::size_t>(p[i])];
    }
    Tensor y = Tensor::uninitialized(x.dtype(), out_shape);
    strided_copy(x, 0, strides, y);
    return one(std::move(y));
  });
}

std::unique_ptr<Kernel> make_slice(const Node& node, std::int64_t opset) {
  return make_function_kernel([info = NodeInfo(node), node, opset](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    std::vector<std::int64_t> starts, ends, axes, steps;
    if (opset < 10) {
      starts = node.get_ints("starts");
      ends = node.get_ints("ends");
      axes = node.get_ints("axes");
    } else {
      starts = info.ints(info.input(inputs, 1), "starts");
      ends = info.ints(info.input(inputs, 2), "ends");
      if (const Tensor* a = info.optional_input(inputs, 3)) axes = info.ints(*a, "axes");
      if (const Tensor* s = info.optional_input(inputs, 4)) steps = info.ints(*s, "steps");
    }
    if (ends.size() != starts.size()) info.fail("starts and ends have different lengths");
    if (axes.empty())
      for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size())
      info.fail("starts, ends, axes and steps have different lengths");
    const std::size_t r = x.rank();
    const auto in_strides = contiguous_strides(x.shape());
    Shape out_shape = x.shape();
    std::vector<std::int64_t> strides = in_strides;
    std::int64_t offset = 0;
    std::vector<bool> seen(r, false);
    for (std::size_t i = 0; i < starts.size(); ++i) {
      const auto a = static_cast<std::size_t>(info.axis(axes[i], r));
      if (seen[a]) info.fail("axis {} is sliced twice", axes[i]);
      seen[a] = true;
      const std::int64_t dim = x.dim(a), step = steps[i];
      if (step == 0) info.fail("step 0 on axis {}", axes[i]);
      auto clamp = [&](std::int64_t v, std::int64_t lo, std::int64_t hi) {
        if (v < 0) v = v < -dim ? -dim - 1 : v + dim;  // no overflow for INT64_MIN
        return std::clamp(v, lo, hi);
      };
      std::int64_t start = 0, end = 0;
      if (dim == 0) {
        // Nothing to take (and no valid index to clamp to).
      } else if (step > 0) {
        start = clamp(starts[i], 0, dim);
        end = clamp(ends[i], 0, dim);
      } else {
        start = clamp(starts[i], 0, dim - 1);
        end = clamp(ends[i], -1, dim - 1);
      }
      // Written so that no step, however large, overflows.
      const std::int64_t count =
          step > 0 ? (end > start ? (end - start - 1) / step + 1 : 0)
                   : (start > end ? (step < -dim ? 1 : (start - end - 1) / -step + 1) : 0);
      out_shape[a] = count;
      offset += (count > 0 ? start : 0) * in_strides[a];
      strides[a] = count > 1 ? in_strides[a] * step : 0;
    }
    Tensor y = Tensor::uninitialized(x.dtype(), out_shape);
    strided_copy(x, offset, strides, y);
    return one(std::move(y));
  });
}

std::unique_ptr<Kernel> make_concat(const Node& node, std::int64_t) {
  if (!node.has("axis")) NodeInfo(node).fail("attribute 'axis' is required");
  const std::int64_t axis_attr = node.get_int("axis", 0);
  return make_function_kernel([info = NodeInfo(node), axis_attr](Inputs inputs) {
    const Tensor& first = info.input(inputs, 0);
    const std::size_t r = first.rank();
    if (r == 0) info.fail("cannot concatenate scalars");
    const auto axis = static_cast<std::size_t>(info.axis(axis_attr, r));
    Shape out_shape = first.shape();
    out_shape[axis] = 0;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const Tensor& t = info.input(inputs, k);
      if (t.dtype() != first.dtype() || t.rank() != r)
        info.fail("input {} ({} {}) does not match input 0 ({} {})", k, dtype_name(t.dtype()), shape_string(t.shape()),
                  dtype_name(first.dtype()), shape_string(first.shape()));
      for (std::size_t d = 0; d < r; ++d)
        if (d != axis && t.dim(d) != first.dim(d))
          info.fail("input {} has shape {}, input 0 has {}", k, shape_string(t.shape()), shape_string(first.shape()));
      out_shape[axis] += t.dim(axis);
    }
    Tensor y = allocate_checked(first.dtype(), out_shape, info);
    const std::int64_t outer = product(out_shape, 0, axis);
    const std::size_t element = dtype_size(first.dtype());
    const std::size_t out_row = static_cast<std::size_t>(product(out_shape, axis, r)) * element;
    std::size_t at = 0;
    auto* dst = static_cast<std::byte*>(y.data());
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const Tensor& t = *inputs[k];
      const std::size_t row = static_cast<std::size_t>(product(t.shape(), axis, r)) * element;
      const auto* src = static_cast<const std::byte*>(t.data());
      for (std::int64_t o = 0; o < outer; ++o)
        if (row) std::memcpy(dst + static_cast<std::size_t>(o) * out_row + at, src + static_cast<std::size_t>(o) * row, row);
      at += row;
    }
    return one(std::move(y));
  });
}

std::unique_ptr<Kernel> make_gather(const Node& node, std::int64_t) {
  const std::int64_t axis_attr = node.get_int("axis", 0);
  return make_function_kernel([info = NodeInfo(node), axis_attr](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const Tensor& idx = info.input(inputs, 1);
    if (x.rank() == 0) info.fail("cannot gather from a scalar");
    const auto axis = static_cast<std::size_t>(info.axis(axis_attr, x.rank()));
    const std::int64_t n = x.dim(axis);
    std::vector<std::int64_t> indices = info.ints(idx, "indices");
    for (std::int64_t& i : indices) {
      if (i < -n || i >= n) info.fail("index {} is out of range for axis {} of size {}", i, axis, n);
      if (i < 0) i += n;
    }
    Shape out_shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(axis));
    out_shape.insert(out_shape.end(), idx.shape().begin(), idx.shape().end());
    out_shape.insert(out_shape.end(), x.shape().begin() + static_cast<std::ptrdiff_t>(axis) + 1, x.shape().end());
    Tensor y = allocate_checked(x.dtype(), out_shape, info);
    const std::int64_t outer = product(x.shape(), 0, axis);
    const std::size_t inner = static_cast<std::size_t>(product(x.shape(), axis + 1, x.rank())) * dtype_size(x.dtype());
    const auto* src = static_cast<const std::byte*>(x.data());
    auto* dst = static_cast<std::byte*>(y.data());
    const auto count = static_cast<std::int64_t>(indices.size());
    parallel_for(outer * count, std::max<std::int64_t>(1, 16384 / static_cast<std::int64_t>(inner + 1)),
                 [&](std::int64_t begin, std::int64_t end) {
                   for (std::int64_t k = begin; k < end; ++k) {
                     const std::int64_t o = k / count, j = k % count;
                     if (inner)
                       std::memcpy(dst + static_cast<std::size_t>(k) * inner,
                                   src + static_cast<std::size_t>(o * n + indices[static_cast<std::size_t>(j)]) * inner, inner);
                   }
                 });
    return one(std::move(y));
  });
}

std::unique_ptr<Kernel> make_split(const Node& node, std::int64_t opset) {
  const std::int64_t axis_attr = node.get_int("axis", 0);
  return make_function_kernel([info = NodeInfo(node), node, opset, axis_attr](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const auto axis = static_cast<std::size_t>(info.axis(axis_attr, x.rank()));
    const std::size_t outputs = node.outputs.size();
    std::vector<std::int64_t> sizes;
    if (opset < 13) sizes = node.get_ints("split");
    else if (const Tensor* s = info.optional_input(inputs, 1)) sizes = info.ints(*s, "split");
    const std::int64_t dim = x.dim(axis);
    if (sizes.empty()) {
      const auto parts = static_cast<std::int64_t>(node.has("num_outputs") ? node.get_int("num_outputs", 1) : outputs);
      if (parts <= 0) info.fail("cannot split into {} parts", parts);
      const std::int64_t each = (dim + parts - 1) / parts;
      for (std::int64_t p = 0, left = dim; p < parts; ++p, left -= each) sizes.push_back(std::clamp(left, std::int64_t{0}, each));
    }
    std::int64_t total = 0;
    for (std::int64_t s : sizes) {
      if (s < 0 || s > dim) info.fail("split size {} does not fit axis {} of size {}", s, axis, dim);
      total += s;
    }
    if (total != dim || sizes.size() != outputs)
      info.fail("split sizes {} do not divide axis {} of size {} into {} outputs", fmt::join(sizes, ","), axis, dim, outputs);
    std::vector<Tensor> result;
    const auto strides = contiguous_strides(x.shape());
    std::int64_t start = 0;
    for (std::int64_t s : sizes) {
      Shape shape = x.shape();
      shape[axis] = s;
      Tensor y = Tensor::uninitialized(x.dtype(), shape);
      strided_copy(x, start * strides[axis], strides, y);
      result.push_back(std::move(y));
      start += s;
    }
    return result;
  });
}

}  // namespace

// DepthToSpace (modes DCR and CRD) and SpaceToDepth: x [N, C, H, W] seen as 6-D and transposed.
std::unique_ptr<Kernel> make_space_depth(const Node& node, bool to_space) {
  NodeInfo info(node);
  const std::int64_t b = node.get_int("blocksize", 0);
  if (b <= 0) info.fail("blocksize {} is not positive", b);
  const std::string mode = node.get_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") info.fail("unknown mode '{}'", mode);
  return make_function_kernel([info, b, to_space, crd = mode == "CRD"](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    if (x.rank() != 4) info.fail("input must be 4-D, got {}", shape_string(x.shape()));
    const std::int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    Shape view, out6, out;
    std::vector<std::size_t> perm;
    if (to_space) {
      if (c % (b * b)) info.fail("{} channels do not divide into blocks of {}x{}", c, b, b);
      const std::int64_t cc = c / (b * b);
      view = crd ? Shape{n, cc, b, b, h, w} : Shape{n, b, b, cc, h, w};
      perm = crd ? std::vector<std::size_t>{0, 1, 4, 2, 5, 3} : std::vector<std::size_t>{0, 3, 4, 1, 5, 2};
      out = {n, cc, h * b, w * b};
    } else {
      if (h % b || w % b) info.fail("{}x{} does not divide into blocks of {}x{}", h, w, b, b);
      view = {n, c, h / b, b, w / b, b};
      perm = {0, 3, 5, 1, 2, 4};
      out = {n, c * b * b, h / b, w / b};
    }
    const auto strides = contiguous_strides(view);
    std::vector<std::int64_t> in_strides;
    for (std::size_t d : perm) {
      out6.push_back(view[d]);
      in_strides.push_back(strides[d]);
    }
    Tensor y = Tensor::uninitialized(x.dtype(), out6);
    strided_copy(x, 0, in_strides, y);
    return one(y.reshaped(out));
  });
}

// Trilu: the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dimensions, the
// rest zero.
std::unique_ptr<Kernel> make_trilu(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), upper = node.get_int("upper", 1) != 0](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    std::int64_t k = 0;
    if (const Tensor* kt = info.optional_input(inputs, 1)) {
      const auto ks = info.ints(*kt, "k");
      if (ks.size() != 1) info.fail("k must be one value");
      k = ks[0];
    }
    if (x.rank() < 2) info.fail("input must have at least 2 dimensions, got {}", shape_string(x.shape()));
    const std::int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
    const std::int64_t mats = product(x.shape(), 0, x.rank() - 2);
    Tensor y(x.dtype(), x.shape());  // zeros
    const std::size_t size = dtype_size(x.dtype());
    const auto* in = static_cast<const std::byte*>(x.data());
    auto* out = static_cast<std::byte*>(y.data());
    for (std::int64_t m = 0; m < mats; ++m)
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
          if (upper ? j - i >= k : j - i <= k) {
            const auto at = static_cast<std::size_t>((m * rows + i) * cols + j) * size;
            std::memcpy(out + at, in + at, size);
          }
    return one(std::move(y));
  });
}

// Tile: the input repeated along each axis.
std::unique_ptr<Kernel> make_tile(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const auto repeats = info.ints(info.input(inputs, 1), "repeats");
    if (repeats.size() != x.rank()) info.fail("repeats has {} values for a rank-{} input", repeats.size(), x.rank());
    Shape out = x.shape();
    for (std::size_t d = 0; d < out.size(); ++d) {
      if (repeats[d] < 0) info.fail("repeats {} is negative", repeats[d]);
      if (__builtin_mul_overflow(out[d], repeats[d], &out[d]) || out[d] > kMaxDimension)
        info.fail("repeats {} make axis {} of size {} larger than any tensor", repeats[d], d, x.dim(d));
    }
    Tensor y = allocate_checked(x.dtype(), out, info);
    const auto strides = contiguous_strides(x.shape());
    const std::size_t size = dtype_size(x.dtype());
    const auto* in = static_cast<const std::byte*>(x.data());
    auto* o = static_cast<std::byte*>(y.data());
    for_each_index(out, [&](std::size_t i, const std::vector<std::int64_t>& index) {
      std::int64_t at = 0;
      for (std::size_t d = 0; d < index.size(); ++d) at += index[d] % x.dim(d) * strides[d];
      std::memcpy(o + i * size, in + static_cast<std::size_t>(at) * size, size);
    });
    return one(std::move(y));
  });
}

// Pad: constant (a value), reflect or edge, pads [begins..., ends...] (negative ones crop); from
// opset 11 pads and the value are inputs, from 18 an optional axes input chooses the axes.
std::unique_ptr<Kernel> make_pad(const Node& node, std::int64_t opset) {
  const std::string mode = node.get_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") NodeInfo(node).unsupported("mode '{}'", mode);
  return make_function_kernel([info = NodeInfo(node), node, opset, mode](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const std::size_t r = x.rank();
    std::vector<std::int64_t> pads = opset < 11 ? node.get_ints("pads") : info.ints(info.input(inputs, 1), "pads");
    std::vector<std::int64_t> axes(r);
    for (std::size_t d = 0; d < r; ++d) axes[d] = static_cast<std::int64_t>(d);
    if (const Tensor* a = opset >= 18 ? info.optional_input(inputs, 3) : nullptr) {
      axes = info.ints(*a, "axes");
      for (std::int64_t& v : axes) v = info.axis(v, r);
    }
    if (pads.size() != 2 * axes.size()) info.fail("pads has {} values for {} axes", pads.size(), axes.size());
    std::vector<std::int64_t> begin(r, 0), end(r, 0);
    for (std::size_t k = 0; k < axes.size(); ++k) {
      begin[static_cast<std::size_t>(axes[k])] = pads[k];
      end[static_cast<std::size_t>(axes[k])] = pads[k + axes.size()];
    }
    Shape out(r);
    for (std::size_t d = 0; d < r; ++d) {
      if (__builtin_add_overflow(x.dim(d), begin[d], &out[d]) || __builtin_add_overflow(out[d], end[d], &out[d]) ||
          out[d] > kMaxDimension)
        info.fail("pads {} make axis {} larger than any tensor", fmt::join(pads, ","), d);
      if (out[d] < 0) info.fail("pads {} remove more than axis {} holds", fmt::join(pads, ","), d);
      if (mode != "constant" && x.dim(d) == 0 && out[d] > 0) info.fail("cannot {}-pad an empty axis {}", mode, d);
    }
    if (std::ranges::all_of(pads, [](std::int64_t p) { return p == 0; })) return one(x);  // densenet's, before pooling
    Tensor y = allocate_checked(x.dtype(), out, info);
    const auto strides = contiguous_strides(x.shape());
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T value{};
      if (opset < 11) value = convert<T>(node.get_float("value", 0.0f));
      else if (const Tensor* v = info.optional_input(inputs, 2); v && v->numel() > 0) {
        if (v->dtype() != x.dtype()) info.fail("constant_value is {}, data {}", dtype_name(v->dtype()), dtype_name(x.dtype()));
        value = v->values<T>()[0];
      }
      const T* in = x.values<T>().data();
      T* o = y.values<T>().data();
      for_each_index(out, [&](std::size_t i, const std::vector<std::int64_t>& index) {
        std::int64_t at = 0;
        for (std::size_t d = 0; d < r; ++d) {
          std::int64_t s = index[d] - begin[d];
          const std::int64_t n = x.dim(d);
          if (s < 0 || s >= n) {
            if (mode == "constant") {
              at = -1;
              break;
            }
            if (mode == "edge") s = s < 0 ? 0 : n - 1;
            else {  // reflect, without repeating the edge
              const std::int64_t period = std::max<std::int64_t>(2 * (n - 1), 1);
              s = ((s % period) + period) % period;
              if (s >= n) s = period - s;
            }
          }
          at += s * strides[d];
        }
        o[i] = at < 0 ? value : in[at];
      });
    });
    return one(std::move(y));
  });
}

// Compress: the slices along `axis` (or the elements of the flattened input) whose condition is true.
std::unique_ptr<Kernel> make_compress(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), has_axis = node.has("axis"), axis_attr = node.get_int("axis", 0)](Inputs inputs) {
    const Tensor& x0 = info.input(inputs, 0);
    const Tensor& condition = info.input(inputs, 1);
    info.expect_dtype(condition, DType::boolean, "condition");
    if (condition.rank() != 1) info.fail("condition must be 1-D, got {}", shape_string(condition.shape()));
    const Tensor x = has_axis ? x0 : x0.reshaped({static_cast<std::int64_t>(x0.numel())});
    const auto axis = has_axis ? static_cast<std::size_t>(info.axis(axis_attr, x.rank())) : 0;
    const std::int64_t n = x.dim(axis);
    std::vector<std::int64_t> kept;
    for (std::int64_t k = 0; k < std::min<std::int64_t>(n, condition.dim(0)); ++k)
      if (condition.values<bool>()[static_cast<std::size_t>(k)]) kept.push_back(k);
    Shape out = x.shape();
    out[axis] = static_cast<std::int64_t>(kept.size());
    Tensor y = allocate_checked(x.dtype(), out, info);
    const std::int64_t outer = product(x.shape(), 0, axis);
    const std::size_t inner = static_cast<std::size_t>(product(x.shape(), axis + 1, x.rank())) * dtype_size(x.dtype());
    const auto* in = static_cast<const std::byte*>(x.data());
    auto* o = static_cast<std::byte*>(y.data());
    for (std::int64_t a = 0; a < outer; ++a)
      for (std::size_t j = 0; j < kept.size(); ++j)
        std::memcpy(o + (static_cast<std::size_t>(a) * kept.size() + j) * inner, in + static_cast<std::size_t>(a * n + kept[j]) * inner, inner);
    return one(std::move(y));
  });
}

// ReverseSequence: the first sequence_lens[b] steps of each batch entry reversed along time_axis.
std::unique_ptr<Kernel> make_reverse_sequence(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), batch_axis = node.get_int("batch_axis", 1),
                               time_axis = node.get_int("time_axis", 0)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const auto lens = info.ints(info.input(inputs, 1), "sequence_lens");
    if (x.rank() < 2) info.fail("input {} needs batch and time axes", shape_string(x.shape()));
    const auto ba = static_cast<std::size_t>(info.axis(batch_axis, x.rank())), ta = static_cast<std::size_t>(info.axis(time_axis, x.rank()));
    if (ba == ta || ba > 1 || ta > 1) info.fail("batch_axis and time_axis must be 0 and 1");
    if (lens.size() != static_cast<std::size_t>(x.dim(ba))) info.fail("{} sequence_lens for a batch of {}", lens.size(), x.dim(ba));
    for (std::int64_t l : lens)
      if (l < 0 || l > x.dim(ta)) info.fail("sequence length {} is outside [0, {}]", l, x.dim(ta));
    Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
    const std::size_t row = static_cast<std::size_t>(product(x.shape(), 2, x.rank())) * dtype_size(x.dtype());
    const auto* in = static_cast<const std::byte*>(x.data());
    auto* o = static_cast<std::byte*>(y.data());
    for (std::int64_t b = 0; b < x.dim(ba); ++b)
      for (std::int64_t s = 0; s < x.dim(ta); ++s) {
        const std::int64_t from = s < lens[static_cast<std::size_t>(b)] ? lens[static_cast<std::size_t>(b)] - 1 - s : s;
        auto at = [&](std::int64_t time) { return static_cast<std::size_t>(ba == 0 ? b * x.dim(1) + time : time * x.dim(1) + b) * row; };
        std::memcpy(o + at(s), in + at(from), row);
      }
    return one(std::move(y));
  });
}

void add_data_movement_kernels(KernelTable& t) {
  t.add("Transpose", make_transpose);
  t.add("Slice", make_slice);
  t.add("Concat", make_concat);
  t.add("Gather", make_gather);
  t.add("Split", make_split, {1, 18});  // Split-18's num_outputs (a shorter last part) included
  t.add("DepthToSpace", [](const Node& n, std::int64_t) { return make_space_depth(n, true); });
  t.add("SpaceToDepth", [](const Node& n, std::int64_t) { return make_space_depth(n, false); });
  t.add("Trilu", make_trilu);
  t.add("Tile", make_tile);
  t.add("Pad", make_pad, {1, 19});  // Pad-18's axes; Pad-19's mode wrap is refused as a mode
  t.add("Compress", make_compress);
  t.add("ReverseSequence", make_reverse_sequence);
}

}  // namespace cpuinfer::engine

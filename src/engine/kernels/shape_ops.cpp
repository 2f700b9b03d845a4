// Operators that compute or change shapes without moving data (views share storage): Shape,
// Reshape, Flatten, Squeeze, Unsqueeze, Identity; and those that make tensors from shapes:
// Expand, ConstantOfShape, Constant.
#include <algorithm>
#include <set>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

namespace {

Tensor int64_vector(const std::vector<std::int64_t>& values) {
  Tensor t(DType::i64, {static_cast<std::int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.values<std::int64_t>().begin());
  return t;
}

// Axes from the attribute (before `input_opset`) or from input 1 (from it on); empty when absent.
std::vector<std::int64_t> axes_of(const Node& node, std::int64_t opset, std::int64_t input_opset, const NodeInfo& info,
                                  Inputs inputs, std::size_t input_index = 1) {
  if (opset < input_opset) return node.get_ints("axes");
  const Tensor* axes = info.optional_input(inputs, input_index);
  return axes ? info.ints(*axes, "axes") : std::vector<std::int64_t>{};
}

Shape reshape_target(const Shape& in, const std::vector<std::int64_t>& requested, bool allow_zero, const NodeInfo& info) {
  Shape out(requested.size());
  int infer = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < requested.size(); ++i) {
    std::int64_t d = requested[i];
    if (d == -1) {
      if (infer >= 0) info.fail("shape {} has more than one -1", fmt::join(requested, ","));
      infer = static_cast<int>(i);
      continue;
    }
    if (d == 0 && !allow_zero) {
      if (i >= in.size()) info.fail("shape {} copies dimension {} of a rank-{} input", fmt::join(requested, ","), i, in.size());
      d = in[i];
    }
    if (d < 0) info.fail("shape {} has a negative dimension", fmt::join(requested, ","));
    out[i] = d;
    if (d != 0 && known > (std::int64_t{1} << 50) / d) info.fail("shape {} is absurd", fmt::join(requested, ","));
    known *= d;
  }
  const std::int64_t count = product(in, 0, in.size());
  if (infer >= 0) {
    if (known == 0 || count % known != 0)
      info.fail("cannot reshape {} to {}", shape_string(in), fmt::join(requested, ","));
    out[static_cast<std::size_t>(infer)] = count / known;
  } else if (known != count) {
    info.fail("cannot reshape {} to {}", shape_string(in), fmt::join(requested, ","));
  }
  return out;
}

}  // namespace

void add_shape_kernels(KernelTable& t) {
  t.add("Identity", [](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node)](Inputs inputs) { return one(info.input(inputs, 0)); });
  });
  t.add("Shape", [](const Node& node, std::int64_t) {
    const std::int64_t start = node.get_int("start", 0);
    const bool has_end = node.has("end");
    const std::int64_t end = node.get_int("end", 0);
    return make_function_kernel([info = NodeInfo(node), start, has_end, end](Inputs inputs) {
      const Shape& s = info.input(inputs, 0).shape();
      const auto r = static_cast<std::int64_t>(s.size());
      auto clamp = [r](std::int64_t v) { return std::clamp(v < 0 ? v + r : v, std::int64_t{0}, r); };
      const std::int64_t b = clamp(start), e = has_end ? clamp(end) : r;
      return one(int64_vector(std::vector<std::int64_t>(s.begin() + b, s.begin() + std::max(b, e))));
    });
  });
  t.add("Size", [](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
      Tensor out(DType::i64, {});
      out.values<std::int64_t>()[0] = static_cast<std::int64_t>(info.input(inputs, 0).numel());
      return one(std::move(out));
    });
  });
  t.add("Reshape", [](const Node& node, std::int64_t) {
    const bool allow_zero = node.get_int("allowzero", 0) != 0;
    return make_function_kernel([info = NodeInfo(node), allow_zero](Inputs inputs) {
      const Tensor& x = info.input(inputs, 0);
      const auto requested = info.ints(info.input(inputs, 1), "shape");
      return one(x.reshaped(reshape_target(x.shape(), requested, allow_zero, info)));
    });
  });
  t.add("Flatten", [](const Node& node, std::int64_t) {
    const std::int64_t axis = node.get_int("axis", 1);
    return make_function_kernel([info = NodeInfo(node), axis](Inputs inputs) {
      const Tensor& x = info.input(inputs, 0);
      const auto r = static_cast<std::int64_t>(x.rank());
      if (axis < -r || axis > r) info.fail("axis {} is out of range for rank {}", axis, r);
      const auto a = static_cast<std::size_t>(axis < 0 ? axis + r : axis);
      return one(x.reshaped({product(x.shape(), 0, a), product(x.shape(), a, x.rank())}));
    });
  });
  t.add("Squeeze", [](const Node& node, std::int64_t opset) {
    return make_function_kernel([info = NodeInfo(node), node, opset](Inputs inputs) {
      const Tensor& x = info.input(inputs, 0);
      const auto axes = axes_of(node, opset, 13, info, inputs);
      std::set<std::int64_t> drop;
      for (std::int64_t a : axes) {
        const std::int64_t axis = info.axis(a, x.rank());
        if (x.dim(static_cast<std::size_t>(axis)) != 1)
          info.fail("cannot squeeze axis {} of shape {}: it is not 1", a, shape_string(x.shape()));
        drop.insert(axis);
      }
      Shape out;
      for (std::size_t i = 0; i < x.rank(); ++i) {
        const bool squeezed = axes.empty() ? x.dim(i) == 1 : drop.count(static_cast<std::int64_t>(i)) != 0;
        if (!squeezed) out.push_back(x.dim(i));
      }
      return one(x.reshaped(out));
    });
  });
  t.add("Unsqueeze", [](const Node& node, std::int64_t opset) {
    return make_function_kernel([info = NodeInfo(node), node, opset](Inputs inputs) {
      const Tensor& x = info.input(inputs, 0);
      const auto axes = axes_of(node, opset, 13, info, inputs);
      if (axes.empty()) info.fail("axes are required");
      const std::size_t rank = x.rank() + axes.size();
      std::set<std::int64_t> inserted;
      for (std::int64_t a : axes)
        if (!inserted.insert(info.axis(a, rank)).second) info.fail("axis {} is given twice", a);
      Shape out;
      std::size_t next = 0;
      for (std::size_t i = 0; i < rank; ++i) out.push_back(inserted.count(static_cast<std::int64_t>(i)) ? 1 : x.dim(next++));
      return one(x.reshaped(out));
    });
  });
  t.add("Expand", [](const Node& node, std::int64_t) {
    return make_function_kernel([info = NodeInfo(node)](Inputs inputs) {
      const Tensor& x = info.input(inputs, 0);
      const auto requested = info.ints(info.input(inputs, 1), "shape");
      for (std::int64_t d : requested)
        if (d < 0) info.fail("shape {} has a negative dimension", fmt::join(requested, ","));
      Broadcast plan = plan_broadcast({x.shape(), Shape(requested.begin(), requested.end())}, info);
      Tensor y = allocate_checked(x.dtype(), plan.shape, info);
      // Copy through a broadcast plan of the input alone against the result's shape.
      Broadcast copy = plan_broadcast({plan.shape, x.shape()}, info);
      visit_element_size(x.dtype(), [&](auto tag) {
        using U = decltype(tag);
        const U* in = static_cast<const U*>(x.data());
        U* out = static_cast<U*>(y.data());
        for_each_broadcast_row<2>(copy, [&](const auto& offsets, std::int64_t o, std::int64_t n, const auto& strides) {
          for (std::int64_t i = 0; i < n; ++i) out[o + i] = in[offsets[1] + i * strides[1]];
        });
      });
      return one(std::move(y));
    });
  });
  t.add("ConstantOfShape", [](const Node& node, std::int64_t) {
    Tensor value(DType::f32, {1});
    if (node.has("value")) {
      value = node.get_tensor("value");
      if (value.numel() != 1) NodeInfo(node).fail("attribute 'value' must hold one element, it holds {}", value.numel());
    }
    return make_function_kernel([info = NodeInfo(node), value](Inputs inputs) {
      const auto requested = info.ints(info.input(inputs, 0), "shape");
      Tensor y = allocate_checked(value.dtype(), Shape(requested.begin(), requested.end()), info);
      visit_element_size(value.dtype(), [&](auto tag) {
        using U = decltype(tag);
        const U fill = *static_cast<const U*>(value.data());
        std::fill_n(static_cast<U*>(y.data()), y.numel(), fill);
      });
      return one(std::move(y));
    });
  });
  t.add("Constant", [](const Node& node, std::int64_t) {
    NodeInfo info(node);
    if (node.attributes.size() != 1) info.fail("exactly one value attribute is required, got {}", node.attributes.size());
    Tensor value;
    if (node.has("value")) {
      value = node.get_tensor("value");
    } else if (node.has("value_float")) {
      value = Tensor(DType::f32, {});
      value.values<float>()[0] = node.get_float("value_float", 0);
    } else if (node.has("value_int")) {
      value = Tensor(DType::i64, {});
      value.values<std::int64_t>()[0] = node.get_int("value_int", 0);
    } else if (node.has("value_floats")) {
      const auto floats = node.get_floats("value_floats");
      value = Tensor(DType::f32, {static_cast<std::int64_t>(floats.size())});
      std::copy(floats.begin(), floats.end(), value.values<float>().begin());
    } else if (node.has("value_ints")) {
      value = int64_vector(node.get_ints("value_ints"));
    } else {
      info.unsupported("attribute '{}'", node.attributes.begin()->first);
    }
    return make_function_kernel([value](Inputs) { return one(value); });
  });
}

}  // namespace cpuinfer::engine

// Reductions over axes (ReduceMean, Sum, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare;
// floats accumulate in double), CumSum, ArgMax/ArgMin, and the softmax family.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "engine/kernels/dnnl_support.h"
#include "engine/kernels/plan_cache.h"

namespace cpuinfer::engine {

namespace {

enum class Reduce { mean, sum, max, min, prod, l1, l2, log_sum, log_sum_exp, sum_square };

std::unique_ptr<Kernel> make_reduce(const Node& node, std::int64_t opset, Reduce kind) {
  const bool keep = node.get_int("keepdims", 1) != 0;
  const bool noop_empty = node.get_int("noop_with_empty_axes", 0) != 0;
  // Axes became an input in opset 13 for ReduceSum and in opset 18 for the others.
  const std::int64_t axes_input_opset = kind == Reduce::sum ? 13 : 18;
  return make_function_kernel([info = NodeInfo(node), node, opset, kind, keep, noop_empty, axes_input_opset](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    std::vector<std::int64_t> axes;
    if (opset < axes_input_opset) axes = node.get_ints("axes");
    else if (const Tensor* a = info.optional_input(inputs, 1)) axes = info.ints(*a, "axes");
    if (axes.empty() && noop_empty) return std::vector<Tensor>{x};
    const std::size_t r = x.rank();
    std::vector<bool> reduced(r, axes.empty());
    for (std::int64_t a : axes) reduced[static_cast<std::size_t>(info.axis(a, r))] = true;
    Shape out_shape, kept_shape;
    for (std::size_t d = 0; d < r; ++d) {
      if (!reduced[d]) out_shape.push_back(x.dim(d));
      if (keep) kept_shape.push_back(reduced[d] ? 1 : x.dim(d));
    }
    // The result's element for input index i: through strides of the kept dimensions.
    const auto out_strides = contiguous_strides(out_shape);
    std::vector<std::int64_t> map_strides(r, 0);
    for (std::size_t d = 0, k = 0; d < r; ++d)
      if (!reduced[d]) map_strides[d] = out_strides[k++];
    std::int64_t group = 1;
    for (std::size_t d = 0; d < r; ++d)
      if (reduced[d]) group *= x.dim(d);
    Tensor y(x.dtype(), keep ? kept_shape : out_shape);
    visit_dtype<StandardNumbers>(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
      if ((kind == Reduce::max || kind == Reduce::min) && group == 0 && y.numel() > 0)
        info.fail("cannot take the {} of an empty set", kind == Reduce::max ? "max" : "min");
      std::vector<Acc> acc(y.numel(), kind == Reduce::max    ? std::numeric_limits<Acc>::lowest()
                                      : kind == Reduce::min  ? std::numeric_limits<Acc>::max()
                                      : kind == Reduce::prod ? Acc(1)
                                                             : Acc(0));
      if constexpr (std::is_floating_point_v<T>) {
        if (kind == Reduce::max) std::fill(acc.begin(), acc.end(), -std::numeric_limits<Acc>::infinity());
        if (kind == Reduce::min) std::fill(acc.begin(), acc.end(), std::numeric_limits<Acc>::infinity());
      }
      const T* in = x.values<T>().data();
      const Shape& shape = x.shape();
      std::vector<std::int64_t> index(r, 0);
      std::int64_t out_at = 0;
      for (std::size_t i = 0; i < x.numel(); ++i) {
        const Acc v = static_cast<Acc>(in[i]);
        Acc& a = acc[static_cast<std::size_t>(out_at)];
        switch (kind) {
          case Reduce::mean:
          case Reduce::sum:
            if constexpr (std::is_integral_v<Acc>) a = static_cast<Acc>(static_cast<std::make_unsigned_t<Acc>>(a) + static_cast<std::make_unsigned_t<Acc>>(v));
            else a += v;
            break;
          case Reduce::max: a = std::isnan(static_cast<double>(v)) || v > a ? v : a; break;
          case Reduce::min: a = std::isnan(static_cast<double>(v)) || v < a ? v : a; break;
          case Reduce::prod:
            if constexpr (std::is_integral_v<Acc>) a = static_cast<Acc>(static_cast<std::make_unsigned_t<Acc>>(a) * static_cast<std::make_unsigned_t<Acc>>(v));
            else a *= v;
            break;
          case Reduce::l1: a += v < Acc(0) ? Acc(0) - v : v; break;
          case Reduce::l2:
          case Reduce::sum_square: a += v * v; break;
          case Reduce::log_sum: a += v; break;
          case Reduce::log_sum_exp: a += static_cast<Acc>(std::exp(static_cast<double>(v))); break;
        }
        for (std::size_t d = r; d-- > 0;) {  // odometer
          out_at += map_strides[d];
          if (++index[d] < shape[d]) break;
          out_at -= map_strides[d] * shape[d];
          index[d] = 0;
        }
      }
      T* out = y.values<T>().data();
      for (std::size_t i = 0; i < acc.size(); ++i) {
        if (kind == Reduce::mean) {
          if constexpr (std::is_floating_point_v<T>) out[i] = static_cast<T>(acc[i] / static_cast<Acc>(group));
          else out[i] = group ? static_cast<T>(acc[i] / static_cast<Acc>(group)) : T(0);
        } else if (kind == Reduce::l2) {
          out[i] = static_cast<T>(std::sqrt(static_cast<double>(acc[i])));
        } else if (kind == Reduce::log_sum || kind == Reduce::log_sum_exp) {
          out[i] = static_cast<T>(std::log(static_cast<double>(acc[i])));
        } else {
          out[i] = static_cast<T>(acc[i]);
        }
      }
    });
    return std::vector<Tensor>{std::move(y)};
  });
}

// CumSum along the axis given as input 1: inclusive or `exclusive`, forward or `reverse`.
std::unique_ptr<Kernel> make_cum_sum(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), exclusive = node.get_int("exclusive", 0) != 0,
                               reverse = node.get_int("reverse", 0) != 0](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const auto axes = info.ints(info.input(inputs, 1), "axis");
    if (axes.size() != 1) info.fail("axis must be one value");
    if (x.rank() == 0) info.fail("input is a scalar");
    const auto axis = static_cast<std::size_t>(info.axis(axes[0], x.rank()));
    const std::int64_t n = x.dim(axis), outer = product(x.shape(), 0, axis), inner = product(x.shape(), axis + 1, x.rank());
    Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
    visit_dtype<StandardNumbers>(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* in = x.values<T>().data();
      T* out = y.values<T>().data();
      for (std::int64_t a = 0; a < outer; ++a)
        for (std::int64_t b = 0; b < inner; ++b) {
          T sum = T(0);
          for (std::int64_t s = 0; s < n; ++s) {
            const std::int64_t j = reverse ? n - 1 - s : s;
            const std::int64_t at = (a * n + j) * inner + b;
            if (exclusive) {
              out[at] = sum;
              sum = static_cast<T>(sum + in[at]);
            } else {
              sum = static_cast<T>(sum + in[at]);
              out[at] = sum;
            }
          }
        }
    });
    return one(std::move(y));
  });
}

// Hardmax: 1 at the first maximum along the axis (before opset 13, of the input coerced to 2-D at
// the axis, as Softmax), 0 elsewhere.
std::unique_ptr<Kernel> make_hardmax(const Node& node, std::int64_t opset) {
  return make_function_kernel([info = NodeInfo(node), opset, axis_attr = node.get_int("axis", opset < 13 ? 1 : -1)](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const auto axis = static_cast<std::size_t>(info.axis(axis_attr, std::max<std::size_t>(x.rank(), 1)));
    const std::int64_t outer = product(x.shape(), 0, axis);
    const std::int64_t n = opset < 13 ? product(x.shape(), axis, x.rank()) : (x.rank() ? x.dim(axis) : 1);
    const std::int64_t inner = opset < 13 ? 1 : product(x.shape(), axis + 1, x.rank());
    Tensor y(x.dtype(), x.shape());  // zeros
    visit_dtype<StandardNumbers>(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* in = x.values<T>().data();
      T* out = y.values<T>().data();
      for (std::int64_t a = 0; a < outer && n > 0; ++a)
        for (std::int64_t b = 0; b < inner; ++b) {
          std::int64_t best = 0;
          for (std::int64_t k = 1; k < n; ++k)
            if (in[(a * n + k) * inner + b] > in[(a * n + best) * inner + b]) best = k;
          out[(a * n + best) * inner + b] = T(1);
        }
    });
    return one(std::move(y));
  });
}

// ArgMax and ArgMin along one axis: int64 indices, the first extreme unless select_last_index.
std::unique_ptr<Kernel> make_arg(const Node& node, bool max) {
  const std::int64_t axis_attr = node.get_int("axis", 0);
  const bool keep = node.get_int("keepdims", 1) != 0, last = node.get_int("select_last_index", 0) != 0;
  return make_function_kernel([info = NodeInfo(node), axis_attr, keep, last, max](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const auto axis = static_cast<std::size_t>(info.axis(axis_attr, std::max<std::size_t>(x.rank(), 1)));
    if (x.rank() == 0) info.fail("input is a scalar");
    const std::int64_t n = x.dim(axis), outer = product(x.shape(), 0, axis), inner = product(x.shape(), axis + 1, x.rank());
    if (n == 0) info.fail("axis {} is empty", axis_attr);
    Shape out = x.shape();
    if (keep) out[axis] = 1;
    else out.erase(out.begin() + static_cast<std::ptrdiff_t>(axis));
    Tensor y = Tensor::uninitialized(DType::i64, out);
    std::int64_t* o = y.values<std::int64_t>().data();
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* in = x.values<T>().data();
      for (std::int64_t a = 0; a < outer; ++a)
        for (std::int64_t b = 0; b < inner; ++b) {
          const T* v = in + a * n * inner + b;
          std::int64_t best = 0;
          for (std::int64_t k = 1; k < n; ++k) {
            const T c = v[k * inner], m = v[best * inner];
            const bool better = max ? (last ? c >= m : c > m) : (last ? c <= m : c < m);
            if (better) best = k;
          }
          o[a * inner + b] = best;
        }
    });
    return std::vector<Tensor>{std::move(y)};
  });
}

// Softmax and LogSoftmax: before opset 13 the input is coerced to 2-D at `axis` (default 1) and
// normalised over everything after it; from 13 over the one axis (default -1). Either way it is a
// normalisation over the middle of [outer, n, inner]: float32 through oneDNN's softmax (primitive
// cached per shape, then nan_rows), float64 in our own loop.
// Rows holding a NaN or +inf, or only -inf, become NaN, as ONNX Runtime gives them (x - max(x) is
// NaN there); oneDNN's softmax leaves finite values in them. One pass over `x` when all is finite.
void nan_rows(const float* x, float* y, std::int64_t outer, std::int64_t n, std::int64_t inner) {
  const std::int64_t total = outer * n * inner;
  bool finite = true;
  for (std::int64_t i = 0; i < total; ++i) finite &= std::isfinite(x[i]);
  if (finite) return;
  for (std::int64_t k = 0; k < outer * inner; ++k) {
    const std::int64_t base = (k / inner) * n * inner + k % inner;
    bool nan = false, all_negative_infinity = true;
    for (std::int64_t i = 0; i < n; ++i) {
      const float v = x[base + i * inner];
      nan |= std::isnan(v) || v == HUGE_VALF;
      all_negative_infinity &= v == -HUGE_VALF;
    }
    if (nan || all_negative_infinity)
      for (std::int64_t i = 0; i < n; ++i) y[base + i * inner] = std::numeric_limits<float>::quiet_NaN();
  }
}

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(const Node& node, std::int64_t opset, bool log)
      : info_(node), opset_(opset), axis_(node.get_int("axis", opset < 13 ? 1 : -1)), log_(log) {}

  std::vector<Tensor> run(Inputs inputs) const override {
    const Tensor& x = info_.input(inputs, 0);
    if (x.dtype() != DType::f32 && x.dtype() != DType::f64) info_.unsupported("element type {}", dtype_name(x.dtype()));
    const std::size_t r = std::max<std::size_t>(x.rank(), 1);
    const auto axis = static_cast<std::size_t>(info_.axis(axis_, r));
    const std::int64_t outer = product(x.shape(), 0, axis);
    const std::int64_t n = opset_ < 13 ? product(x.shape(), axis, x.rank()) : (x.rank() ? x.dim(axis) : 1);
    const std::int64_t inner = opset_ < 13 ? 1 : product(x.shape(), axis + 1, x.rank());
    Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
    if (x.numel() == 0) return one(std::move(y));
    if (n == 1 && x.dtype() == DType::f32) {  // one value per row: exactly 1 (log: 0), NaN and infinities as NaN
      const float* in = x.values<float>().data();
      float* out = y.values<float>().data();
      for (std::size_t i = 0; i < x.numel(); ++i) out[i] = std::isfinite(in[i]) ? (log_ ? 0.0f : 1.0f) : std::nanf("");
      return one(std::move(y));
    }
    if (x.dtype() == DType::f32) {
      const Shape view{outer, n, inner};
      const auto held = plans_.get(view, [&] {
        try {
          const auto md = plain_desc(view);
          dnnl::softmax_v2_forward::desc desc(dnnl::prop_kind::forward_inference,
                                              log_ ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate,
                                              md, md, 1);
          const dnnl::softmax_v2_forward::primitive_desc pd(desc, user_scratchpad(), dnnl_engine());
          return std::make_pair(dnnl::softmax_v2_forward(pd), pd.scratchpad_desc());
        } catch (const dnnl::error& e) {
          info_.fail("oneDNN refused softmax over {}: {}", shape_string(x.shape()), e.what());
        }
      });  // kept while the primitive runs (plan_cache.h)
      auto& [primitive, scratchpad] = *held;
      const auto md = plain_desc(view);
      const Scratchpad pad(scratchpad);
      primitive.execute(dnnl_stream(), {{DNNL_ARG_SRC, wrap(md, x)}, {DNNL_ARG_DST, wrap(md, y)},
                                        {DNNL_ARG_SCRATCHPAD, pad.memory()}});
      dnnl_stream().wait();
      nan_rows(x.values<float>().data(), y.values<float>().data(), outer, n, inner);
      return one(std::move(y));
    }
    const double* in = x.values<double>().data();
    double* out = y.values<double>().data();
    parallel_for(outer * inner, std::max<std::int64_t>(1, 4096 / n), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t k = begin; k < end; ++k) {
        const std::int64_t base = (k / inner) * n * inner + k % inner;
        double m = -std::numeric_limits<double>::infinity();
        for (std::int64_t i = 0; i < n; ++i) m = std::max(m, in[base + i * inner]);
        double sum = 0;
        for (std::int64_t i = 0; i < n; ++i) sum += std::exp(in[base + i * inner] - m);
        for (std::int64_t i = 0; i < n; ++i) {
          const double v = in[base + i * inner] - m;
          out[base + i * inner] = log_ ? v - std::log(sum) : std::exp(v) / sum;
        }
      }
    });
    return one(std::move(y));
  }

 private:
  NodeInfo info_;
  std::int64_t opset_, axis_;
  bool log_;
  mutable PlanCache<Shape, std::pair<dnnl::softmax_v2_forward, dnnl::memory::desc>> plans_{64};  // with its scratchpad
};

}  // namespace

void add_reduction_kernels(KernelTable& t) {
  // The reductions also follow opset 18, where their axes became an input.
  const OpsetRange through_18{1, 18};
  t.add("ReduceMean", [](const Node& n, std::int64_t o) { return make_reduce(n, o, Reduce::mean); }, through_18);
  t.add("ReduceSum", [](const Node& n, std::int64_t o) { return make_reduce(n, o, Reduce::sum); }, through_18);
  t.add("ReduceMax", [](const Node& n, std::int64_t o) { return make_reduce(n, o, Reduce::max); }, through_18);
  t.add("ReduceMin", [](const Node& n, std::int64_t o) { return make_reduce(n, o, Reduce::min); }, through_18);
  t.add("ReduceProd", [](const Node& n, std::int64_t o) { return make_reduce(n, o, Reduce::prod); }, through_18);
  t.add("ReduceL1", [](const Node& n, std::int64_t o) { return make_reduce(n, o, Reduce::l1); }, through_18);
  t.add("ReduceL2", [](const Node& n, std::int64_t o) { return make_reduce(n, o, Reduce::l2); }, through_18);
  t.add("ReduceLogSum", [](const Node& n, std::int64_t o) { return make_reduce(n, o, Reduce::log_sum); }, through_18);
  t.add("ReduceLogSumExp", [](const Node& n, std::int64_t o) { return make_reduce(n, o, Reduce::log_sum_exp); }, through_18);
  t.add("ReduceSumSquare", [](const Node& n, std::int64_t o) { return make_reduce(n, o, Reduce::sum_square); }, through_18);
  t.add("CumSum", make_cum_sum);
  t.add("Hardmax", make_hardmax);
  t.add("ArgMax", [](const Node& n, std::int64_t) { return make_arg(n, true); });
  t.add("ArgMin", [](const Node& n, std::int64_t) { return make_arg(n, false); });
  t.add("Softmax", [](const Node& n, std::int64_t o) { return std::make_unique<SoftmaxKernel>(n, o, false); }, {}, {DType::f32, DType::f64});
  t.add("LogSoftmax", [](const Node& n, std::int64_t o) { return std::make_unique<SoftmaxKernel>(n, o, true); }, {}, {DType::f32, DType::f64});
}

}  // namespace cpuinfer::engine

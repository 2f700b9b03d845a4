// Broadcast planning and small helpers (bfloat16 rounding of a tensor among them).
#include "engine/kernels/kernel_util.h"


#include "engine/kernels/vector/vector_loops.h"
#include "engine/limits.h"

namespace cpuinfer::engine {

std::vector<std::int64_t> NodeInfo::ints(const Tensor& t, const char* what) const {
  if (t.dtype() == DType::i64) return {t.values<std::int64_t>().begin(), t.values<std::int64_t>().end()};
  if (t.dtype() == DType::i32) return {t.values<std::int32_t>().begin(), t.values<std::int32_t>().end()};
  fail("{} must be int64 or int32, got {}", what, dtype_name(t.dtype()));
}

std::vector<std::int64_t> contiguous_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

std::int64_t product(const Shape& shape, std::size_t begin, std::size_t end) {
  std::int64_t p = 1;
  for (std::size_t i = begin; i < end && i < shape.size(); ++i) p *= shape[i];
  return p;
}

Broadcast plan_broadcast(const std::vector<Shape>& shapes, const NodeInfo& node) {
  std::size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  Broadcast b;
  b.shape.assign(rank, 1);
  for (const auto& s : shapes)
    for (std::size_t i = 0; i < s.size(); ++i) {
      const std::int64_t d = s[i];
      std::int64_t& out = b.shape[rank - s.size() + i];
      if (out == 1) out = d;
      else if (d != 1 && d != out) {
        std::string all;
        for (const auto& t : shapes) all += (all.empty() ? "" : ", ") + shape_string(t);
        node.fail("shapes {} cannot be broadcast together", all);
      }
    }
  b.count = 1;
  for (std::int64_t d : b.shape) b.count *= static_cast<std::size_t>(d);
  // Per operand strides in the result's rank, 0 where broadcast.
  std::vector<std::vector<std::int64_t>> full(shapes.size(), std::vector<std::int64_t>(rank, 0));
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    const auto strides = contiguous_strides(shapes[k]);
    for (std::size_t i = 0; i < shapes[k].size(); ++i)
      if (shapes[k][i] != 1) full[k][rank - shapes[k].size() + i] = strides[i];
  }
  // Coalesce dimension i into i+1 when, for every operand, stride[i] == stride[i+1] * dim[i+1].
  b.strides.assign(shapes.size(), {});
  for (std::size_t i = 0; i < rank; ++i) {
    if (b.shape[i] == 1 && rank > 1) continue;  // size-1 dimensions do not move any offset
    if (!b.dims.empty()) {
      bool merge = true;
      for (std::size_t k = 0; k < shapes.size() && merge; ++k)
        merge = b.strides[k].back() == full[k][i] * b.shape[i];
      if (merge) {
        b.dims.back() *= b.shape[i];
        for (std::size_t k = 0; k < shapes.size(); ++k) b.strides[k].back() = full[k][i];
        continue;
      }
    }
    b.dims.push_back(b.shape[i]);
    for (std::size_t k = 0; k < shapes.size(); ++k) b.strides[k].push_back(full[k][i]);
  }
  if (b.dims.empty()) {
    b.dims.push_back(1);
    for (auto& s : b.strides) s.push_back(0);
  }
  return b;
}


void strided_copy(const Tensor& in, std::int64_t offset, const std::vector<std::int64_t>& in_strides, Tensor& out) {
  const Shape& shape = out.shape();
  const std::size_t r = shape.size();
  if (out.numel() == 0) return;
  visit_element_size(in.dtype(), [&](auto tag) {
    using U = decltype(tag);
    const U* src = static_cast<const U*>(in.data());
    U* dst = static_cast<U*>(out.data());
    if (r == 0) {
      dst[0] = src[offset];
      return;
    }
    const std::int64_t inner = shape[r - 1];
    const std::int64_t inner_stride = in_strides[r - 1];
    const std::int64_t rows = static_cast<std::int64_t>(out.numel()) / inner;
    parallel_for(rows, std::max<std::int64_t>(1, 8192 / inner), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) {
        std::int64_t rest = row, at = offset;
        for (std::size_t d = r - 1; d-- > 0;) {
          at += (rest % shape[d]) * in_strides[d];
          rest /= shape[d];
        }
        U* o = dst + row * inner;
        if (inner_stride == 1) std::copy(src + at, src + at + inner, o);
        else
          for (std::int64_t i = 0; i < inner; ++i) o[i] = src[at + i * inner_stride];
      }
    });
  });
}

Tensor allocate_checked(DType dtype, const Shape& shape, const NodeInfo& node) {
  const std::size_t limit = max_computed_tensor_bytes();
  try {
    checked_numel(shape, dtype_size(dtype), limit);
  } catch (const Error& e) {
    node.fail("{} (the limit for sizes that come from data)", e.what());
  }
  return Tensor::uninitialized(dtype, shape);
}

Tensor rounded_to_bf16(const Tensor& t, const NodeInfo& node) {
  Tensor rounded = allocate_checked(DType::bf16, t.shape(), node);
  const float* in = t.values<float>().data();
  auto* out = static_cast<std::uint16_t*>(rounded.data());
  const VectorLoops& loops = vector_loops();
  parallel_for(static_cast<std::int64_t>(t.numel()), 1 << 16,
               [&](std::int64_t begin, std::int64_t end) { loops.to_bf16(in + begin, out + begin, end - begin); });
  return rounded;
}

}  // namespace cpuinfer::engine

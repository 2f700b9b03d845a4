// Helpers shared by the kernels: input access with node-naming errors, dtype dispatch, axis
// normalisation, multidirectional (numpy) broadcasting, and a parallel loop.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/kernels/kernel.h"
#include "engine/threads.h"

namespace cpuinfer::engine {

// Names the node in every message of a kernel.
struct NodeInfo {
  std::string label;  // "'name' (OpType)"
  explicit NodeInfo(const Node& node) : label(node.label()) {}
  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) const {
    throw Error(label, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  [[noreturn]] void unsupported(fmt::format_string<Args...> format, Args&&... args) const {
    throw Unsupported(label, fmt::format(format, std::forward<Args>(args)...));
  }
  const Tensor& input(Inputs inputs, std::size_t i) const {
    if (i >= inputs.size() || !inputs[i]) fail("input {} is required", i);
    return *inputs[i];
  }
  const Tensor* optional_input(Inputs inputs, std::size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  // An axis in [-rank, rank) made non-negative.
  std::int64_t axis(std::int64_t axis, std::size_t rank) const {
    const auto r = static_cast<std::int64_t>(rank);
    if (axis < -r || axis >= r) fail("axis {} is out of range for rank {}", axis, rank);
    return axis < 0 ? axis + r : axis;
  }
  // An int32 or int64 tensor as int64 values.
  std::vector<std::int64_t> ints(const Tensor& t, const char* what) const;
  void expect_dtype(const Tensor& t, DType dtype, const char* what) const {
    if (t.dtype() != dtype) fail("{} must be {}, got {}", what, dtype_name(dtype), dtype_name(t.dtype()));
  }
};

// A kernel's result when it has one output.
inline std::vector<Tensor> one(Tensor t) {
  std::vector<Tensor> v;
  v.push_back(std::move(t));
  return v;
}

// Multidirectional broadcasting of several shapes, with the dimensions coalesced where every
// operand is contiguous across them, so that loops run over long inner rows.
struct Broadcast {
  Shape shape;                                // the result's shape
  std::vector<std::int64_t> dims;             // coalesced iteration dimensions (at least one)
  std::vector<std::vector<std::int64_t>> strides;  // per operand, per coalesced dimension (0 = broadcast)
  std::size_t count = 0;                      // elements of the result
};
Broadcast plan_broadcast(const std::vector<Shape>& shapes, const NodeInfo& node);

// Runs body(begin, end) over [0, n) split across the OpenMP threads when n is large enough.
template <typename F> void parallel_for(std::int64_t n, std::int64_t grain, F&& body) {
  const int threads = max_threads();
  if (threads <= 1 || n < 2 * grain) {
    body(std::int64_t{0}, n);
    return;
  }
  const std::int64_t chunks = std::min<std::int64_t>(threads, n / grain);
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c) body(n * c / chunks, n * (c + 1) / chunks);
}

// Calls row(offsets, out_offset, length, inner_strides) for every run of the innermost coalesced
// dimension, where offsets are the operands' element offsets at the start of the run.
template <std::size_t N, typename F> void for_each_broadcast_row(const Broadcast& b, F&& row) {
  const std::size_t r = b.dims.size();
  const std::int64_t inner = b.dims[r - 1];
  std::int64_t rows = 1;
  for (std::size_t d = 0; d + 1 < r; ++d) rows *= b.dims[d];
  std::array<std::int64_t, N> inner_strides{};
  for (std::size_t k = 0; k < N; ++k) inner_strides[k] = b.strides[k][r - 1];
  if (rows == 1) {
    parallel_for(inner, 16384, [&](std::int64_t begin, std::int64_t end) {
      std::array<std::int64_t, N> offsets{};
      for (std::size_t k = 0; k < N; ++k) offsets[k] = begin * inner_strides[k];
      row(offsets, begin, end - begin, inner_strides);
    });
    return;
  }
  parallel_for(rows, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(inner, 1)),
               [&](std::int64_t begin, std::int64_t end) {
                 for (std::int64_t i = begin; i < end; ++i) {
                   std::array<std::int64_t, N> offsets{};
                   std::int64_t rest = i;
                   for (std::size_t d = r - 1; d-- > 0;) {
                     const std::int64_t idx = rest % b.dims[d];
                     rest /= b.dims[d];
                     for (std::size_t k = 0; k < N; ++k) offsets[k] += idx * b.strides[k][d];
                   }
                   row(offsets, i * inner, inner, inner_strides);
                 }
               });
}

// Calls f(i, index) for every index of `shape` in row-major order, i counting from 0.
template <typename F> void for_each_index(const Shape& shape, F&& f) {
  std::size_t count = 1;
  for (std::int64_t d : shape) count *= static_cast<std::size_t>(d);
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::size_t i = 0; i < count; ++i) {
    f(i, index);
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

// Keys' cubic convolution: the weights of the 4 taps around a point a fraction r in [0, 1) past the
// second tap, with coefficient a (-0.75 for Resize by default and for GridSample).
template <typename T> std::array<T, 4> cubic_weights(T r, T a) {
  auto near = [&](T d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };         // |d| <= 1
  auto far = [&](T d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };    // 1 < |d| < 2
  return {far(r + 1), near(r), near(1 - r), far(2 - r)};
}

// Row-major strides of a shape, in elements.
std::vector<std::int64_t> contiguous_strides(const Shape& shape);
std::int64_t product(const Shape& shape, std::size_t begin, std::size_t end);


// Element size dispatch for kernels that only move data: calls f(U{}) with an unsigned integer of
// the dtype's size.
template <typename F> decltype(auto) visit_element_size(DType dtype, F&& f) {
  switch (dtype_size(dtype)) {
    case 1: return f(std::uint8_t{});
    case 2: return f(std::uint16_t{});
    case 4: return f(std::uint32_t{});
    default: return f(std::uint64_t{});
  }
}

// out (contiguous) [i0, i1, ...] = in.data[offset + sum(i_d * in_strides[d])], strides in elements.
void strided_copy(const Tensor& in, std::int64_t offset, const std::vector<std::int64_t>& in_strides, Tensor& out);

// A float32 tensor rounded to bfloat16 (to nearest even, the engine's vector loops), element by
// element in storage order: for any layout, blocked included. Its storage is taken as a tensor's.
Tensor rounded_to_bf16(const Tensor& t, const NodeInfo& node);

// A tensor whose size comes from data or attributes, refused beyond max_computed_tensor_bytes()
// (engine/limits.h). Not zeroed: the kernel writes every element.
Tensor allocate_checked(DType dtype, const Shape& shape, const NodeInfo& node);

}  // namespace cpuinfer::engine

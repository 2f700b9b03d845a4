// What the element-wise kernels share: type classes and a loop over broadcast operands.
#pragma once

#include <array>
#include <tuple>
#include <type_traits>
#include <utility>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

template <typename T> constexpr bool is_float = std::is_floating_point_v<T>;
template <typename T> constexpr bool is_int = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// The elements of t as T: its own type, or an unsigned integer of its size (visit_element_size)
// for kernels that only move elements.
template <typename T> T* elements_as(const Tensor& t) {
  if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
    if (dtype_size(t.dtype()) != sizeof(T)) t.values<T>();  // throws, naming both types
    return static_cast<T*>(const_cast<void*>(t.data()));
  } else {
    return const_cast<T*>(t.values<T>().data());
  }
}

// Runs out[i] = f(a[i], b[i], ...) over broadcast operands.
template <typename Out, typename... In, typename F>
void broadcast_apply(const Broadcast& plan, Tensor& out, F f, std::array<const Tensor*, sizeof...(In)> in) {
  Out* o = elements_as<Out>(out);
  [&]<std::size_t... K>(std::index_sequence<K...>) {
    const auto ptrs = std::make_tuple(static_cast<const In*>(elements_as<In>(*in[K]))...);
    for_each_broadcast_row<sizeof...(In)>(plan, [&](const auto& offsets, std::int64_t out_offset, std::int64_t n,
                                                    const auto& strides) {
      for (std::int64_t i = 0; i < n; ++i) o[out_offset + i] = f(std::get<K>(ptrs)[offsets[K] + i * strides[K]]...);
    });
  }(std::index_sequence_for<In...>{});
}

}  // namespace cpuinfer::engine

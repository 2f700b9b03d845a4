// Element types: the DType enum, the C++ type of each (float16 and bfloat16 as bit-exact storage
// types that convert through float), and visit_dtype, the one dispatch from a DType to code
// templated on its C++ type.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"

namespace cpuinfer {

// bool is stored one byte per element, 0 or 1, as in ONNX and numpy.
enum class DType { f32, f64, i32, i64, boolean, u8, i8, u16, i16, u32, u64, f16, bf16 };

std::size_t dtype_size(DType dtype);
std::string dtype_name(DType dtype);

// IEEE 754 binary16, converted with round-to-nearest-even (NaN stays NaN, overflow becomes inf).
struct Float16 {
  std::uint16_t bits = 0;
  Float16() = default;
  explicit Float16(float value);
  explicit operator float() const;
};

// bfloat16: the upper half of a float32, rounded to nearest even (NaN stays NaN).
struct BFloat16 {
  std::uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float value)
      : bits(value != value ? static_cast<std::uint16_t>((std::bit_cast<std::uint32_t>(value) >> 16) | 0x40)
                            : static_cast<std::uint16_t>((std::bit_cast<std::uint32_t>(value) + 0x7fff +
                                                          ((std::bit_cast<std::uint32_t>(value) >> 16) & 1)) >> 16)) {}
  explicit operator float() const { return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16); }
};

template <typename T> constexpr bool is_half = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<bool>() { return DType::boolean; }
template <> constexpr DType dtype_of<std::uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<std::int8_t>() { return DType::i8; }
template <> constexpr DType dtype_of<std::uint16_t>() { return DType::u16; }
template <> constexpr DType dtype_of<std::int16_t>() { return DType::i16; }
template <> constexpr DType dtype_of<std::uint32_t>() { return DType::u32; }
template <> constexpr DType dtype_of<std::uint64_t>() { return DType::u64; }
template <> constexpr DType dtype_of<Float16>() { return DType::f16; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::bf16; }

// Sets of element types for visit_dtype.
template <typename... T> struct TypeList {};
using IntegerTypes = TypeList<std::int32_t, std::int64_t, std::uint8_t, std::int8_t, std::uint16_t, std::int16_t,
                              std::uint32_t, std::uint64_t>;
// float32, float64 and every integer type: what arithmetic runs on (halves run in float32).
using NumericTypes = TypeList<float, double, std::int32_t, std::int64_t, std::uint8_t, std::int8_t, std::uint16_t,
                              std::int16_t, std::uint32_t, std::uint64_t>;
using AllTypes = TypeList<float, double, std::int32_t, std::int64_t, bool, std::uint8_t, std::int8_t, std::uint16_t,
                          std::int16_t, std::uint32_t, std::uint64_t, Float16, BFloat16>;
// The types most kernels compute on, without bool for those that do arithmetic, and the floats.
using StandardTypes = TypeList<float, double, std::int32_t, std::int64_t, bool>;
using StandardNumbers = TypeList<float, double, std::int32_t, std::int64_t>;
using FloatTypes = TypeList<float, double>;

template <typename... T> std::vector<DType> dtypes(TypeList<T...>) { return {dtype_of<T>()...}; }

[[noreturn]] void unsupported_dtype(DType dtype);

// Calls f(T{}) with T the C++ type of `dtype`; throws cpuinfer::Unsupported ("element type uint16
// is not supported") when `dtype` is not in Types.
template <typename Types = StandardTypes, typename F> decltype(auto) visit_dtype(DType dtype, F&& f) {
  return [&]<typename... T>(TypeList<T...>) -> decltype(auto) {
    using R = decltype(f(std::tuple_element_t<0, std::tuple<T...>>{}));
    if constexpr (std::is_void_v<R>) {
      if (!((dtype == dtype_of<T>() ? (f(T{}), true) : false) || ...)) unsupported_dtype(dtype);
    } else {
      std::optional<R> result;
      (void)((dtype == dtype_of<T>() ? (result.emplace(f(T{})), true) : false) || ...);
      if (!result) unsupported_dtype(dtype);
      return R(std::move(*result));
    }
  }(Types{});
}

// A value converted between element types as ONNX's Cast does: halves through float, and float to
// integer without undefined behaviour (NaN gives 0, out-of-range values saturate).
template <typename To, typename From> To convert(From value) {
  if constexpr (std::is_same_v<To, From>) {
    return value;
  } else if constexpr (is_half<From>) {
    return convert<To>(static_cast<float>(value));
  } else if constexpr (is_half<To>) {
    return To(static_cast<float>(value));
  } else if constexpr (std::is_same_v<To, bool>) {
    return value != From{};
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    if (value != value) return 0;
    if (value <= static_cast<From>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
    if (value >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(value);
  } else {
    return static_cast<To>(value);
  }
}

}  // namespace cpuinfer

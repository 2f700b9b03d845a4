// Element type names and sizes, and the float16 conversions.
#include "core/dtype.h"

namespace cpuinfer {

std::size_t dtype_size(DType dtype) {
  return visit_dtype<AllTypes>(dtype, [](auto tag) { return sizeof(tag); });
}

std::string dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::boolean: return "bool";
    case DType::u8: return "uint8";
    case DType::i8: return "int8";
    case DType::u16: return "uint16";
    case DType::i16: return "int16";
    case DType::u32: return "uint32";
    case DType::u64: return "uint64";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
  }
  return "?";
}

void unsupported_dtype(DType dtype) { throw Unsupported(fmt::format("element type {} is not supported", dtype_name(dtype))); }

Float16::Float16(float value) {
  const auto x = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (x >> 16) & 0x8000u, exponent = (x >> 23) & 0xffu;
  std::uint32_t mantissa = x & 0x7fffffu;
  if (exponent == 0xff) {  // inf, or NaN kept quiet
    bits = static_cast<std::uint16_t>(sign | 0x7c00u | (mantissa ? 0x200u | (mantissa >> 13) : 0u));
    return;
  }
  const int e = static_cast<int>(exponent) - 127 + 15;
  if (e >= 31) {
    bits = static_cast<std::uint16_t>(sign | 0x7c00u);
    return;
  }
  std::uint32_t half = 0, rest = 0, halfway = 0;
  if (e <= 0) {  // a subnormal half (or zero): units of 2^-24
    if (e < -10) {
      bits = static_cast<std::uint16_t>(sign);
      return;
    }
    mantissa |= 0x800000u;
    const auto shift = static_cast<std::uint32_t>(14 - e);
    half = mantissa >> shift;
    rest = mantissa & ((1u << shift) - 1);
    halfway = 1u << (shift - 1);
  } else {
    half = (static_cast<std::uint32_t>(e) << 10) | (mantissa >> 13);
    rest = mantissa & 0x1fffu;
    halfway = 0x1000u;
  }
  if (rest > halfway || (rest == halfway && (half & 1u))) ++half;  // a carry rounds up the exponent, to inf at most
  bits = static_cast<std::uint16_t>(sign | half);
}

Float16::operator float() const {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu, mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

}  // namespace cpuinfer

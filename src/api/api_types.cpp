#include "api/api_types.h"

#include "core/error.h"

namespace cpuinfer {

namespace {
constexpr std::pair<ElementType, DType> kTypes[] = {
    {ElementType::float32, DType::f32}, {ElementType::float64, DType::f64}, {ElementType::float16, DType::f16},
    {ElementType::bfloat16, DType::bf16}, {ElementType::int8, DType::i8},  {ElementType::uint8, DType::u8},
    {ElementType::int16, DType::i16},   {ElementType::uint16, DType::u16}, {ElementType::int32, DType::i32},
    {ElementType::uint32, DType::u32},  {ElementType::int64, DType::i64},  {ElementType::uint64, DType::u64},
    {ElementType::boolean, DType::boolean},
};
}  // namespace

std::size_t element_size(ElementType type) { return dtype_size(api::to_dtype(type)); }

std::string element_type_name(ElementType type) {
  return dtype_name(api::to_dtype(type));
}

std::size_t Output::element_count() const {
  std::size_t n = 1;
  for (std::int64_t d : shape_) n *= static_cast<std::size_t>(d);
  return n;
}

namespace api {

DType to_dtype(ElementType type) {
  for (const auto& [e, d] : kTypes)
    if (e == type) return d;
  fail("element type {} is not one of cpuinfer's", static_cast<int>(type));
}

ElementType to_element_type(DType dtype) {
  for (const auto& [e, d] : kTypes)
    if (d == dtype) return e;
  fail("element type {} has no public name", dtype_name(dtype));
}

TensorInfo to_info(const engine::TensorSpec& spec) {
  TensorInfo info;
  info.name = spec.name;
  info.type_known = spec.dtype.has_value();
  if (spec.dtype) info.type = to_element_type(*spec.dtype);
  info.shape_known = spec.shape.has_value();
  if (spec.shape)
    for (const engine::Dim& d : *spec.shape) {
      info.shape.push_back(d.is_static() ? d.value : -1);
      info.symbols.push_back(d.is_static() ? "" : d.symbol);
    }
  return info;
}

}  // namespace api
}  // namespace cpuinfer

// Tensor storage and shape helpers.
#include "core/tensor.h"

#include <cstring>
#include <new>

#include "core/error.h"
#include "core/aligned_storage.h"
#include "core/storage_source.h"

namespace cpuinfer {

namespace {

}  // namespace

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::boolean: return 1;
  }
  return 0;
}

std::string dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::boolean: return "bool";
  }
  return "?";
}

std::string shape_string(const Shape& shape) {
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s.empty() ? "scalar" : s;
}

std::size_t checked_numel(const Shape& shape, std::size_t element_size, std::size_t max_bytes) {
  std::size_t nonzero = 1;
  bool empty = false;
  for (std::int64_t d : shape) {
    if (d < 0) fail("invalid tensor shape {}: negative dimension", shape_string(shape));
    if (d > kMaxDimension) fail("invalid tensor shape {}: dimension {} is too large", shape_string(shape), d);
    if (d == 0) {
      empty = true;
      continue;
    }
    if (nonzero > max_bytes / element_size / static_cast<std::size_t>(d))
      fail("invalid tensor shape {}: its non-zero dimensions multiply to more than {} GiB", shape_string(shape), max_bytes >> 30);
    nonzero *= static_cast<std::size_t>(d);
  }
  return empty ? 0 : nonzero;
}

Tensor::Tensor(DType dtype, Shape shape) : Tensor(dtype, std::move(shape), true) {}

Tensor Tensor::uninitialized(DType dtype, Shape shape) { return Tensor(dtype, std::move(shape), false); }

Tensor::Tensor(DType dtype, Shape shape, bool zero)
    : dtype_(dtype), shape_(std::move(shape)), numel_(checked_numel(shape_, dtype_size(dtype))) {
  std::size_t bytes = std::max<std::size_t>(nbytes(), 1);
  if (StorageSource* source = StorageSource::current()) data_ = source->take(bytes);
  else data_ = allocate_storage((bytes + kStorageAlignment - 1) / kStorageAlignment * kStorageAlignment);
  if (zero) std::memset(data_.get(), 0, bytes);
}

Tensor Tensor::reshaped(Shape shape) const {
  const std::size_t count = checked_numel(shape, dtype_size(dtype_));
  if (count != numel_)
    fail("cannot reshape {} ({} elements) to {} ({} elements)", shape_string(shape_), numel_, shape_string(shape),
         count);
  Tensor view = *this;
  view.shape_ = std::move(shape);
  return view;
}

void Tensor::check_type(DType expected) const {
  if (dtype_ != expected)
    fail("tensor of type {} accessed as {}", dtype_name(dtype_), dtype_name(expected));
}

}  // namespace cpuinfer

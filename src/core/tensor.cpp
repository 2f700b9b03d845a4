// Tensor storage and shape helpers.
#include "core/tensor.h"

#include <cstring>
#include <new>

#include "core/error.h"
#include "core/storage_source.h"

namespace cpuinfer {

std::string shape_string(const Shape& shape) {
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s.empty() ? "scalar" : s;
}

std::string byte_count_string(std::size_t bytes) {
  if (bytes >= (std::size_t{1} << 30) && bytes % (std::size_t{1} << 30) == 0) return fmt::format("{} GiB", bytes >> 30);
  if (bytes >= (std::size_t{1} << 20) && bytes % (std::size_t{1} << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  return fmt::format("{} bytes", bytes);
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
      fail("invalid tensor shape {}: its {}-byte elements take more than {}", shape_string(shape), element_size,
           byte_count_string(max_bytes));
    nonzero *= static_cast<std::size_t>(d);
  }
  return empty ? 0 : nonzero;
}

Tensor::Tensor(DType dtype, Shape shape) : Tensor(dtype, std::move(shape), true) {}

Tensor Tensor::borrowed(DType dtype, Shape shape, const void* data) {
  return sharing(dtype, std::move(shape), std::shared_ptr<std::byte[]>(static_cast<std::byte*>(const_cast<void*>(data)), [](std::byte*) {}));
}

Tensor Tensor::sharing(DType dtype, Shape shape, std::shared_ptr<std::byte[]> data) {
  Tensor t;
  t.numel_ = checked_numel(shape, dtype_size(dtype));
  if (!data && t.numel_ > 0) fail("a tensor of shape {} with no data", shape_string(shape));
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = std::move(data);
  return t;
}

Tensor Tensor::uninitialized(DType dtype, Shape shape) { return Tensor(dtype, std::move(shape), false); }

Tensor::Tensor(DType dtype, Shape shape, bool zero)
    : dtype_(dtype), shape_(std::move(shape)), numel_(checked_numel(shape_, dtype_size(dtype))) {
  std::size_t bytes = std::max<std::size_t>(nbytes(), 1);
  StorageSource* source = StorageSource::current();
  data_ = (source ? *source : StorageSource::heap()).take(bytes);
  if (zero) std::memset(data_.get(), 0, bytes);
}

Tensor cast(const Tensor& x, DType to) {
  if (x.dtype() == to) return x;
  Tensor y = Tensor::uninitialized(to, x.shape());
  visit_dtype<AllTypes>(x.dtype(), [&](auto from_tag) {
    using From = decltype(from_tag);
    visit_dtype<AllTypes>(to, [&](auto to_tag) {
      using To = decltype(to_tag);
      const From* in = x.values<From>().data();
      To* out = y.values<To>().data();
      for (std::size_t i = 0; i < x.numel(); ++i) out[i] = convert<To>(in[i]);
    });
  });
  return y;
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

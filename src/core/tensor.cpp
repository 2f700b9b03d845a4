// Tensor storage and shape helpers.
#include "core/tensor.h"

#include <cstring>
#include <new>

#include "core/error.h"

namespace cpuinfer {

namespace {
constexpr std::size_t kAlignment = 64;
constexpr std::size_t kMaxBytes = std::size_t{1} << 40;  // refuse shapes beyond 1 TiB

struct AlignedDelete {
  void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t{kAlignment}); }
};
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

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)), numel_(1) {
  for (std::int64_t d : shape_) {
    if (d < 0) fail("invalid tensor shape {}: negative dimension", shape_string(shape_));
    if (d != 0 && numel_ > kMaxBytes / static_cast<std::size_t>(d))
      fail("invalid tensor shape {}: too large", shape_string(shape_));
    numel_ *= static_cast<std::size_t>(d);
  }
  if (nbytes() > kMaxBytes) fail("invalid tensor shape {}: too large", shape_string(shape_));
  std::size_t bytes = std::max<std::size_t>(nbytes(), 1);
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  data_ = std::shared_ptr<std::byte[]>(new (std::align_val_t{kAlignment}) std::byte[bytes], AlignedDelete{});
  std::memset(data_.get(), 0, bytes);
}

Tensor Tensor::reshaped(Shape shape) const {
  std::size_t count = 1;
  for (std::int64_t d : shape) {
    if (d < 0) fail("cannot reshape {} to {}: negative dimension", shape_string(shape_), shape_string(shape));
    if (__builtin_mul_overflow(count, static_cast<std::size_t>(d), &count)) count = numel_ + 1;
  }
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

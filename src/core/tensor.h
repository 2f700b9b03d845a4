// Tensor: a dense, row-major, 64-byte-aligned array with a dtype and a shape. It is what crosses
// the backend interface: tensors in, tensors out.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace cpuinfer {

using Shape = std::vector<std::int64_t>;
std::string shape_string(const Shape& shape);  // "1x3x224x224"

// The largest tensor cpuinfer makes, and the largest dimension (even of an empty tensor, so that
// loops over the other dimensions stay bounded).
inline constexpr std::size_t kMaxTensorBytes = std::size_t{1} << 36;  // 64 GiB
inline constexpr std::int64_t kMaxDimension = std::int64_t{1} << 40;
// Element count of a shape; throws cpuinfer::Error for a negative dimension, one above
// kMaxDimension, or a product of the non-zero dimensions beyond max_bytes.
std::size_t checked_numel(const Shape& shape, std::size_t element_size, std::size_t max_bytes = kMaxTensorBytes);
std::string byte_count_string(std::size_t bytes);  // "8 GiB", "256 MiB", "1000 bytes"

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-initialised storage (from the thread's StorageSource while a scope is open, see
  // core/storage_source.h); throws cpuinfer::Error on a negative or absurd shape.
  Tensor(DType dtype, Shape shape);
  // The same without zeroing, for outputs their producer writes completely (saves a pass over
  // memory per operator).
  static Tensor uninitialized(DType dtype, Shape shape);
  // A view of memory the caller owns and keeps alive and unchanged while the tensor (or any copy)
  // is in use; nothing writes through it (an engine session never overwrites its inputs). Any
  // alignment. Throws cpuinfer::Error for a bad shape, or null data with elements.
  static Tensor borrowed(DType dtype, Shape shape, const void* data);
  // A view that keeps its memory alive by sharing the owner's reference: `data` may point into a
  // larger block (an aliasing shared_ptr, e.g. a tensor inside a request's body). Any alignment;
  // nothing writes through it. Throws as borrowed does.
  static Tensor sharing(DType dtype, Shape shape, std::shared_ptr<std::byte[]> data);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim(std::size_t i) const { return shape_.at(i); }
  std::size_t rank() const { return shape_.size(); }
  std::size_t numel() const { return numel_; }
  std::size_t nbytes() const { return numel_ * dtype_size(dtype_); }

  // The same storage seen with another shape of the same element count (no copy): for Reshape,
  // Flatten, Squeeze and the like. Throws cpuinfer::Error when the counts differ.
  Tensor reshaped(Shape shape) const;

  // The storage block, shared by every view of it: for an engine session to hand a kernel's output
  // the block of an input that dies there (engine/memory/run_memory.h).
  const std::shared_ptr<std::byte[]>& storage() const { return data_; }

  void* data() { return data_.get(); }
  const void* data() const { return data_.get(); }
  template <typename T> std::span<T> values();
  template <typename T> std::span<const T> values() const;

 private:
  void check_type(DType expected) const;
  Tensor(DType dtype, Shape shape, bool zero);

  DType dtype_ = DType::f32;
  Shape shape_;
  std::size_t numel_ = 0;
  std::shared_ptr<std::byte[]> data_;
};

// x converted element by element to `to` as ONNX's Cast does (core/dtype.h convert); x itself
// when it is of that type already.
Tensor cast(const Tensor& x, DType to);

template <typename T> std::span<T> Tensor::values() {
  check_type(dtype_of<T>());
  return {static_cast<T*>(data()), numel_};
}
template <typename T> std::span<const T> Tensor::values() const {
  check_type(dtype_of<T>());
  return {static_cast<const T*>(data()), numel_};
}

}  // namespace cpuinfer

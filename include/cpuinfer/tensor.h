// Tensors at the API's edge: inputs are views of the caller's memory (never copied, never written),
// outputs are read-only results that own a share of their storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cpuinfer {

// ONNX's numeric element types that cpuinfer runs.
enum class ElementType { float32, float64, float16, bfloat16, int8, uint8, int16, uint16, int32, uint32, int64, uint64, boolean };

std::size_t element_size(ElementType type);
// "float32", "int64", ... (numpy's names; "bool" for boolean).
std::string element_type_name(ElementType type);

// The caller's memory seen as a dense, row-major tensor. It must stay alive and unchanged while a
// run reads it. Any alignment.
struct TensorView {
  ElementType type = ElementType::float32;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
};

// One output of a run: dense, row-major, read-only (it may share storage with the model's
// constants or with the inputs). It keeps its storage alive as long as it, or a copy, exists.
class Output {
 public:
  ElementType type() const { return type_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::size_t element_count() const;
  const void* data() const { return data_; }
  // The values as T, which must be the element type's size (float for float32, ...).
  template <typename T> std::span<const T> values() const {
    return {static_cast<const T*>(data_), element_count()};
  }

  // Made by Session::run.
  Output(ElementType type, std::vector<std::int64_t> shape, const void* data, std::shared_ptr<const void> storage)
      : type_(type), shape_(std::move(shape)), data_(data), storage_(std::move(storage)) {}

 private:
  ElementType type_;
  std::vector<std::int64_t> shape_;
  const void* data_;
  std::shared_ptr<const void> storage_;
};

// A model's input or output as the model declares it. A dimension is a size, or -1 with a symbol
// ("batch", "sequence") where the model leaves it open, or -1 and "" where it names nothing.
struct TensorInfo {
  std::string name;
  bool type_known = true;  // false: the model does not declare it
  ElementType type = ElementType::float32;
  bool shape_known = true;  // false: the model declares no shape (any rank)
  std::vector<std::int64_t> shape;
  std::vector<std::string> symbols;  // per dimension
};

}  // namespace cpuinfer

#include "backends/ort/ort_tensors.h"

#include <cstring>

#include "core/error.h"

namespace cpuinfer {

namespace {

ONNXTensorElementDataType ort_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    case DType::f64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE;
    case DType::i32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
    case DType::i64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    case DType::boolean: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL;
    case DType::u8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8;
    case DType::i8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8;
    case DType::u16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16;
    case DType::i16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16;
    case DType::u32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32;
    case DType::u64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64;
    case DType::f16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
    case DType::bf16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16;
  }
  fail("no ONNX Runtime type for {}", dtype_name(dtype));
}

DType from_ort_type(ONNXTensorElementDataType type) {
  for (DType t : dtypes(AllTypes{}))
    if (ort_type(t) == type) return t;
  fail("ONNX Runtime output of element type {} is not supported", static_cast<int>(type));
}

}  // namespace

Ort::Value ort_value_view(const Tensor& t, const Ort::MemoryInfo& memory) {
  return Ort::Value::CreateTensor(memory, const_cast<void*>(t.data()), t.nbytes(), t.shape().data(), t.shape().size(),
                                  ort_type(t.dtype()));
}

Tensor tensor_from_ort(const Ort::Value& value) {
  if (!value.IsTensor()) fail("ONNX Runtime gave a value that is not a tensor");
  const auto info = value.GetTensorTypeAndShapeInfo();
  Tensor t(from_ort_type(info.GetElementType()), info.GetShape());
  if (t.nbytes()) std::memcpy(t.data(), value.GetTensorRawData(), t.nbytes());
  return t;
}

}  // namespace cpuinfer

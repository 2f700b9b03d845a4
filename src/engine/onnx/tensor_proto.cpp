// TensorProto decoding: raw_data (little-endian bytes) or the typed repeated fields.
#include "engine/onnx/tensor_proto.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>

#include "core/error.h"

namespace cpuinfer::engine {

std::optional<DType> dtype_from_onnx(int onnx_type) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT: return DType::f32;
    case onnx::TensorProto::DOUBLE: return DType::f64;
    case onnx::TensorProto::INT32: return DType::i32;
    case onnx::TensorProto::INT64: return DType::i64;
    case onnx::TensorProto::BOOL: return DType::boolean;
    case onnx::TensorProto::UINT8: return DType::u8;
    case onnx::TensorProto::INT8: return DType::i8;
    case onnx::TensorProto::UINT16: return DType::u16;
    case onnx::TensorProto::INT16: return DType::i16;
    case onnx::TensorProto::UINT32: return DType::u32;
    case onnx::TensorProto::UINT64: return DType::u64;
    case onnx::TensorProto::FLOAT16: return DType::f16;
    case onnx::TensorProto::BFLOAT16: return DType::bf16;
    default: return std::nullopt;
  }
}

std::string onnx_type_name(int onnx_type) {
  if (!onnx::TensorProto::DataType_IsValid(onnx_type)) return fmt::format("invalid type {}", onnx_type);
  std::string name = onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(onnx_type));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

namespace {

// The typed field that holds a tensor of `dtype` when raw_data is absent: float_data, double_data,
// int64_data, uint64_data (uint32 and uint64), or int32_data (the other integers, bool, and the
// bits of float16 and bfloat16).
template <typename F> decltype(auto) visit_typed_field(const onnx::TensorProto& proto, DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: return f(proto.float_data(), "float_data");
    case DType::f64: return f(proto.double_data(), "double_data");
    case DType::i64: return f(proto.int64_data(), "int64_data");
    case DType::u32:
    case DType::u64: return f(proto.uint64_data(), "uint64_data");
    default: return f(proto.int32_data(), "int32_data");
  }
}

template <typename T, typename V> T from_field(V v) {
  if constexpr (is_half<T>) {
    T t;
    t.bits = static_cast<std::uint16_t>(v);
    return t;
  } else if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else {
    return static_cast<T>(v);
  }
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& what) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL || proto.external_data_size() > 0)
    throw Unsupported(fmt::format("tensor '{}' keeps its data in an external file, which is not supported yet", what));
  if (proto.has_segment()) throw Unsupported(fmt::format("tensor '{}' is segmented, which is not supported", what));
  auto dtype = dtype_from_onnx(proto.data_type());
  if (!dtype) throw Unsupported(fmt::format("tensor '{}' has element type {}", what, onnx_type_name(proto.data_type())));

  Shape shape(proto.dims().begin(), proto.dims().end());
  std::size_t count = 0;
  try {
    count = checked_numel(shape, dtype_size(*dtype));
  } catch (const Error& e) {
    fail("tensor '{}': {}", what, e.what());
  }
  const std::size_t element_size = dtype_size(*dtype);
  // Check the data is there before allocating: the allocation is then bounded by the file's size.
  if (proto.has_raw_data()) {
    if (count > proto.raw_data().size() / element_size || proto.raw_data().size() != count * element_size)
      fail("tensor '{}': raw_data has {} bytes, its shape {} of {} needs {}", what, proto.raw_data().size(),
           shape_string(shape), dtype_name(*dtype), count * element_size);
    Tensor tensor(*dtype, shape);
    if (*dtype == DType::boolean) {
      auto out = tensor.values<bool>();
      for (std::size_t i = 0; i < count; ++i) out[i] = proto.raw_data()[i] != 0;
    } else if (count) {
      std::memcpy(tensor.data(), proto.raw_data().data(), tensor.nbytes());
    }
    return tensor;
  }
  return visit_typed_field(proto, *dtype, [&](const auto& field, const char* field_name) {
    if (static_cast<std::size_t>(field.size()) != count)
      fail("tensor '{}': {} holds {} values, its shape {} needs {}", what, field_name, field.size(), shape_string(shape), count);
    Tensor tensor = Tensor::uninitialized(*dtype, shape);
    visit_dtype<AllTypes>(*dtype, [&](auto tag) {
      using T = decltype(tag);
      auto out = tensor.values<T>();
      for (std::size_t i = 0; i < count; ++i) out[i] = from_field<T>(field.Get(static_cast<int>(i)));
    });
    return tensor;
  });
}

Tensor read_tensor_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open tensor file {}", file.string());
  onnx::TensorProto proto;
  if (!proto.ParseFromIstream(&in)) fail("{} is not a serialized ONNX tensor (protobuf parsing failed)", file.string());
  return tensor_from_proto(proto, proto.name().empty() ? file.filename().string() : proto.name());
}

}  // namespace cpuinfer::engine

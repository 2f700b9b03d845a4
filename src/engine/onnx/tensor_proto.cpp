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

template <typename T, typename Field>
void copy_typed(const Field& field, Tensor& tensor, const std::string& what, const char* field_name) {
  if (static_cast<std::size_t>(field.size()) != tensor.numel())
    fail("tensor '{}': {} holds {} values, its shape {} needs {}", what, field_name, field.size(),
         shape_string(tensor.shape()), tensor.numel());
  auto out = tensor.values<T>();
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(field.Get(static_cast<int>(i)));
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
  std::size_t present = 0;
  switch (*dtype) {
    case DType::f32: present = static_cast<std::size_t>(proto.float_data_size()); break;
    case DType::f64: present = static_cast<std::size_t>(proto.double_data_size()); break;
    case DType::i32:
    case DType::boolean: present = static_cast<std::size_t>(proto.int32_data_size()); break;
    case DType::i64: present = static_cast<std::size_t>(proto.int64_data_size()); break;
  }
  if (present != count)
    fail("tensor '{}' holds {} values, its shape {} needs {}", what, present, shape_string(shape), count);
  Tensor tensor(*dtype, shape);
  switch (*dtype) {
    case DType::f32: copy_typed<float>(proto.float_data(), tensor, what, "float_data"); break;
    case DType::f64: copy_typed<double>(proto.double_data(), tensor, what, "double_data"); break;
    case DType::i32: copy_typed<std::int32_t>(proto.int32_data(), tensor, what, "int32_data"); break;
    case DType::i64: copy_typed<std::int64_t>(proto.int64_data(), tensor, what, "int64_data"); break;
    case DType::boolean: {
      auto out = tensor.values<bool>();
      for (std::size_t i = 0; i < count; ++i) out[i] = proto.int32_data(static_cast<int>(i)) != 0;
      break;
    }
  }
  return tensor;
}

Tensor read_tensor_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open tensor file {}", file.string());
  onnx::TensorProto proto;
  if (!proto.ParseFromIstream(&in)) fail("{} is not a serialized ONNX tensor (protobuf parsing failed)", file.string());
  return tensor_from_proto(proto, proto.name().empty() ? file.filename().string() : proto.name());
}

}  // namespace cpuinfer::engine

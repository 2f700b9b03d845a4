// .npy: magic, version, header length, a Python dict literal header, then the raw array.
#include "data/npy_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>

#include "core/error.h"

namespace cpuinfer {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct Descr {
  const char* code;
  DType dtype;
};
constexpr Descr kDescrs[] = {{"<f4", DType::f32}, {"<f8", DType::f64}, {"<i4", DType::i32}, {"<i8", DType::i64},
                             {"|b1", DType::boolean}, {"|u1", DType::u8}, {"|i1", DType::i8}, {"<u2", DType::u16},
                             {"<i2", DType::i16}, {"<u4", DType::u32}, {"<u8", DType::u64}, {"<f2", DType::f16}};

// The raw text of a value in the header's dict literal: {'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }. A hand-written scan: headers are untrusted and may be long.
std::string_view dict_value(std::string_view header, std::string_view key, const std::string& file) {
  const std::string quoted = fmt::format("'{}'", key);
  const std::size_t at = header.find(quoted);
  if (at == std::string_view::npos) fail("{}: .npy header has no {}", file, quoted);
  std::size_t begin = header.find(':', at + quoted.size());
  if (begin == std::string_view::npos) fail("{}: malformed .npy header", file);
  ++begin;
  while (begin < header.size() && header[begin] == ' ') ++begin;
  std::size_t end = begin;
  if (begin < header.size() && header[begin] == '\'') {
    end = header.find('\'', begin + 1);
    if (end == std::string_view::npos) fail("{}: malformed .npy header", file);
    ++end;
  } else if (begin < header.size() && header[begin] == '(') {
    end = header.find(')', begin);
    if (end == std::string_view::npos) fail("{}: malformed .npy header", file);
    ++end;
  } else {
    while (end < header.size() && header[end] != ',' && header[end] != '}' && header[end] != ' ') ++end;
  }
  return header.substr(begin, end - begin);
}

// A header value as it may appear in a one-line message: bytes outside printable ASCII escaped,
// long values cut (headers are untrusted).
std::string printable(std::string_view value) {
  constexpr std::size_t kMax = 40;
  std::string out;
  for (std::size_t i = 0; i < value.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (value.size() > kMax) out += fmt::format("... ({} bytes)", value.size());
  return out;
}

}  // namespace

Tensor read_npy(const std::filesystem::path& file) {
  if (std::filesystem::is_directory(file)) fail("{}: a folder, not a .npy file", file.string());
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot open {}", file.string());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_npy(bytes, file.string());
}

Tensor parse_npy(std::string_view bytes, const std::string& name) {
  if (bytes.size() < 10 || bytes.compare(0, 6, std::string_view(kMagic, 6)) != 0)
    fail("{} is not a .npy file (no \\x93NUMPY magic)", name);
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail("{}: truncated .npy header", name);
    for (int i = 0; i < 4; ++i) header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    fail("{}: .npy format version {} is not supported", name, major);
  }
  if (header_len > bytes.size() - offset) fail("{}: truncated .npy header", name);
  const std::string_view header(bytes.data() + offset, header_len);
  const std::string_view descr = dict_value(header, "descr", name);
  const Descr* found = nullptr;
  for (const auto& d : kDescrs)
    if (descr == std::string("'") + d.code + "'") found = &d;
  if (!found && descr.size() >= 2 && descr[1] == '>')
    fail("{}: element type {} is big-endian; only little-endian arrays are supported (numpy: a.astype(a.dtype.newbyteorder('<')))",
         name, printable(descr));
  if (!found)
    fail("{}: element type {} is not supported (float16/32/64, int8/16/32/64, uint8/16/32/64, bool; little-endian)", name,
         printable(descr));
  const std::string_view order = dict_value(header, "fortran_order", name);
  if (order == "True")
    fail("{}: the array is in Fortran order; only C-order arrays are supported (numpy: numpy.ascontiguousarray(a))", name);
  if (order != "False") fail("{}: malformed 'fortran_order' in the .npy header", name);
  // 'shape': (2, 3) or (5,) or ()
  const std::string_view dims = dict_value(header, "shape", name);
  if (dims.size() < 2 || dims.front() != '(' || dims.back() != ')') fail("{}: malformed 'shape' in the .npy header", name);
  Shape shape;
  std::string digits;
  for (char c : dims.substr(1)) {
    if (c >= '0' && c <= '9') {
      if (digits.size() >= 15) fail("{}: absurd dimension in the .npy header", name);
      digits += c;
    } else if (c == ',' || c == ')') {
      if (!digits.empty()) shape.push_back(std::stoll(digits));
      else if (c == ',') fail("{}: malformed 'shape' in the .npy header", name);
      digits.clear();
    } else if (c != ' ') {
      fail("{}: malformed 'shape' in the .npy header", name);
    }
  }
  std::size_t count = 0;
  try {
    count = checked_numel(shape, dtype_size(found->dtype));
  } catch (const Error& e) {
    fail("{}: {}", name, e.what());
  }
  const std::size_t data = offset + header_len;
  const std::size_t size = dtype_size(found->dtype);
  if (count > (bytes.size() - data) / size || bytes.size() - data != count * size)
    fail("{}: holds {} data bytes, shape {} of {} needs {}", name, bytes.size() - data, shape_string(shape),
         dtype_name(found->dtype), count * size);
  Tensor t(found->dtype, shape);
  if (found->dtype == DType::boolean) {
    auto out = t.values<bool>();
    for (std::size_t i = 0; i < count; ++i) out[i] = bytes[data + i] != 0;
  } else if (count) {
    std::memcpy(t.data(), bytes.data() + data, t.nbytes());
  }
  return t;
}

bool npy_holds(DType dtype) {
  return std::any_of(std::begin(kDescrs), std::end(kDescrs), [&](const Descr& d) { return d.dtype == dtype; });
}

void write_npy(const std::filesystem::path& file, const Tensor& tensor) {
  const char* code = nullptr;
  for (const auto& d : kDescrs)
    if (d.dtype == tensor.dtype()) code = d.code;
  if (!code) fail("cannot write {}: .npy files hold no {}", file.string(), dtype_name(tensor.dtype()));
  std::string dims;
  for (std::int64_t d : tensor.shape()) dims += std::to_string(d) + ",";
  if (tensor.rank() > 1) dims.pop_back();
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", code, dims);
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::ofstream out(file, std::ios::binary);
  out.write(kMagic, 6);
  const char version[2] = {1, 0};
  out.write(version, 2);
  const char len[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  out.write(len, 2);
  out << header;
  out.write(static_cast<const char*>(tensor.data()), static_cast<std::streamsize>(tensor.nbytes()));
  if (!out) fail("cannot write {}", file.string());
}

}  // namespace cpuinfer

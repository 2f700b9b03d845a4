// The Open Inference Protocol's request and response bodies (serve/protocol/infer_message.h),
// against values written here from the specification: JSON data nested and flat in every
// datatype, the binary extension (numbers, BOOL, BYTES with their 4-byte lengths), outputs as JSON
// or binary, and one line naming the culprit for each way a body can be wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "serve/http/request_body.h"
#include "serve/protocol/infer_message.h"

namespace cpuinfer::serve {
namespace {

using ::testing::HasSubstr;
constexpr std::size_t kNoLimit = std::size_t{1} << 30;

std::string le32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string error_of(std::string_view body, std::optional<std::size_t> json_length = std::nullopt, std::size_t limit = kNoLimit) {
  try {
    parse_infer_request(body, json_length, limit);
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
  return "no error";
}

TEST(InferMessage, JsonDataNestedOrFlatInEveryDatatype) {
  const InferRequest r = parse_infer_request(R"({
    "id": "42", "parameters": {"binary_data_output": true, "timeout": 5},
    "inputs": [
      {"name": "a", "shape": [2, 2], "datatype": "UINT32", "data": [[1, 2], [3, 4]]},
      {"name": "b", "shape": [3], "datatype": "BOOL", "data": [true, false, true]},
      {"name": "c", "shape": [2], "datatype": "FP16", "data": [1.5, -2]},
      {"name": "d", "shape": [1, 2], "datatype": "BYTES", "data": ["héllo", ""]},
      {"name": "e", "shape": [2], "datatype": "INT8", "data": [-128, 127]},
      {"name": "f", "shape": [2], "datatype": "UINT64", "data": [18446744073709551615, 0]},
      {"name": "g", "shape": [0, 3], "datatype": "FP32", "data": []},
      {"name": "h", "shape": [], "datatype": "BF16", "data": 0.25}
    ],
    "outputs": [{"name": "y", "parameters": {"binary_data": false}}, {"name": "z"}]})",
                                             std::nullopt, kNoLimit);
  EXPECT_EQ(r.id, "42");
  EXPECT_TRUE(r.binary_outputs);
  EXPECT_EQ(r.parameters["timeout"], 5);
  ASSERT_EQ(r.inputs.size(), 8u);
  EXPECT_EQ(r.inputs[0].values.dtype(), DType::u32);
  EXPECT_EQ(r.inputs[0].shape, (Shape{2, 2}));
  EXPECT_EQ(std::vector<std::uint32_t>(r.inputs[0].values.values<std::uint32_t>().begin(), r.inputs[0].values.values<std::uint32_t>().end()),
            (std::vector<std::uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(r.inputs[1].values.values<bool>()[1], false);
  EXPECT_EQ(static_cast<float>(r.inputs[2].values.values<Float16>()[0]), 1.5f);
  EXPECT_EQ(r.inputs[3].bytes, (std::vector<std::string>{"héllo", ""}));
  EXPECT_EQ(r.inputs[4].values.values<std::int8_t>()[0], -128);
  EXPECT_EQ(r.inputs[5].values.values<std::uint64_t>()[0], 18446744073709551615ull);
  EXPECT_EQ(r.inputs[6].values.numel(), 0u);
  EXPECT_EQ(static_cast<float>(r.inputs[7].values.values<BFloat16>()[0]), 0.25f);
  ASSERT_EQ(r.outputs.size(), 2u);
  EXPECT_EQ(r.outputs[0].binary, false);
  EXPECT_EQ(r.outputs[1].binary, std::nullopt);
}

TEST(InferMessage, BinaryInputsFollowTheJsonInTheirOrder) {
  const std::string header = R"({"inputs": [
      {"name": "u", "shape": [2, 2], "datatype": "UINT32", "parameters": {"binary_data_size": 16}},
      {"name": "j", "shape": [2], "datatype": "INT64", "data": [7, 8]},
      {"name": "b", "shape": [3], "datatype": "BOOL", "parameters": {"binary_data_size": 3}},
      {"name": "s", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 13}}]})";
  std::string blob = le32(1) + le32(2) + le32(3) + le32(0xffffffffu);
  blob += std::string("\x01\x00\x01", 3);
  blob += le32(5) + "hello" + le32(0);
  const InferRequest r = parse_infer_request(header + blob, header.size(), kNoLimit);
  ASSERT_EQ(r.inputs.size(), 4u);
  EXPECT_EQ(r.inputs[0].values.values<std::uint32_t>()[3], 0xffffffffu);
  EXPECT_EQ(r.inputs[1].values.values<std::int64_t>()[1], 8);
  EXPECT_EQ(r.inputs[2].values.values<bool>()[0], true);
  EXPECT_EQ(r.inputs[2].values.values<bool>()[1], false);
  EXPECT_EQ(r.inputs[3].bytes, (std::vector<std::string>{"hello", ""}));
}

TEST(InferMessage, AlignedBinaryInputsStayInTheBodyTheOthersAreCopied) {
  // x (64 bytes) lies on the boundary the body is laid out for; y follows it on the next
  // boundary; z, after 4 bytes of w, does not.
  const std::string header = R"({"inputs": [
      {"name": "x", "shape": [16], "datatype": "FP32", "parameters": {"binary_data_size": 64}},
      {"name": "y", "shape": [2], "datatype": "INT64", "parameters": {"binary_data_size": 16}},
      {"name": "w", "shape": [1], "datatype": "INT32", "parameters": {"binary_data_size": 4}},
      {"name": "z", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]})";
  std::string blob(64 + 16 + 4 + 4, '\0');
  for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i % 7);
  InferRequest r;
  std::weak_ptr<std::byte[]> block;
  {
    const RequestBody body(header + blob, header.size());
    block = body.block();
    const char* binary = body.view().data() + header.size();
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(binary) % 64, 0u);
    r = parse_infer_request(body.view(), header.size(), kNoLimit, body.block());
    EXPECT_EQ(r.inputs[0].values.data(), static_cast<const void*>(binary));
    EXPECT_EQ(r.inputs[1].values.data(), static_cast<const void*>(binary + 64));
    EXPECT_NE(r.inputs[3].values.data(), static_cast<const void*>(binary + 84));
  }
  EXPECT_FALSE(block.expired()) << "the tensors viewing the body keep it alive";
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t at = std::vector<std::size_t>{0, 64, 80, 84}[i];
    EXPECT_EQ(std::memcmp(r.inputs[i].values.data(), blob.data() + at, r.inputs[i].values.nbytes()), 0) << r.inputs[i].name;
  }
  r = {};
  EXPECT_TRUE(block.expired());
}

TEST(InferMessage, ARequestBodyKeepsItsLayoutAsItGrows) {
  RequestBody body;
  body.reserve(3, 5);
  std::string sent;
  for (int i = 0; i < 300; ++i) {
    const std::string piece(static_cast<std::size_t>(i % 13), static_cast<char>('a' + i % 26));
    body.append(piece.data(), piece.size());
    sent += piece;
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(body.view().data() + 5) % 64, 0u);
  }
  EXPECT_EQ(body.view(), sent);
  EXPECT_EQ(RequestBody().view(), "");
}

TEST(InferMessage, EveryWayABodyIsWrongIsOneLineNamingIt) {
  EXPECT_EQ(error_of("{\"inputs\": ["), "the request body is not valid JSON");
  EXPECT_EQ(error_of("[1]"), "the request body must be a JSON object");
  EXPECT_EQ(error_of("{}"), "'inputs' must be a non-empty array");
  EXPECT_EQ(error_of(R"({"id": 3, "inputs": []})"), "'id' must be a string");
  EXPECT_EQ(error_of(R"({"inputs": [{"shape": [1], "datatype": "FP32", "data": [1]}]})"), "inputs[0]: 'name' is missing");
  EXPECT_THAT(error_of(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]})"),
              HasSubstr("input 'x': unknown datatype 'FP8'"));
  EXPECT_THAT(error_of(R"({"inputs": [{"name": "x", "shape": [1, -2], "datatype": "FP32", "data": [1]}]})"),
              HasSubstr("input 'x': shape [1,-2] has a dimension that is not a size"));
  // The specification's own example gives a BOOL of shape [3] one value.
  EXPECT_EQ(error_of(R"({"inputs": [{"name": "x", "shape": [3], "datatype": "BOOL", "data": [true]}]})"),
            "input 'x': 'data' has 1 elements, its shape 3 holds 3");
  EXPECT_EQ(error_of(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [300]}]})"),
            "input 'x': data element 0 (300) does not fit UINT8");
  EXPECT_EQ(error_of(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [1.5]}]})"),
            "input 'x': data element 0 (1.5) does not fit INT32");
  EXPECT_EQ(error_of(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ["1"]}]})"),
            "input 'x': data element 0 (\"1\") does not fit FP32");
  EXPECT_EQ(error_of(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": [1]}]})"),
            "input 'x': data element 0 (1) is not a string (BYTES)");
  EXPECT_EQ(error_of(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]})"),
            "input 'x': no 'data' and no parameters.binary_data_size");
  EXPECT_EQ(error_of(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]},
                                    {"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]})"),
            "input 'x' is given twice");
  EXPECT_EQ(error_of(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"binary_data_output": 1}})"),
            "the request: parameter 'binary_data_output' must be a boolean, not 1");
  EXPECT_THAT(error_of(R"({"inputs": [{"name": "x", "shape": [1000000], "datatype": "FP32", "data": []}]})", std::nullopt, 4096),
              HasSubstr("input 'x': invalid tensor shape 1000000: its 4-byte elements take more than 4096 bytes"));

  // Binary: a size that lies, in each direction; bytes left over; a header longer than the body.
  const std::string two_floats = R"({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]})";
  EXPECT_EQ(error_of(two_floats + "1234", two_floats.size()), "input 'x': binary_data_size 8 exceeds the 4 bytes of binary data left in the body");
  EXPECT_EQ(error_of(two_floats + "123456789", two_floats.size()), "the body has 1 bytes after the inputs' binary data");
  const std::string lies = R"({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]})";
  EXPECT_EQ(error_of(lies + "1234", lies.size()), "input 'x': its 4 bytes of binary data are not the 8 bytes of 2 FP32 elements");
  EXPECT_EQ(error_of(two_floats, two_floats.size() + 1), fmt::format("Inference-Header-Content-Length {} exceeds the body's {} bytes", two_floats.size() + 1, two_floats.size()));
  const std::string flag = R"({"inputs": [{"name": "b", "shape": [1], "datatype": "BOOL", "parameters": {"binary_data_size": 1}}]})";
  EXPECT_EQ(error_of(flag + "\x02", flag.size()), "input 'b': BOOL element 0 is byte 2, not 0 or 1");
  const std::string text = R"({"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 6}}]})";
  EXPECT_EQ(error_of(text + le32(9) + "ab", text.size()), "input 's': element 0 claims 9 bytes, 2 remain");
  const std::string short_text = R"({"inputs": [{"name": "s", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 2}}]})";
  EXPECT_EQ(error_of(short_text + std::string("\x01\x00", 2), short_text.size()), "input 's': binary data ends inside the length of element 0");
}

TEST(InferMessage, ResponsesInJsonAndBinary) {
  InferResponse r;
  r.model_name = "m";
  r.model_version = "1";
  r.id = "7";
  r.parameters = {{"batch_size", 2}};
  WireTensor y{"y", "FP32", {3}, Tensor(DType::f32, {3}), {}};
  y.values.values<float>()[0] = 1.5f;
  y.values.values<float>()[1] = std::numeric_limits<float>::quiet_NaN();
  y.values.values<float>()[2] = -std::numeric_limits<float>::infinity();
  WireTensor s{"s", "BYTES", {2}, {}, {"ab", "c"}};
  r.outputs = {y, s};

  r.binary = {false, false};
  const EncodedBody j = write_infer_response(r);
  EXPECT_EQ(j.json_length, std::nullopt);
  EXPECT_EQ(nlohmann::json::parse(j.body), nlohmann::json::parse(R"({"model_name": "m", "model_version": "1", "id": "7",
    "parameters": {"batch_size": 2}, "outputs": [{"name": "y", "datatype": "FP32", "shape": [3], "data": [1.5, null, null]},
    {"name": "s", "datatype": "BYTES", "shape": [2], "data": ["ab", "c"]}]})"));

  r.binary = {true, true};
  const EncodedBody b = write_infer_response(r);
  ASSERT_TRUE(b.json_length);
  const auto header = nlohmann::json::parse(b.body.substr(0, *b.json_length));
  EXPECT_EQ(header["outputs"][0]["parameters"]["binary_data_size"], 12);
  EXPECT_EQ(header["outputs"][1]["parameters"]["binary_data_size"], 4 + 2 + 4 + 1);
  EXPECT_FALSE(header["outputs"][0].contains("data"));
  const std::string blob = b.body.substr(*b.json_length);
  ASSERT_EQ(blob.size(), 23u);
  float first = 0;
  std::memcpy(&first, blob.data(), 4);
  EXPECT_EQ(first, 1.5f);
  EXPECT_EQ(blob.substr(12), le32(2) + "ab" + le32(1) + "c");
}

}  // namespace
}  // namespace cpuinfer::serve

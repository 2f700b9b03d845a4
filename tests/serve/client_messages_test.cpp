// The client's side of the protocol's messages (cpuinfer loadgen): what a client writes, the
// server's parser reads back exactly, and what the server writes, the client reads back exactly;
// over REST (binary and JSON outputs) and gRPC (raw contents).
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "serve/protocol/grpc_message.h"
#include "serve/protocol/infer_message.h"

namespace cpuinfer::serve {
namespace {

constexpr std::size_t kNoLimit = std::size_t{1} << 30;

WireTensor floats(const std::string& name, Shape shape, float start) {
  WireTensor t{name, "FP32", shape, Tensor(DType::f32, shape), {}};
  float v = start;
  for (float& x : t.values.values<float>()) x = v++;
  return t;
}

void expect_same(const WireTensor& a, const WireTensor& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.datatype, b.datatype);
  EXPECT_EQ(a.shape, b.shape);
  if (a.is_bytes()) {
    EXPECT_EQ(a.bytes, b.bytes);
    return;
  }
  ASSERT_EQ(a.values.nbytes(), b.values.nbytes());
  EXPECT_EQ(std::memcmp(a.values.data(), b.values.data(), a.values.nbytes()), 0) << a.name;
}

InferRequest request() {
  InferRequest q;
  q.id = "q1";
  q.inputs = {floats("x", {2, 3}, 0.5f), WireTensor{"s", "BYTES", {2}, {}, {"héllo", ""}}};
  WireTensor ids{"ids", "INT64", {3}, Tensor(DType::i64, {3}), {}};
  ids.values.values<std::int64_t>()[2] = std::int64_t{1} << 60;
  q.inputs.push_back(ids);
  return q;
}

TEST(ClientMessages, ARestRequestIsReadBackByTheServer) {
  const InferRequest q = request();
  const EncodedBody body = write_infer_request(q);
  ASSERT_TRUE(body.json_length);
  const InferRequest back = parse_infer_request(body.body, body.json_length, kNoLimit);
  EXPECT_EQ(back.id, q.id);
  EXPECT_TRUE(back.binary_outputs);
  ASSERT_EQ(back.inputs.size(), q.inputs.size());
  for (std::size_t i = 0; i < q.inputs.size(); ++i) expect_same(back.inputs[i], q.inputs[i]);
}

TEST(ClientMessages, ARestResponseIsReadBackByTheClientInBinaryAndJson) {
  InferResponse r;
  r.model_name = "m";
  r.outputs = {floats("y", {1, 4}, -2.0f), WireTensor{"t", "BYTES", {1}, {}, {"ok"}}};
  for (const bool binary : {true, false}) {
    r.binary = {binary, binary};
    const EncodedBody body = write_infer_response(r);
    const InferResponse back = parse_infer_response(body.body, body.json_length, kNoLimit);
    EXPECT_EQ(back.model_name, "m");
    ASSERT_EQ(back.outputs.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) expect_same(back.outputs[i], r.outputs[i]);
  }
  try {
    parse_infer_response(R"({"outputs": [{"name": "y", "datatype": "FP32", "shape": [2], "data": [1]}]})", std::nullopt, kNoLimit);
    FAIL() << "a short output was taken";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "output 'y': 'data' has 1 elements, its shape 2 holds 2");
  }
}

TEST(ClientMessages, AGrpcRequestAndResponseAreReadBackEachSide) {
  const InferRequest q = request();
  inference::ModelInferRequest message;
  write_grpc_request(q, "m", "2", message);
  EXPECT_EQ(message.model_name(), "m");
  EXPECT_EQ(message.model_version(), "2");
  const InferRequest back = read_grpc_request(message, kNoLimit);
  ASSERT_EQ(back.inputs.size(), q.inputs.size());
  for (std::size_t i = 0; i < q.inputs.size(); ++i) expect_same(back.inputs[i], q.inputs[i]);

  InferResponse r;
  r.model_name = "m";
  r.outputs = {floats("y", {3}, 7.0f)};
  inference::ModelInferResponse answer;
  write_grpc_response(r, answer);
  const InferResponse read = read_grpc_response(answer, kNoLimit);
  ASSERT_EQ(read.outputs.size(), 1u);
  expect_same(read.outputs[0], r.outputs[0]);
}

}  // namespace
}  // namespace cpuinfer::serve

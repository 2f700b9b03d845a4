// The importer refuses malformed and hostile models with an error naming the culprit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "engine/onnx/import.h"
#include "engine/session.h"
#include "engine/onnx_builder.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

using engine::import_onnx_bytes;
using test::OnnxBuilder;
using ::testing::HasSubstr;

constexpr int kFloat = onnx::TensorProto::FLOAT;

std::string error_of(const std::string& bytes) {
  try {
    engine::Session session(import_onnx_bytes(bytes, "model.onnx"), {1});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

OnnxBuilder relu_model() {
  OnnxBuilder b;
  b.input("x", kFloat, {"batch", "4"});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y");
  return b;
}

TEST(OnnxImport, AcceptsAValidModel) { EXPECT_EQ(error_of(relu_model().bytes()), ""); }

TEST(OnnxImport, RefusesBytesThatAreNotAModel) {
  EXPECT_THAT(error_of("this is not protobuf \xff\xff\xff"), HasSubstr("model.onnx is not an ONNX model"));
}

TEST(OnnxImport, RefusesATruncatedModel) {
  OnnxBuilder b = relu_model();
  b.initializer("w", {64}, std::vector<float>(64, 1.0f));
  const std::string bytes = b.bytes();
  EXPECT_THAT(error_of(bytes.substr(0, bytes.size() - 7)), HasSubstr("not an ONNX model"));
}

TEST(OnnxImport, NamesTheNodeWithAMissingInput) {
  OnnxBuilder b;
  b.input("x", kFloat, {"4"});
  b.node("Add", {"x", "nowhere"}, {"y"}, "adder");
  b.output("y");
  EXPECT_THAT(error_of(b.bytes()), HasSubstr("node 'adder' (Add): input 'nowhere' is not produced"));
}

TEST(OnnxImport, RefusesCycles) {
  OnnxBuilder b;
  b.input("x", kFloat, {"4"});
  b.node("Add", {"x", "b"}, {"a"}, "first");
  b.node("Relu", {"a"}, {"b"}, "second");
  b.output("b");
  EXPECT_THAT(error_of(b.bytes()), HasSubstr("is part of a cycle"));
}

TEST(OnnxImport, RefusesAValueProducedTwice) {
  OnnxBuilder b;
  b.input("x", kFloat, {"4"});
  b.node("Relu", {"x"}, {"y"}, "one");
  b.node("Relu", {"x"}, {"y"}, "two");
  b.output("y");
  EXPECT_THAT(error_of(b.bytes()), HasSubstr("node 'two' (Relu): output 'y' is already produced"));
}

TEST(OnnxImport, RefusesInitializersWhoseDataDoesNotMatchTheirShape) {
  OnnxBuilder b = relu_model();
  b.initializer("w", {3, 4}, {1, 2, 3});
  EXPECT_THAT(error_of(b.bytes()), HasSubstr("tensor 'w': float_data holds 3 values, its shape 3x4 needs 12"));

  OnnxBuilder raw = relu_model();
  onnx::TensorProto& t = raw.initializer("r", {100000, 1000}, {});
  t.set_raw_data(std::string(16, '\0'));
  EXPECT_THAT(error_of(raw.bytes()), HasSubstr("tensor 'r': raw_data has 16 bytes"));

  OnnxBuilder absurd = relu_model();
  absurd.initializer("huge", {INT64_MAX, INT64_MAX}, {});
  EXPECT_THAT(error_of(absurd.bytes()), HasSubstr("tensor 'huge': invalid tensor shape"));

  OnnxBuilder negative = relu_model();
  negative.initializer("neg", {-2, 3}, {});
  EXPECT_THAT(error_of(negative.bytes()), HasSubstr("tensor 'neg': invalid tensor shape -2x3: negative dimension"));
}

TEST(OnnxImport, RefusesExternalDataAsUnsupported) {
  OnnxBuilder b = relu_model();
  onnx::TensorProto& t = b.initializer("w", {4}, {});
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  auto* entry = t.add_external_data();
  entry->set_key("location");
  entry->set_value("weights.bin");
  EXPECT_THROW(import_onnx_bytes(b.bytes(), "model.onnx"), Unsupported);
  EXPECT_THAT(error_of(b.bytes()), HasSubstr("tensor 'w' keeps its data in an external file"));
}

TEST(OnnxImport, NamesTheNodeOfAnUnsupportedOperator) {
  OnnxBuilder b;
  b.input("x", kFloat, {"4"});
  b.node("Relu", {"x"}, {"a"}, "fine");
  b.node("NoSuchOperator", {"a"}, {"y"}, "exotic");
  b.output("y");
  try {
    engine::Session(import_onnx_bytes(b.bytes(), "m"), {1});
    FAIL() << "no error";
  } catch (const Unsupported& e) {
    EXPECT_EQ(e.node(), "'exotic' (NoSuchOperator)");  // a field, for programs
    EXPECT_EQ(e.detail(), "operator NoSuchOperator is not supported");
    EXPECT_STREQ(e.what(), "node 'exotic' (NoSuchOperator): operator NoSuchOperator is not supported");
  }
}

// An operator unchanged since the opsets the kernels follow runs in a newer model (ONNX takes an
// operator's newest version no later than the model's opset: Relu-14 at opset 19 and 28); one
// that changed meaning is refused, naming the change; an opset past ONNX's newest known is refused.
TEST(OnnxImport, NewerOpsetsRunWhatDidNotChangeAndNameWhatDid) {
  for (std::int64_t opset : {18, 19, 28}) {
    OnnxBuilder newer(opset);
    newer.input("x", kFloat, {"4"});
    newer.node("Relu", {"x"}, {"y"}, "act");
    newer.output("y");
    engine::Session s(import_onnx_bytes(newer.bytes(), "m"), {1});
    Tensor x(DType::f32, {4});
    x.values<float>()[0] = -1.0f;
    x.values<float>()[1] = 2.0f;
    const auto y = s.run(std::vector<Tensor>{x});
    EXPECT_EQ(y[0].values<float>()[0], 0.0f) << "opset " << opset;
    EXPECT_EQ(y[0].values<float>()[1], 2.0f) << "opset " << opset;
  }
  OnnxBuilder dft(20);
  dft.input("x", kFloat, {"1", "8", "1"});
  dft.node("DFT", {"x"}, {"y"}, "dft");
  dft.output("y");
  EXPECT_THAT(error_of(dft.bytes()), HasSubstr("node 'dft' (DFT): DFT-20 axis attribute (default 1) became an input"));
  OnnxBuilder future(99);
  future.input("x", kFloat, {"4"});
  future.node("Relu", {"x"}, {"y"}, "act");
  future.output("y");
  EXPECT_THAT(error_of(future.bytes()), HasSubstr("opset 99 is newer than the newest ONNX opset the engine knows (28)"));
}

TEST(OnnxImport, RefusesAnElementTypeNoKernelTakes) {
  OnnxBuilder ints;
  ints.input("x", onnx::TensorProto::INT64, {"1", "1", "4", "4"});
  ints.initializer("w", {1, 1, 1, 1}, {1.0f});
  ints.node("Conv", {"x", "w"}, {"y"}, "conv");
  ints.output("y");
  EXPECT_THAT(error_of(ints.bytes()), HasSubstr("node 'conv' (Conv): Conv on int64 is not supported (kernels for float32)"));
}

TEST(OnnxImport, RefusesOperatorsOfOtherDomains) {
  OnnxBuilder b;
  b.input("x", kFloat, {"4"});
  b.node("Relu", {"x"}, {"y"}, "custom").set_domain("com.example");
  b.output("y");
  EXPECT_THAT(error_of(b.bytes()), HasSubstr("operator com.example:Relu is not supported"));
}

TEST(OnnxImport, RefusesInvalidAttributesAtLoad) {
  OnnxBuilder b;
  b.input("x", kFloat, {"1", "1", "8", "8"});
  OnnxBuilder::attribute(b.node("MaxPool", {"x"}, {"y"}, "pool"), "kernel_shape", std::vector<std::int64_t>{0, 3});
  b.output("y");
  EXPECT_THAT(error_of(b.bytes()), HasSubstr("node 'pool' (MaxPool): kernel_shape 0,3 has a non-positive size"));

  OnnxBuilder pads;
  pads.input("x", kFloat, {"1", "1", "8", "8"});
  pads.initializer("w", {1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  OnnxBuilder::attribute(pads.node("Conv", {"x", "w"}, {"y"}, "conv"), "pads",
                         std::vector<std::int64_t>{std::int64_t{1} << 62, 0, std::int64_t{1} << 62, 0});
  pads.output("y");
  EXPECT_THAT(error_of(pads.bytes()), HasSubstr("node 'conv' (Conv): pads"));
}

TEST(OnnxImport, RefusesTheEnginesOwnDomain) {
  // The engine's fused operators take typed attributes its passes set: a model may not supply them.
  OnnxBuilder b;
  b.input("x", kFloat, {"4", "4"});
  b.initializer("w", {4, 4}, std::vector<float>(16, 1.0f));
  b.node("FusedMatMul", {"x", "w"}, {"y"}, "mm").set_domain("cpuinfer");
  b.output("y");
  EXPECT_THAT(error_of(b.bytes()), HasSubstr("node 'mm' (cpuinfer:FusedMatMul): domain 'cpuinfer' is reserved"));
}

TEST(OnnxImport, DropsNodesNobodyReadsWithoutRunningThem) {
  // A 16 GiB ConstantOfShape no one reads: evaluating it would be refused (over 8 GiB).
  OnnxBuilder b = relu_model();
  b.int_initializer("big", {2}, {std::int64_t{1} << 20, std::int64_t{1} << 12});
  b.node("ConstantOfShape", {"big"}, {"unused"}, "waste");
  engine::Session s(import_onnx_bytes(b.bytes(), "m"), {1});
  EXPECT_EQ(s.node_count(), 1u);
  EXPECT_EQ(s.report().folded_nodes, 1u);
}

TEST(OnnxImport, ReadsAFileAndRefusesAMissingOne) {
  testing::TempDir dir;
  const auto file = dir.path() / "relu.onnx";
  std::ofstream(file, std::ios::binary) << relu_model().bytes();
  const engine::Graph g = engine::import_onnx_file(file);
  EXPECT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.opset, 17);
  const auto signature = engine::read_onnx_signature(file);
  ASSERT_EQ(signature.inputs.size(), 1u);
  EXPECT_EQ(engine::dims_string(*signature.inputs[0].shape), "batch x 4");
  EXPECT_THROW(engine::import_onnx_file(dir.path() / "missing.onnx"), Error);
}

TEST(OnnxImport, SignatureOfAFileWithoutAGraphIsRefused) {
  // Zero bytes parse as an empty ModelProto: no graph, so not a model (nor is one with only a version).
  testing::TempDir dir;
  const auto empty = dir.path() / "empty.onnx", version_only = dir.path() / "version.onnx";
  std::ofstream(empty, std::ios::binary).flush();
  onnx::ModelProto m;
  m.set_ir_version(8);
  std::ofstream(version_only, std::ios::binary) << m.SerializeAsString();
  for (const auto& file : {empty, version_only}) {
    try {
      engine::read_onnx_signature(file);
      ADD_FAILURE() << file << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), file.string() + ": the model has no graph");
    }
  }
}

}  // namespace
}  // namespace cpuinfer

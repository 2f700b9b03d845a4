// The Identity clean-up: torch's exported BERT (torch 1.13 puts Identity nodes on its shared
// weights) loses them all, and every node still reads only what exists; broken files are errors.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <set>

#include "backends/opencv/identity_removal.h"
#include "core/error.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

TEST(IdentityRemoval, TorchExportLosesEveryIdentityAndKeepsItsInputs) {
  const auto file = testing::cache_dir() / "models" / "bert-random-seed0" / "model.onnx";
  onnx::ModelProto original;
  ASSERT_TRUE(original.ParseFromString(testing::read_text(file)));
  std::size_t identities = 0;
  for (const auto& n : original.graph().node()) identities += n.op_type() == "Identity";
  ASSERT_GT(identities, 0u) << "torch's export has no Identity nodes any more: this test needs another model";

  const CleanedModel cleaned = remove_identity_nodes(file);
  EXPECT_EQ(cleaned.removed, identities);
  EXPECT_EQ(cleaned.inputs, (std::vector<std::string>{"input_ids", "attention_mask", "token_type_ids"}));
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(cleaned.bytes));
  EXPECT_EQ(model.graph().node_size() + static_cast<int>(identities), original.graph().node_size());
  // Every node input is now produced by a node, or is an initializer or a graph input.
  std::set<std::string> known;
  for (const auto& i : model.graph().initializer()) known.insert(i.name());
  for (const auto& i : model.graph().input()) known.insert(i.name());
  for (const auto& n : model.graph().node()) {
    EXPECT_NE(n.op_type(), "Identity");
    for (const auto& in : n.input()) EXPECT_TRUE(in.empty() || known.count(in)) << n.name() << " reads " << in;
    for (const auto& out : n.output()) known.insert(out);
  }
}

TEST(IdentityRemoval, BrokenFilesAreErrors) {
  testing::TempDir tmp;
  EXPECT_THROW(remove_identity_nodes(tmp.path() / "missing.onnx"), Error);
  testing::write_bytes(tmp.path() / "bad.onnx", {0x0a, 0xff, 0xff, 0xff, 0x0f});
  EXPECT_THROW(remove_identity_nodes(tmp.path() / "bad.onnx"), Error);
}

}  // namespace
}  // namespace cpuinfer

// `cpuinfer run` as a user runs it: an image, a text or .npy inputs through a small model, the
// top classes printed or the outputs saved; a text gives the same outputs as its token ids given
// as files; and one clear line for each kind of bad input.
#include <gtest/gtest.h>

#include <fstream>

#include "data/npy_file.h"
#include "data/wordpiece_tokenizer.h"
#include "engine/onnx_builder.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

using test::OnnxBuilder;
using testing::expect_one_error;
using testing::run_cpuinfer;

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;

class RunCli : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const OnnxBuilder& b) {
    const fs::path file = tmp_.path() / name;
    std::ofstream(file, std::ios::binary) << b.bytes();
    return file;
  }
  // Image [N, 3, 16, 16] -> GlobalAveragePool -> Flatten -> Gemm: 4 classes, class k weighing
  // channel k % 3 by k + 1.
  fs::path image_model() {
    OnnxBuilder b;
    b.input("pixels", kFloat, {"N", "3", "16", "16"});
    std::vector<float> w(4 * 3, 0.0f);
    for (int k = 0; k < 4; ++k) w[static_cast<std::size_t>(k * 3 + k % 3)] = static_cast<float>(k + 1);
    b.initializer("w", {4, 3}, w);
    b.node("GlobalAveragePool", {"pixels"}, {"g"});
    b.node("Flatten", {"g"}, {"f"});
    OnnxBuilder::attribute(b.node("Gemm", {"f", "w"}, {"logits"}), "transB", std::int64_t{1});
    b.output("logits");
    return write("image.onnx", b);
  }
  // A text classifier's inputs (ids, attention mask, token types): embeddings of the ids, masked,
  // plus the types' embeddings, averaged into 3 scores.
  fs::path text_model() {
    OnnxBuilder b;
    b.input("input_ids", kInt64, {"batch", "sequence"});
    b.input("attention_mask", kInt64, {"batch", "sequence"});
    b.input("token_type_ids", kInt64, {"batch", "sequence"});
    std::vector<float> table(vocab_.size() * 3);
    for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<float>((i * 7) % 11) * 0.1f - 0.5f;
    b.initializer("table", {static_cast<std::int64_t>(vocab_.size()), 3}, table);
    b.initializer("types", {2, 3}, {0.25f, 0.5f, -0.25f, 1, 1, 1});
    b.node("Gather", {"table", "input_ids"}, {"e"});
    OnnxBuilder::attribute(b.node("Cast", {"attention_mask"}, {"m"}), "to", std::int64_t{kFloat});
    b.node("Unsqueeze", {"m", "axis"}, {"mu"});
    b.int_initializer("axis", {1}, {2});
    b.node("Mul", {"e", "mu"}, {"em"});
    b.node("Gather", {"types", "token_type_ids"}, {"t"});
    b.node("Add", {"em", "t"}, {"s"});
    OnnxBuilder::attribute(b.node("ReduceMean", {"s"}, {"r"}), "axes", std::vector<std::int64_t>{1});
    OnnxBuilder::attribute(b.node("ReduceMean", {"r"}, {"scores"}), "axes", std::vector<std::int64_t>{0});
    b.output("scores");
    return write("text.onnx", b);
  }
  fs::path vocab_file() {
    const fs::path file = tmp_.path() / "vocab.txt";
    std::ofstream out(file);
    for (const std::string& t : vocab_) out << t << "\n";
    return file;
  }
  const std::vector<std::string> vocab_ = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "film", "was", "good", "##s", "."};
  testing::TempDir tmp_;
};

TEST_F(RunCli, AnImageGivesItsTopClassesWithLabels) {
  const fs::path image = tmp_.path() / "cat.jpg", labels = tmp_.path() / "labels.txt";
  testing::write_jpeg(image, 40, 30, 7);
  std::ofstream(labels) << "zero\none\ntwo\nthree\n";
  const auto r = run_cpuinfer({"run", "--model", image_model().string(), "--image", image.string(), "--top", "2",
                               "--labels", labels.string(), "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("logits: float32 1x4"), std::string::npos) << r.output;
  // Two class lines, the labels beside them.
  std::size_t lines = 0;
  for (const char* label : {"zero", "one", "two", "three"}) lines += r.output.find(std::string("  ") + label + "\n") != std::string::npos;
  EXPECT_EQ(lines, 2u) << r.output;
}

TEST_F(RunCli, ATextGivesTheOutputsOfItsTokenIds) {
  const fs::path model = text_model(), vocab = vocab_file();
  fs::copy_file(vocab, tmp_.path() / "beside.txt");
  const std::string text = "The films were good.";
  const auto r = run_cpuinfer({"run", "--model", model.string(), "--text", text, "--vocab", vocab.string(), "--out",
                               (tmp_.path() / "from-text").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // The same ids as files: [CLS] the film ##s [UNK] good . [SEP]
  const Encoding e = WordPieceTokenizer::from_file(vocab).encode(text);
  EXPECT_EQ(e.input_ids, (std::vector<std::int64_t>{2, 4, 5, 8, 1, 7, 9, 3}));
  const auto n = static_cast<std::int64_t>(e.input_ids.size());
  Tensor ids(DType::i64, {1, n}), mask(DType::i64, {1, n}), types(DType::i64, {1, n});
  for (std::int64_t i = 0; i < n; ++i) {
    ids.values<std::int64_t>()[i] = e.input_ids[static_cast<std::size_t>(i)];
    mask.values<std::int64_t>()[i] = 1;
  }
  write_npy(tmp_.path() / "ids.npy", ids);
  write_npy(tmp_.path() / "mask.npy", mask);
  write_npy(tmp_.path() / "types.npy", types);
  const auto f = run_cpuinfer({"run", "--model", model.string(), "--input", "input_ids=" + (tmp_.path() / "ids.npy").string(),
                               "--input", "attention_mask=" + (tmp_.path() / "mask.npy").string(), "--input",
                               "token_type_ids=" + (tmp_.path() / "types.npy").string(), "--out", (tmp_.path() / "from-files").string()});
  ASSERT_EQ(f.exit_code, 0) << f.output;
  EXPECT_EQ(testing::read_text(tmp_.path() / "from-text" / "scores.npy"), testing::read_text(tmp_.path() / "from-files" / "scores.npy"));

  // The vocabulary beside the model is found without --vocab.
  fs::rename(tmp_.path() / "beside.txt", tmp_.path() / "vocab.txt");
  const auto beside = run_cpuinfer({"run", "--model", model.string(), "--text", text});
  EXPECT_EQ(beside.exit_code, 0) << beside.output;
}

TEST_F(RunCli, BadInputIsOneLineNamingIt) {
  const fs::path image_net = image_model(), text_net = text_model();
  expect_one_error(run_cpuinfer({"run", "--model", image_net.string()}), "give one of --image, --text or --input");
  const fs::path image = tmp_.path() / "x.jpg";
  testing::write_jpeg(image, 8, 8, 1);
  expect_one_error(run_cpuinfer({"run", "--model", image_net.string(), "--image", image.string(), "--text", "hi"}),
                   "give one of --image, --text or --input");
  // No vocabulary beside this model.
  fs::create_directories(tmp_.path() / "alone");
  fs::copy_file(text_net, tmp_.path() / "alone" / "text.onnx");
  expect_one_error(run_cpuinfer({"run", "--model", (tmp_.path() / "alone" / "text.onnx").string(), "--text", "hi"}),
                   "--text: give --vocab");
  // An image model's float input is not token ids.
  expect_one_error(run_cpuinfer({"run", "--model", image_net.string(), "--text", "hi", "--vocab", vocab_file().string()}),
                   "--text: input 'pixels' is none of token ids");
  const fs::path bad_vocab = tmp_.path() / "bad.txt";
  testing::write_bytes(bad_vocab, {0xff, 0xfe, '\n'});
  expect_one_error(run_cpuinfer({"run", "--model", text_net.string(), "--text", "hi", "--vocab", bad_vocab.string()}), "bad.txt");
  expect_one_error(run_cpuinfer({"run", "--model", text_net.string(), "--text", "\xff", "--vocab", vocab_file().string()}),
                   "UTF-8");
  expect_one_error(run_cpuinfer({"run", "--model", text_net.string(), "--input", "nothing=" + image.string()}), "x.jpg");
  expect_one_error(run_cpuinfer({"run", "--model", image_net.string(), "--image", text_net.string()}), "text.onnx");
}

}  // namespace
}  // namespace cpuinfer

// ONNX Runtime and LibTorch agree on the exported models (same weights, two formats): top-1
// equal, and max |difference| of logits <= 1e-4 of the largest logit magnitude. For BERT also
// across padding: a text's logits do not depend on how far its batch is padded.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backends/registry.h"
#include "core/error.h"
#include "bench/metrics.h"
#include "bench/model_cache.h"
#include "data/image_decode.h"
#include "data/image_preprocess.h"
#include "data/wordpiece_tokenizer.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

constexpr double kRelativeTolerance = 1e-4;

// A batch of the preprocessing fixtures: real decoding and preprocessing, various images.
Tensor fixture_batch() {
  const std::vector<std::string> names = {"odd_420.jpg", "portrait_444.jpg", "gray.jpg", "alpha.png"};
  Tensor batch(DType::f32, {static_cast<std::int64_t>(names.size()), 3, 224, 224});
  const std::size_t per = 3 * 224 * 224;
  for (std::size_t i = 0; i < names.size(); ++i)
    preprocess_image(decode_image(testing::preprocess_fixtures() / names[i]), ImagePreprocess{},
                     batch.values<float>().subspan(i * per, per));
  return batch;
}

TEST(BackendsAgree, OrtAndLibtorchOnResnet101) {
  const ExportedModel model = prepare_model({"resnet101", testing::cache_dir() / "models", std::nullopt, 0});
  const std::vector<Tensor> inputs = {fixture_batch()};
  std::map<std::string, Tensor> logits;
  for (const std::string name : {"libtorch", "ort", "ort-basic", "libtorch-frozen"}) {
    auto backend = make_backend(name, BackendOptions{2});
    backend->load(model.files.by_format.at(backend->format()));
    auto outputs = backend->run(inputs);
    ASSERT_EQ(outputs.size(), 1u) << name;
    ASSERT_EQ(outputs[0].shape(), (Shape{4, 1000})) << name;
    logits[name] = outputs[0];
  }
  const auto ref = logits.at("libtorch").values<float>();
  for (const auto& [name, t] : logits) {
    SCOPED_TRACE(name);
    Agreement a;
    for (std::size_t i = 0; i < 4; ++i) a.add(t.values<float>().subspan(i * 1000, 1000), ref.subspan(i * 1000, 1000));
    EXPECT_EQ(a.top1_equal, 4u);
    EXPECT_LE(*a.max_rel_diff(), kRelativeTolerance) << "max abs diff " << a.max_abs_diff;
  }
  // Random weights must give a well-conditioned network, not logits in the thousands.
  double max_logit = 0;
  for (float v : ref) max_logit = std::max(max_logit, std::fabs(static_cast<double>(v)));
  EXPECT_GT(max_logit, 0.01);
  EXPECT_LT(max_logit, 100.0);
}

// input_ids, attention_mask, token_type_ids for `texts`, padded to `length`.
std::vector<Tensor> bert_batch(const WordPieceTokenizer& tok, const std::vector<std::string>& texts, std::size_t length) {
  const auto b = static_cast<std::int64_t>(texts.size());
  const auto l = static_cast<std::int64_t>(length);
  std::vector<Tensor> inputs = {Tensor(DType::i64, {b, l}), Tensor(DType::i64, {b, l}), Tensor(DType::i64, {b, l})};
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Encoding e = tok.encode(texts[i], length);
    std::copy(e.input_ids.begin(), e.input_ids.end(), inputs[0].values<std::int64_t>().begin() + i * length);
    std::fill_n(inputs[1].values<std::int64_t>().begin() + i * length, e.input_ids.size(), 1);
  }
  return inputs;
}

TEST(BackendsAgree, BertOnEveryBackendAndPadding) {
  const ExportedModel model = prepare_model({"bert", testing::cache_dir() / "models", std::nullopt, 0});
  const auto tok = WordPieceTokenizer::from_file(model.folder / "vocab.txt");
  const std::vector<std::string> texts = {"A very, very slow-moving, aimless movie.", "Loved it!",
                                          "The plot was predictable but the acting saved it, mostly."};
  std::size_t longest = 0;
  for (const auto& t : texts) longest = std::max(longest, tok.encode(t).input_ids.size());
  std::map<std::string, Tensor> logits;
  for (const std::string name : {"libtorch", "ort", "ort-basic", "libtorch-frozen"}) {
    auto backend = make_backend(name, BackendOptions{2});
    backend->load(model.files.by_format.at(backend->format()));
    for (std::size_t length : {longest, longest + 13}) {
      auto outputs = backend->run(bert_batch(tok, texts, length));
      ASSERT_EQ(outputs.at(0).shape(), (Shape{3, 2})) << name;
      logits[name + " padded to " + std::to_string(length)] = outputs[0];
    }
    // Each text alone, unpadded, in a batch of one.
    Tensor alone(DType::f32, {3, 2});
    for (std::size_t i = 0; i < texts.size(); ++i) {
      auto out = backend->run(bert_batch(tok, {texts[i]}, tok.encode(texts[i]).input_ids.size()));
      std::copy_n(out.at(0).values<float>().begin(), 2, alone.values<float>().begin() + i * 2);
    }
    logits[name + " alone"] = alone;
  }
  const auto ref = logits.begin()->second.values<float>();
  for (const auto& [name, t] : logits) {
    SCOPED_TRACE(name);
    Agreement a;
    for (std::size_t i = 0; i < 3; ++i) a.add(t.values<float>().subspan(i * 2, 2), ref.subspan(i * 2, 2));
    EXPECT_EQ(a.top1_equal, 3u);
    EXPECT_LE(*a.max_rel_diff(), kRelativeTolerance) << "max abs diff " << a.max_abs_diff;
  }
}

TEST(BackendsAgree, CorruptModelIsALoadErrorNotACrash) {
  testing::TempDir tmp;
  testing::write_bytes(tmp.path() / "bad.onnx", {'n', 'o', 't', ' ', 'a', ' ', 'm', 'o', 'd', 'e', 'l'});
  testing::write_bytes(tmp.path() / "bad.pt", {'P', 'K', 3, 4, 0, 0});
  for (const std::string name : {"ort", "libtorch-frozen"}) {
    auto backend = make_backend(name, BackendOptions{1});
    EXPECT_THROW(backend->load(tmp.path() / (backend->format() == "onnx" ? "bad.onnx" : "bad.pt")), Error) << name;
    EXPECT_THROW(backend->run({}), Error) << name;
  }
}

TEST(BackendsAgree, UnknownBackendListsTheKnownOnes) {
  try {
    make_backend("tensorrt", BackendOptions{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown backend 'tensorrt'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("libtorch-frozen"), std::string::npos);
  }
}

}  // namespace
}  // namespace cpuinfer

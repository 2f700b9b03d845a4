// ONNX Runtime and LibTorch agree on the exported ResNet-101 (same weights, two formats):
// top-1 equal, and max |difference| of logits <= 1e-4 of the largest logit magnitude.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backends/registry.h"
#include "core/error.h"
#include "bench/metrics.h"
#include "bench/model_cache.h"
#include "data/image_decode.h"
#include "data/image_preprocess.h"
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

// The model cache: folder names as the export tooling makes them, and no silent mix-up of two
// checkpoints that share a file name.
#include <gtest/gtest.h>

#include "bench/model_cache.h"
#include "core/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

TEST(ModelCache, FolderNames) {
  ModelRequest r;
  r.workload = "bert";
  r.cache = "/c";
  r.seed = 3;
  EXPECT_EQ(model_folder(r), fs::path("/c/bert-random-seed3"));
  r.weights = "/ckpt/resnet101-cd907fe2.pth";
  EXPECT_EQ(model_folder(r), fs::path("/c/bert-resnet101-cd907fe2"));
  r.weights = "/models/imdb-bert/pytorch_model.bin";  // Hugging Face names: the folder says which
  EXPECT_EQ(model_folder(r), fs::path("/c/bert-imdb-bert-pytorch_model"));
  r.weights = "/models/imdb-bert/./model.safetensors";
  EXPECT_EQ(model_folder(r), fs::path("/c/bert-imdb-bert-model"));
}

TEST(ModelCache, AnotherCheckpointWithTheSameNameIsRefused) {
  testing::TempDir tmp;
  const fs::path checkpoint = tmp.path() / "mine" / "best.pth";
  fs::create_directories(checkpoint.parent_path());
  testing::write_bytes(checkpoint, {'x'});
  ModelRequest r;
  r.workload = "resnet101";
  r.cache = tmp.path() / "models";
  r.weights = checkpoint;
  fs::create_directories(model_folder(r));
  const std::string meta = R"({"files": {}, "weights": "best.pth", "random_weights": false,
                              "weights_path": "/somewhere/else/best.pth"})";
  testing::write_bytes(model_folder(r) / "meta.json", {meta.begin(), meta.end()});
  try {
    prepare_model(r);
    FAIL() << "used the export of another checkpoint";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/somewhere/else/best.pth"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cpuinfer

// The model repository `cpuinfer serve` reads (serve/repository/model_repository.h): models with
// their configs and versions, defaults, and one line naming the file and field for each mistake.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "serve/repository/model_repository.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer::serve {
namespace {

using ::testing::HasSubstr;

class ModelRepository : public ::testing::Test {
 protected:
  void model(const std::string& name, const std::string& config, std::vector<std::string> versions = {"1"}) {
    fs::create_directories(root() / name);
    if (!config.empty()) std::ofstream(root() / name / "config.json") << config;
    for (const std::string& v : versions) {
      fs::create_directories(root() / name / v);
      std::ofstream(root() / name / v / "model.onnx") << "onnx";
    }
  }
  std::string error() {
    try {
      read_model_repository(root());
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }
  fs::path root() const { return tmp_.path() / "repo"; }
  testing::TempDir tmp_;
};

TEST_F(ModelRepository, ModelsWithTheirConfigsAndVersions) {
  model("resnet", R"({"backend": "native-int8", "instances": 2, "max_batch_size": 4, "max_queue_delay_us": 500})", {"2", "10", "1"});
  model("bert", R"({"backend": "native", "text": {"vocab": "vocab.txt", "max_length": 128}})");
  std::ofstream(root() / "bert" / "vocab.txt") << "[PAD]\n";
  const auto models = read_model_repository(root());
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].name, "bert");
  ASSERT_TRUE(models[0].config.text);
  EXPECT_EQ(models[0].config.text->vocab, root() / "bert" / "vocab.txt");
  EXPECT_EQ(models[0].config.text->max_length, 128u);
  EXPECT_TRUE(models[0].config.text->lowercase);
  EXPECT_EQ(models[0].config.max_batch_size, 8);  // the defaults
  EXPECT_EQ(models[0].config.threads, 1);
  EXPECT_EQ(models[0].config.max_queue_size, 64);
  const RepositoryModel& r = models[1];
  EXPECT_EQ(r.config.backend, "native-int8");
  EXPECT_EQ(r.config.instances, 2);
  EXPECT_EQ(r.config.max_batch_size, 4);
  EXPECT_EQ(r.config.max_queue_delay_us, 500);
  ASSERT_EQ(r.versions.size(), 3u);
  EXPECT_EQ(r.versions[0].version, "1");
  EXPECT_EQ(r.versions[2].version, "10");  // numeric order: the default version is the highest
  EXPECT_EQ(r.versions[2].file, root() / "resnet" / "10" / "model.onnx");
}

TEST_F(ModelRepository, EachMistakeIsOneLineNamingTheFileAndField) {
  EXPECT_THAT(error(), HasSubstr("not a folder"));
  fs::create_directories(root());
  EXPECT_THAT(error(), HasSubstr("no model folders"));
  model("m", "");
  EXPECT_THAT(error(), HasSubstr((root() / "m" / "config.json").string() + ": missing (every model of the repository needs its config.json)"));
  auto with = [&](const std::string& config) {
    std::ofstream(root() / "m" / "config.json") << config;
    return error();
  };
  const std::string file = (root() / "m" / "config.json").string();
  EXPECT_EQ(with("{"), file + ": not valid JSON");
  EXPECT_EQ(with("{}"), file + ": \"backend\" must name one of native, native-int8, native-bf16, ort");
  EXPECT_EQ(with(R"({"backend": "tensorrt"})"), file + ": \"backend\" is \"tensorrt\", not one of native, native-int8, native-bf16, ort");
  EXPECT_THAT(with(R"({"backend": "native", "max_batch": 4})"), HasSubstr(file + ": unknown field \"max_batch\""));
  EXPECT_EQ(with(R"({"backend": "native", "max_batch_size": 0})"), file + ": \"max_batch_size\" is 0, not in [1, 1024]");
  EXPECT_EQ(with(R"({"backend": "native", "threads": "2"})"), file + ": \"threads\" must be an integer, not \"2\"");
  EXPECT_EQ(with(R"({"backend": "native", "pack_tokens": 0})"), file + ": \"pack_tokens\" must be true or false");
  EXPECT_EQ(with(R"({"backend": "native", "text": {"vocab": "none.txt"}})"),
            file + ": \"text\": vocab " + (root() / "m" / "none.txt").string() + " is not a file");
  with(R"({"backend": "native"})");
  fs::create_directories(root() / "m" / "latest");
  EXPECT_EQ(error(), (root() / "m" / "latest").string() + ": a version folder must be named by a positive integer");
  fs::remove_all(root() / "m" / "latest");
  fs::create_directories(root() / "m" / "3");
  EXPECT_EQ(error(), (root() / "m" / "3" / "model.onnx").string() + ": missing");
  fs::remove_all(root() / "m");
  model("m", R"({"backend": "native"})", {});
  EXPECT_EQ(error(), (root() / "m").string() + ": no version folder (<model>/1/model.onnx)");
}

}  // namespace
}  // namespace cpuinfer::serve

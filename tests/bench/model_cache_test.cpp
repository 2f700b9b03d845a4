// The model cache: folder names as the export tooling makes them, no silent mix-up of two
// checkpoints that share a file name, and exports keyed by content: a changed checkpoint, file
// read or exporter exports again, an unchanged one is reused, and a checkpoint's digest is
// computed once per (path, size, mtime). The export runs a stand-in for tools/export_models.py
// that writes the real key (tools/export_key.py) and no model, and counts its runs.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "bench/model_cache.h"
#include "core/error.h"
#include "core/paths.h"
#include "core/subprocess.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

void write_text(const fs::path& file, const std::string& text) { testing::write_bytes(file, {text.begin(), text.end()}); }

void append_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::app);
  out << text;
}

// Moves a file's mtime by `seconds`: file systems stamp writes with a coarse clock, so two writes
// in a row can share one.
void shift_mtime(const fs::path& file, int seconds) {
  fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(seconds));
}

constexpr const char* kStandInExporter = R"(
import argparse, json, os
import export_key
parser = argparse.ArgumentParser()
parser.add_argument("workload")
parser.add_argument("--out", required=True)
parser.add_argument("--weights-seed", type=int, default=0)
parser.add_argument("--weights")
parser.add_argument("--calibration-images")
parser.add_argument("--force", action="store_true")
a = parser.parse_args()
tag = os.path.splitext(os.path.basename(a.weights))[0] if a.weights else f"random-seed{a.weights_seed}"
folder = os.path.join(a.out, f"{a.workload}-{tag}")
os.makedirs(folder, exist_ok=True)
config = os.path.join(os.path.dirname(a.weights), "config.json") if a.weights else ""
meta = {"files": {}, "weights": os.path.basename(a.weights) if a.weights else "random weights",
        **export_key.record(a.weights, a.weights_seed, [config] if os.path.isfile(config) else [],
                            entry=os.path.basename(__file__))}
with open(os.path.join(folder, "meta.json"), "w") as f:
    json.dump(meta, f)
with open(os.path.join(a.out, "exports.log"), "a") as f:
    f.write(f"{a.workload}-{tag}{' --force' if a.force else ''}\n")
)";

class ModelCacheKey : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tools());
    fs::copy_file(export_tool().parent_path() / "export_key.py", tools() / "export_key.py");
    write_text(exporter(), kStandInExporter);
  }
  fs::path tools() const { return tmp_.path() / "tools"; }
  fs::path exporter() const { return tools() / "stand_in_export.py"; }
  fs::path cache() const { return tmp_.path() / "models"; }
  ModelRequest request(std::optional<fs::path> weights = std::nullopt) const {
    ModelRequest r;
    r.workload = "resnet101";
    r.cache = cache();
    r.weights = std::move(weights);
    r.exporter = exporter();
    return r;
  }
  // The stand-in's runs so far, one line each: "<folder name>[ --force]".
  std::vector<std::string> exports() const {
    std::vector<std::string> lines;
    std::ifstream in(cache() / "exports.log");
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  testing::TempDir tmp_;
};

TEST(ModelCache, FolderNames) {
  ModelRequest r;
  r.workload = "bert";
  r.cache = "/c";
  r.weights_seed = 3;
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
  for (const std::string meta :
       {R"({"files": {}, "weights": "best.pth", "random_weights": false, "weights_path": "/somewhere/else/best.pth"})",
        R"({"files": {}, "weights": "best.pth", "random_weights": false,
            "checkpoint": {"path": "/somewhere/else/best.pth", "sha256": "0123"}})"}) {
    write_text(model_folder(r) / "meta.json", meta);
    try {
      prepare_model(r);
      ADD_FAILURE() << "used or replaced the export of another checkpoint";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("/somewhere/else/best.pth"), std::string::npos) << e.what();
    }
  }
}

TEST(ModelCache, Sha256OfAFile) {
  testing::TempDir tmp;
  write_text(tmp.path() / "abc", "abc");  // FIPS 180-2's first example
  EXPECT_EQ(file_sha256(tmp.path() / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  write_text(tmp.path() / "empty", "");
  EXPECT_EQ(file_sha256(tmp.path() / "empty"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_THROW(file_sha256(tmp.path() / "missing"), Error);
}

TEST(ModelCache, DigestIsCachedWhileSizeAndMtimeAreUnchanged) {
  testing::TempDir tmp;
  const fs::path file = tmp.path() / "weights.pth", hashes = hash_cache_file(tmp.path() / "models");
  write_text(file, "abc");
  const FileIdentity first = identify_file(file, hashes);
  EXPECT_EQ(first.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(first.size, 3u);
  EXPECT_TRUE(fs::exists(hashes));

  // Other bytes of the same size, and the old mtime put back: the cached digest is used, which
  // shows the file was not read again.
  const auto mtime = fs::last_write_time(file);
  write_text(file, "abd");
  fs::last_write_time(file, mtime);
  EXPECT_EQ(identify_file(file, hashes).sha256, first.sha256);

  // A new mtime: hashed again.
  shift_mtime(file, 1);
  const FileIdentity changed = identify_file(file, hashes);
  EXPECT_EQ(changed.sha256, file_sha256(file));
  EXPECT_NE(changed.sha256, first.sha256);
  EXPECT_EQ(changed.mtime_ns, first.mtime_ns + 1'000'000'000);

  // A damaged hash cache is no error, only a miss.
  write_text(hashes, "{not json");
  EXPECT_EQ(identify_file(file, hashes).sha256, changed.sha256);
}

TEST_F(ModelCacheKey, RandomWeightsExportOnceThenReuse) {
  const ExportedModel model = prepare_model(request());
  EXPECT_EQ(model.folder, cache() / "resnet101-random-seed0");
  EXPECT_TRUE(model.random_weights);
  EXPECT_EQ(prepare_model(request()).folder, model.folder);
  EXPECT_EQ(exports(), std::vector<std::string>{"resnet101-random-seed0"});
  // Another weights seed is another model, in its own folder.
  ModelRequest seeded = request();
  seeded.weights_seed = 7;
  EXPECT_EQ(prepare_model(seeded).folder, cache() / "resnet101-random-seed7");
  EXPECT_EQ(exports().size(), 2u);
}

TEST_F(ModelCacheKey, ChangedExporterExportsAgain) {
  const ExportedModel model = prepare_model(request());
  EXPECT_EQ(stale_reason(request(), model.meta), "");
  append_text(exporter(), "# a change to the exporter\n");
  EXPECT_EQ(stale_reason(request(), model.meta), "the exporter (export_key.py, stand_in_export.py) changed since");
  ModelRequest unchecked = request();  // a sweep's backend process takes the export its parent checked
  unchecked.check_current = false;
  prepare_model(unchecked);
  EXPECT_EQ(exports().size(), 1u);
  prepare_model(request());
  EXPECT_EQ(exports(), (std::vector<std::string>{"resnet101-random-seed0", "resnet101-random-seed0 --force"}));
  prepare_model(request());
  EXPECT_EQ(exports().size(), 2u);
  // A module the exporter imports is part of it.
  append_text(tools() / "export_key.py", "# a change to a module it imports\n");
  prepare_model(request());
  EXPECT_EQ(exports().size(), 3u);
}

TEST_F(ModelCacheKey, ChangedCheckpointExportsAgain) {
  const fs::path checkpoint = tmp_.path() / "ckpt" / "best.pth";
  fs::create_directories(checkpoint.parent_path());
  write_text(checkpoint, "weights one");
  const ExportedModel model = prepare_model(request(checkpoint));
  EXPECT_EQ(model.meta["checkpoint"]["sha256"], file_sha256(checkpoint));
  EXPECT_EQ(model.meta["checkpoint"]["size"], 11);
  EXPECT_EQ(model.meta["checkpoint"]["mtime_ns"], identify_file(checkpoint, hash_cache_file(cache())).mtime_ns);
  prepare_model(request(checkpoint));
  EXPECT_EQ(exports().size(), 1u);

  // Same path, same size, other content.
  write_text(checkpoint, "weights two");
  shift_mtime(checkpoint, 1);
  EXPECT_EQ(stale_reason(request(checkpoint), model.meta), checkpoint.string() + " changed since");
  prepare_model(request(checkpoint));
  EXPECT_EQ(exports(), (std::vector<std::string>{"resnet101-best", "resnet101-best --force"}));

  // Touched, or copied elsewhere, with the same content: reused.
  shift_mtime(checkpoint, 1);
  prepare_model(request(checkpoint));
  const fs::path copy = tmp_.path() / "elsewhere" / "best.pth";
  fs::create_directories(copy.parent_path());
  fs::copy_file(checkpoint, copy);
  prepare_model(request(copy));
  EXPECT_EQ(exports().size(), 2u);
}

// A file the export read besides the checkpoint (BERT's config.json) is part of its key too.
TEST_F(ModelCacheKey, ChangedFileReadExportsAgain) {
  const fs::path checkpoint = tmp_.path() / "ckpt" / "weights.safetensors";
  fs::create_directories(checkpoint.parent_path());
  write_text(checkpoint, "weights");
  write_text(checkpoint.parent_path() / "config.json", R"({"num_labels": 2})");
  const ExportedModel model = prepare_model(request(checkpoint));
  ASSERT_EQ(model.meta["files_read"].size(), 1u);
  prepare_model(request(checkpoint));
  EXPECT_EQ(exports().size(), 1u);
  write_text(checkpoint.parent_path() / "config.json", R"({"num_labels": 3})");
  shift_mtime(checkpoint.parent_path() / "config.json", 1);
  EXPECT_EQ(stale_reason(request(checkpoint), model.meta),
            (checkpoint.parent_path() / "config.json").string() + ", which it read, changed since");
  prepare_model(request(checkpoint));
  EXPECT_EQ(exports(), (std::vector<std::string>{"resnet101-weights", "resnet101-weights --force"}));
}

TEST_F(ModelCacheKey, ExportOfAnOlderExporterIsMadeAgain) {
  fs::create_directories(cache() / "resnet101-random-seed0");
  write_text(cache() / "resnet101-random-seed0" / "meta.json",
             R"({"files": {}, "weights": "random weights", "random_weights": true, "seed": 0})");
  EXPECT_EQ(stale_reason(request(), nlohmann::json::parse(testing::read_text(cache() / "resnet101-random-seed0" / "meta.json"))),
            "it records no exporter version (made by an older exporter)");
  prepare_model(request());
  EXPECT_EQ(exports(), std::vector<std::string>{"resnet101-random-seed0 --force"});
}

// tools/export_models.py records the version tools/export_key.py computes; this side must compute
// the same from the sources it lists, or every run would export again.
TEST(ModelCache, ExporterVersionAgreesWithTheExportTooling) {
  const fs::path tools = export_tool().parent_path();
  const ProcessResult r = run_process(
      {python_interpreter().string(), "-c",
       "import json, sys; sys.path.insert(0, sys.argv[1]); import export_key; print(json.dumps(export_key.exporter()))",
       tools.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto exporter = nlohmann::json::parse(r.output);
  const auto sources = exporter.at("sources").get<std::vector<std::string>>();
  for (const std::string name : {"export_models.py", "export_key.py", "bert_model.py", "make_images.py"})
    EXPECT_NE(std::find(sources.begin(), sources.end(), name), sources.end()) << name << " is not among the sources";
  EXPECT_EQ(exporter_version(tools, sources), exporter.at("version").get<std::string>());
}

}  // namespace
}  // namespace cpuinfer

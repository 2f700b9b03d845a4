// `cpuinfer bench` end to end, as a user runs it: a small generated image folder through ONNX
// Runtime and LibTorch, and every kind of bad input ending in one clear error line and a
// non-zero exit.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>
#include <tuple>

#include "core/subprocess.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

using testing::expect_one_error;
using testing::only_file_with_extension;

class BenchCli : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_image_folder(data(), 2, 3); }
  fs::path data() const { return tmp_.path() / "data"; }
  fs::path out() const { return tmp_.path() / "out"; }
  std::vector<std::string> args(std::vector<std::string> extra) const {
    std::vector<std::string> a = {"bench", "--workload", "resnet101", "--data", data().string(),
                                  "--out", out().string(), "--threads", "2", "--min-time", "0", "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // A model cache holding a copy of the exported model's meta.json and the given model files.
  fs::path cache_with(const std::vector<std::pair<std::string, std::string>>& files) const {
    const fs::path folder = tmp_.path() / "cache" / "models" / "resnet101-random-seed0";
    fs::create_directories(folder);
    fs::copy_file(testing::resnet101_model() / "meta.json", folder / "meta.json");
    for (const auto& [name, bytes] : files) testing::write_bytes(folder / name, {bytes.begin(), bytes.end()});
    return tmp_.path() / "cache";
  }
  testing::TempDir tmp_;
};

TEST_F(BenchCli, RunsTwoBackendsAndWritesEveryRow) {
  const auto r = testing::run_cpuinfer(args({"--backends", "ort,libtorch", "--batch-sizes", "1,2", "--samples", "4"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("p50 ms"), std::string::npos) << r.output;  // the table

  const auto json = nlohmann::json::parse(testing::read_text(only_file_with_extension(out(), ".json")));
  EXPECT_TRUE(json["complete"].get<bool>());
  EXPECT_EQ(json["workload"]["weights"], "random weights");
  EXPECT_FALSE(json["machine"]["cpu"].get<std::string>().empty());
  EXPECT_EQ(json["protocol"]["backends"], nlohmann::json({"libtorch", "ort"}));
  const auto& rows = json["rows"];
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row["status"], "ok");
    EXPECT_EQ(row["samples"], 4);
    EXPECT_EQ(row["threads"], 2);
    EXPECT_EQ(row["reference"], "libtorch");
    EXPECT_EQ(row["latencies_ms"].size(), 4u / row["batch_size"].get<std::size_t>());
    EXPECT_GT(row["total_time"].get<double>(), 0.0);
    EXPECT_NEAR(row["time_per_input"].get<double>() * 4, row["total_time"].get<double>(), 1e-9);
    EXPECT_GT(row["peak_rss_mb"].get<double>(), 0.0);
    EXPECT_GT(row["load_ms"].get<double>(), 0.0);         // cold start
    EXPECT_GT(row["first_batch_ms"].get<double>(), 0.0);
    EXPECT_GT(row["first_run_ms"].get<double>(), 0.0);
    EXPECT_EQ(row["passes"], 1);  // --min-time 0: one pass
  }
  // libtorch's first row made the reference outputs; everything after is compared with them.
  EXPECT_TRUE(rows[0]["top1_agreement"].is_null());
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["top1_agreement"], 1.0) << rows[i]["name"];
    EXPECT_LE(rows[i]["max_rel_diff"].get<double>(), 1e-4);
  }
  const std::string csv = testing::read_text(only_file_with_extension(out(), ".csv"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  EXPECT_NE(csv.find(",peak_rss_scope,load_ms,first_run_ms,first_batch_ms,"), std::string::npos);
}

TEST_F(BenchCli, UnknownBackend) {
  expect_one_error(testing::run_cpuinfer(args({"--backends", "ort,nosuch", "--samples", "2", "--batch-sizes", "1"})),
                   "unknown backend 'nosuch'");
}

TEST_F(BenchCli, BatchSizeZero) {
  // CLI11 reports option errors itself, naming the option.
  expect_one_error(testing::run_cpuinfer(args({"--backends", "ort", "--batch-sizes", "1,0"})), "--batch-sizes", "--batch-sizes");
}

TEST_F(BenchCli, BatchSizeAboveSampleCount) {
  expect_one_error(testing::run_cpuinfer(args({"--backends", "ort", "--samples", "2", "--batch-sizes", "4"})), "batch size 4");
}

TEST_F(BenchCli, UnknownFlag) {
  const auto r = testing::run_cpuinfer(args({"--no-such-flag"}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--no-such-flag"), std::string::npos) << r.output;
}

// A negative or non-numeric count is refused as such, before anything runs (unsigned options used
// to wrap -1 into 18446744073709551615).
TEST_F(BenchCli, NegativeCountsAreRefusedReadably) {
  for (const auto& [flag, value, message] : {std::tuple{"--seed", "-1", "--seed: must be 0 or more, got -1"},
                                             std::tuple{"--samples", "-5", "--samples: must be 0 or more, got -5"},
                                             std::tuple{"--weights-seed", "-1", "--weights-seed: must be 0 or more, got -1"},
                                             std::tuple{"--warmup", "-1", "--warmup: must be 0 or more, got -1"},
                                             std::tuple{"--samples", "abc", "--samples: must be a whole number, got 'abc'"},
                                             std::tuple{"--batch-sizes", "abc", "--batch-sizes: must be a whole number, got 'abc'"},
                                             std::tuple{"--batch-sizes", "1,0", "--batch-sizes: must be at least 1, got 0"},
                                             std::tuple{"--threads", "2000", "--threads: must be at most 1024, got 2000"},
                                             std::tuple{"--min-time", "-1", "--min-time: must be 0 or more seconds, got -1"},
                                             std::tuple{"--repeat", "0", "--repeat: must be at least 1, got 0"},
                                             std::tuple{"--timeout", "1e9", "--timeout: must be at most 1e+07 seconds, got 1e9"}}) {
    const auto r = testing::run_cpuinfer(args({flag, value}));
    EXPECT_NE(r.exit_code, 0) << flag << " " << value;
    EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
  }
}

TEST_F(BenchCli, DuplicateBatchSizeIsRefused) {
  expect_one_error(testing::run_cpuinfer(args({"--backends", "ort", "--samples", "2", "--batch-sizes", "1,2,1"})),
                   "--batch-sizes gives 1 twice");
}

TEST_F(BenchCli, UnwritableOutFolderSaysWhy) {
  const fs::path file = tmp_.path() / "a-file";
  testing::write_bytes(file, {'x'});
  auto a = args({"--backends", "ort", "--samples", "2", "--batch-sizes", "1"});
  a[6] = (file / "results").string();  // --out under a regular file
  expect_one_error(testing::run_cpuinfer(a), "Not a directory");
}

TEST_F(BenchCli, MoreThreadsThanCoresWarns) {
  auto a = args({"--backends", "ort", "--samples", "2", "--batch-sizes", "1"});
  a[8] = "64";  // --threads
  std::erase(a, std::string("--quiet"));
  const auto r = testing::run_cpuinfer(a);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: --threads 64 is more than the"), std::string::npos) << r.output;
}

// --seed picks the samples; the random weights (and their cached export) stay those of --weights-seed.
TEST_F(BenchCli, SeedPicksSamplesNotWeights) {
  const auto r = testing::run_cpuinfer(args({"--backends", "ort", "--samples", "2", "--batch-sizes", "1", "--seed", "5"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = nlohmann::json::parse(testing::read_text(only_file_with_extension(out(), ".json")));
  EXPECT_EQ(fs::path(json["workload"]["model"].get<std::string>()).filename(), "resnet101-random-seed0");
  EXPECT_EQ(json["protocol"]["seed"], 5);
  EXPECT_EQ(json["protocol"]["weights_seed"], 0);
}

TEST_F(BenchCli, HelpSaysWhatZeroSamplesMeans) {
  const auto r = testing::run_cpuinfer({"bench", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("0 means 16 generated samples"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--weights-seed"), std::string::npos) << r.output;
}

TEST_F(BenchCli, VersionNamesTheProgramAndItsEngine) {
  const auto r = testing::run_cpuinfer({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("cpuinfer ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("oneDNN"), std::string::npos) << r.output;
}

TEST_F(BenchCli, EmptyDataFolder) {
  fs::create_directories(tmp_.path() / "empty");
  auto a = args({"--backends", "ort", "--batch-sizes", "1"});
  a[4] = (tmp_.path() / "empty").string();
  expect_one_error(testing::run_cpuinfer(a), "no images in data folder");
}

TEST_F(BenchCli, CorruptJpeg) {
  testing::write_bytes(data() / "val" / "n01440764" / "broken.JPEG", {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F'});
  expect_one_error(testing::run_cpuinfer(args({"--backends", "ort", "--batch-sizes", "1"})), "broken.JPEG");
}

TEST_F(BenchCli, MissingModelFile) {
  const fs::path cache = cache_with({});
  expect_one_error(testing::run_cpuinfer(args({"--backends", "ort", "--batch-sizes", "1", "--cache", cache.string()})),
                   "model file not found: " + (cache / "models" / "resnet101-random-seed0" / "model.onnx").string());
}

TEST_F(BenchCli, CorruptModelFileFailsItsRowsAndNamesTheFile) {
  const fs::path cache = cache_with({{"model.onnx", "this is not ONNX"}, {"model.pt", "nor TorchScript"}});
  const auto r = testing::run_cpuinfer(args({"--backends", "ort,libtorch", "--batch-sizes", "1", "--samples", "2", "--cache",
                                cache.string()}));
  expect_one_error(r, "model.");
  // Both rows are on disk, each with its reason.
  const auto json = nlohmann::json::parse(testing::read_text(only_file_with_extension(out(), ".json")));
  ASSERT_EQ(json["rows"].size(), 2u);
  for (const auto& row : json["rows"]) {
    EXPECT_EQ(row["status"].get<std::string>().rfind("failed: load", 0), 0u) << row["status"];
  }
}

TEST_F(BenchCli, FailedExportIsARowNotAStop) {
  // A cache whose int8 export failed (meta.json says why) next to a working ONNX model.
  const fs::path cache = cache_with({});
  const fs::path folder = cache / "models" / "resnet101-random-seed0";
  fs::create_symlink(testing::resnet101_model() / "model.onnx", folder / "model.onnx");
  fs::create_symlink(testing::resnet101_model() / "model.pt", folder / "model.pt");
  auto meta = nlohmann::json::parse(testing::read_text(folder / "meta.json"));
  meta["files"].erase("torchscript-int8");
  meta["export_errors"] = {{"torchscript-int8", "quantized engine exploded"}};
  const std::string text = meta.dump();
  testing::write_bytes(folder / "meta.json", {text.begin(), text.end()});

  const auto r = testing::run_cpuinfer(args({"--backends", "libtorch-int8,ort", "--batch-sizes", "1,2", "--samples", "2",
                                "--cache", cache.string()}));
  expect_one_error(r, "failed: export: quantized engine exploded");
  const auto json = nlohmann::json::parse(testing::read_text(only_file_with_extension(out(), ".json")));
  ASSERT_EQ(json["rows"].size(), 4u);
  EXPECT_EQ(json["rows"][0]["status"], "failed: export: quantized engine exploded");
  EXPECT_EQ(json["rows"][2]["status"], "ok");  // ort ran anyway, and became the reference
  EXPECT_EQ(json["rows"][2]["reference"], "ort");
}

TEST_F(BenchCli, PaddingIsForTextWorkloads) {
  expect_one_error(testing::run_cpuinfer(args({"--backends", "ort", "--batch-sizes", "1", "--padding", "bucket"})), "--padding");
}

// BERT from a JSON data set: a row per (backend, batch size, padding strategy).
class BertCli : public ::testing::Test {
 protected:
  fs::path write_file(const std::string& name, const std::string& content) const {
    const fs::path file = tmp_.path() / name;
    testing::write_bytes(file, {content.begin(), content.end()});
    return file;
  }
  std::vector<std::string> args(const fs::path& data, std::vector<std::string> extra) const {
    std::vector<std::string> a = {"bench", "--workload", "bert", "--data", data.string(), "--out",
                                  (tmp_.path() / "out").string(), "--threads", "2", "--min-time", "0", "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  testing::TempDir tmp_;
};

TEST_F(BertCli, RowsPerPaddingStrategyWithAgreement) {
  const fs::path data = write_file("reviews.json", R"([
    {"text": "Loved it.", "class": 1},
    {"text": "A very, very, very slow-moving, aimless movie about a distressed, drifting young man.", "class": 0},
    {"text": "Great cast, great story, would watch again!", "class": 1},
    {"text": "Not good.", "class": 0}])");
  const auto r = testing::run_cpuinfer(args(data, {"--backends", "ort,libtorch", "--batch-sizes", "1,2", "--padding", "longest,bucket"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("padding"), std::string::npos) << r.output;  // the table's padding columns
  const auto json = nlohmann::json::parse(testing::read_text(only_file_with_extension(tmp_.path() / "out", ".json")));
  const auto& rows = json["rows"];
  ASSERT_EQ(rows.size(), 8u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row["status"], "ok");
    EXPECT_EQ(row["padding"], i % 2 ? "bucket" : "longest");
    EXPECT_GT(row["mean_real_tokens"].get<double>(), 3.0);
    if (row["batch_size"] == 1) {
      EXPECT_EQ(row["padding_fraction"], 0.0);
    }
    if (i > 0) {
      EXPECT_EQ(row["top1_agreement"], 1.0);
      EXPECT_LE(row["max_rel_diff"].get<double>(), 1e-4);
    }
  }
  // Sorting by length within a window never pads more than the data set order.
  EXPECT_LE(rows[3]["padding_fraction"].get<double>(), rows[2]["padding_fraction"].get<double>());
}

TEST_F(BertCli, InvalidUtf8NamesTheSample) {
  // Latin-1 "café" in a CSV: the tokenizer refuses it and the error names file and line.
  const fs::path csv = write_file("bad.csv", "review,sentiment\nfine,positive\ncaf\xe9,negative\n");
  expect_one_error(testing::run_cpuinfer(args(csv, {"--backends", "ort", "--batch-sizes", "1"})), "bad.csv line 3: invalid UTF-8");
  // In JSON the parser itself refuses it, naming the file.
  const fs::path json = write_file("bad.json", "[{\"text\": \"caf\xe9\", \"class\": 0}]");
  expect_one_error(testing::run_cpuinfer(args(json, {"--backends", "ort", "--batch-sizes", "1"})), "bad.json");
}

TEST_F(BertCli, ReviewLengthTextsFromTheBuiltInSentences) {
  auto a = args("unused", {"--backends", "ort", "--batch-sizes", "2", "--samples", "2", "--text-lengths", "imdb",
                           "--max-length", "128"});
  a.erase(a.begin() + 3, a.begin() + 5);  // no --data: the built-in sentences
  const auto r = testing::run_cpuinfer(a);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = nlohmann::json::parse(testing::read_text(only_file_with_extension(tmp_.path() / "out", ".json")));
  EXPECT_NE(json["workload"]["dataset"].get<std::string>().find("review-length"), std::string::npos);
  EXPECT_GT(json["rows"][0]["mean_real_tokens"].get<double>(), 60.0);  // far longer than a sentence
}

}  // namespace
}  // namespace cpuinfer

// Result files: valid and complete after every row, CSV quoting, completion flag.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bench/result_files.h"
#include "core/error.h"
#include "support/test_support.h"

namespace cpuinfer {
namespace {

TEST(ResultFiles, EveryRowIsOnDiskAsSoonAsItIsAppended) {
  testing::TempDir tmp;
  ResultFiles files(tmp.path() / "out", "run", {{"workload", "w"}});
  auto json = [&] { return nlohmann::json::parse(testing::read_text(files.json_path())); };
  EXPECT_EQ(json()["rows"].size(), 0u);
  EXPECT_FALSE(json()["complete"].get<bool>());

  files.append({{"name", "ort"}, {"batch_size", 1}, {"total_time", 0.5}, {"status", "ok"}});
  EXPECT_EQ(json()["rows"].size(), 1u);
  files.append({{"name", "x"}, {"batch_size", 4}, {"status", "failed: load: bad, \"quoted\""}});
  EXPECT_EQ(json()["rows"].size(), 2u);
  EXPECT_EQ(json()["rows"][1]["status"], "failed: load: bad, \"quoted\"");
  EXPECT_EQ(json()["workload"], "w");

  const std::string csv = testing::read_text(files.csv_path());
  EXPECT_EQ(csv.rfind("name,batch_size,time_per_input,total_time,accuracy,", 0), 0u);
  EXPECT_NE(csv.find("\nort,1,,0.5,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\"failed: load: bad, \"\"quoted\"\"\""), std::string::npos) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);

  files.finish();
  EXPECT_TRUE(json()["complete"].get<bool>());
  EXPECT_FALSE(std::filesystem::exists(files.json_path().string() + ".tmp"));
}

// Two runs started in the same second (same stem) keep their own files.
TEST(ResultFiles, SameStemNeverOverwritesAnotherRun) {
  testing::TempDir tmp;
  ResultFiles first(tmp.path(), "run", {{"workload", "a"}});
  ResultFiles second(tmp.path(), "run", {{"workload", "b"}});
  ResultFiles third(tmp.path(), "run", {{"workload", "c"}});
  EXPECT_EQ(first.json_path().filename(), "run.json");
  EXPECT_EQ(second.json_path().filename(), "run-2.json");
  EXPECT_EQ(third.csv_path().filename(), "run-3.csv");
  first.append({{"name", "ort"}});
  EXPECT_EQ(nlohmann::json::parse(testing::read_text(second.json_path()))["workload"], "b");
  EXPECT_EQ(nlohmann::json::parse(testing::read_text(first.json_path()))["rows"].size(), 1u);
}

TEST(ResultFiles, UnwritableFolderIsAnError) {
  testing::TempDir tmp;
  testing::write_bytes(tmp.path() / "file", {'x'});
  EXPECT_THROW(ResultFiles(tmp.path() / "file" / "sub", "run", {}), Error);
}

}  // namespace
}  // namespace cpuinfer

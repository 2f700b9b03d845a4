// The sweep as a measuring instrument: each backend in a process of its own (a crash, a hang or an
// interrupt there costs only its own rows), timed passes until --min-time, repeats, statistics,
// and cold start. Runs the trained digits model setup.sh makes (a small CNN): quick to load and run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <thread>

#include "support/test_support.h"

namespace fs = std::filesystem;

namespace cpuinfer {
namespace {

using Clock = std::chrono::steady_clock;

fs::path digits() { return testing::cache_dir() / "models" / "guard" / "digits"; }

// `cpuinfer` running in the background, its output in a file.
class Background {
 public:
  Background(const std::vector<std::string>& args, const fs::path& log) : log_(log) {
    std::vector<std::string> argv = {testing::cpuinfer_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> c;
      for (auto& a : argv) c.push_back(a.data());
      c.push_back(nullptr);
      std::FILE* out = std::fopen(log.c_str(), "w");
      if (!out) _exit(126);
      dup2(fileno(out), STDOUT_FILENO);
      dup2(fileno(out), STDERR_FILENO);
      execv(c[0], c.data());
      _exit(127);
    }
  }
  ~Background() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }

  // The process this run started for `backend` (its --worker-backend), once it exists; -1 on timeout.
  pid_t worker(const std::string& backend, std::chrono::seconds timeout = std::chrono::seconds(60)) const {
    const std::string needle = std::string("--worker-backend") + '\0' + backend + '\0';
    for (const auto deadline = Clock::now() + timeout; Clock::now() < deadline;) {
      for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string pid, comm, state;
        long long ppid = 0;
        if (!(stat >> pid >> comm >> state >> ppid) || ppid != pid_) continue;
        std::ifstream cmd(entry.path() / "cmdline", std::ios::binary);
        const std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
        if (cmdline.find(needle) != std::string::npos) return static_cast<pid_t>(std::stoll(name));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  // Waits for the run to end; its exit code (128 + signal if a signal ended it).
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string output() const { return testing::read_text(log_); }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

class SweepProcess : public ::testing::Test {
 protected:
  std::vector<std::string> args(std::vector<std::string> extra, const std::string& samples = "64") const {
    std::vector<std::string> a = {"bench", "--model", (digits() / "model.onnx").string(), "--input",
                                  "input=" + (digits() / "test_input.npy").string(), "--samples", samples,
                                  "--out", out().string(), "--threads", "1", "--warmup", "1"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  fs::path out() const { return tmp_.path() / "out"; }
  nlohmann::json results() const {
    return nlohmann::json::parse(testing::read_text(testing::only_file_with_extension(out(), ".json")));
  }
  testing::TempDir tmp_;
};

// The sweep goes on past a backend whose process dies, and its rows say how it died.
TEST_F(SweepProcess, CrashedBackendFailsItsRowsAndTheOthersRun) {
  Background run(args({"--backends", "ort,native,ort-basic", "--batch-sizes", "1,8", "--min-time", "1"}), tmp_.path() / "log");
  const pid_t native = run.worker("native");
  ASSERT_GT(native, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // loading or running: either is mid-sweep
  // SIGABRT, not SIGSEGV: under AddressSanitizer (CI's second test run) a SIGSEGV becomes ASan's
  // report and exit code 1, while SIGABRT still kills.
  kill(native, SIGABRT);
  EXPECT_EQ(run.wait(), 1) << run.output();  // failed rows: exit 1, after every row is written
  const nlohmann::json doc = results();
  EXPECT_TRUE(doc["complete"].get<bool>());
  // .../digits/model.onnx: the run is named after the model's folder, not "model".
  EXPECT_EQ(testing::only_file_with_extension(out(), ".json").filename().string().rfind("digits-", 0), 0u);
  const auto& rows = doc["rows"];
  ASSERT_EQ(rows.size(), 6u) << run.output();
  for (const auto& row : rows) {
    SCOPED_TRACE(row.dump());
    if (row["name"] == "native") {
      EXPECT_EQ(row["status"].get<std::string>().rfind("failed: run: crashed (signal 6, Aborted)", 0), 0u);
    } else {
      EXPECT_EQ(row["status"], "ok");
      EXPECT_EQ(row["reference"], "ort");
    }
  }
  // ort-basic ran after the crash and was compared with ort's outputs.
  EXPECT_EQ(rows[4]["name"], "ort-basic");
  EXPECT_EQ(rows[4]["compared_samples"], 64);
  EXPECT_LE(rows[4]["max_rel_diff"].get<double>(), 1e-4);
  EXPECT_NE(run.output().find("crashed (signal 6"), std::string::npos) << run.output();
}

// A backend that stops answering is killed after --timeout, and the sweep goes on. native goes
// first (the reference), so that it is stopped before it can finish a row of at least a second;
// the timeout leaves ort, which then becomes the reference, ample time for its own row.
TEST_F(SweepProcess, HungBackendTimesOut) {
  Background run(args({"--backends", "native,ort", "--reference", "native", "--batch-sizes", "1", "--min-time", "1",
                       "--timeout", "15"}),
                 tmp_.path() / "log");
  const pid_t native = run.worker("native");
  ASSERT_GT(native, 0);
  kill(native, SIGSTOP);
  EXPECT_EQ(run.wait(), 1) << run.output();
  const nlohmann::json rows = results()["rows"];
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["status"], "failed: run: timed out after 15 s without finishing a row (--timeout)");
  EXPECT_EQ(rows[1]["name"], "ort");
  EXPECT_EQ(rows[1]["status"], "ok");
}

// SIGINT stops the sweep: the finished rows are on disk, and it says how many and where.
TEST_F(SweepProcess, InterruptSavesFinishedRowsAndSaysSo) {
  Background run(args({"--backends", "ort,native", "--batch-sizes", "1", "--min-time", "3"}), tmp_.path() / "log");
  const pid_t native = run.worker("native");
  ASSERT_GT(native, 0);  // ort's row is done when native's process starts
  kill(run.pid(), SIGINT);
  EXPECT_EQ(run.wait(), 128 + SIGINT);
  const std::string csv = testing::read_text(testing::only_file_with_extension(out(), ".csv"));
  EXPECT_NE(run.output().find("interrupted: 1 rows saved in " + testing::only_file_with_extension(out(), ".csv").string()),
            std::string::npos)
      << run.output();
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2) << csv;  // the header and ort's row
  EXPECT_FALSE(results()["complete"].get<bool>());
  EXPECT_NE(kill(native, 0), 0);  // the backend's process is gone too
}

// --min-time repeats passes until enough time is timed; --repeat runs the sweep again; rows carry
// the statistics, and a percentile is empty without the batches it needs.
TEST_F(SweepProcess, MinTimeRepeatAndStatistics) {
  const auto r = testing::run_cpuinfer(args({"--backends", "ort,native", "--batch-sizes", "8", "--min-time", "0.3",
                                             "--repeat", "2", "--quiet"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json doc = results();
  EXPECT_EQ(doc["protocol"]["repeats"], 2);
  const auto& rows = doc["rows"];
  ASSERT_EQ(rows.size(), 4u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row["repeat"], i < 2 ? 1 : 2);
    EXPECT_GE(row["total_time"].get<double>(), 0.3);
    const auto batches = row["timed_batches"].get<std::size_t>();
    EXPECT_EQ(batches, row["passes"].get<std::size_t>() * 8);  // 64 samples: 8 batches a pass
    EXPECT_EQ(row["latencies_ms"].size(), batches);
    EXPECT_NEAR(row["time_per_input"].get<double>() * batches * 8, row["total_time"].get<double>(), 1e-9);
    EXPECT_LE(row["latency_min_ms"].get<double>(), row["latency_mean_ms"].get<double>());
    EXPECT_LE(row["latency_mean_ms"].get<double>(), row["latency_max_ms"].get<double>());
    EXPECT_GE(row["latency_std_ms"].get<double>(), 0.0);
    EXPECT_EQ(row["latency_p99_ms"].is_null(), batches < 100);
    EXPECT_GT(row["load_ms"].get<double>(), 0.0);
    EXPECT_GT(row["first_run_ms"].get<double>(), 0.0);
    if (row["name"] == "native") {
      EXPECT_EQ(row["compared_samples"], 64);
    }
  }
  const std::string csv = testing::read_text(testing::only_file_with_extension(out(), ".csv"));
  EXPECT_NE(csv.find(",load_ms,first_run_ms,first_batch_ms,"), std::string::npos);
}

// One pass with --min-time 0: 64 samples at batch 8 are 8 batches, too few for p90 and p99.
TEST_F(SweepProcess, PercentilesNeedTheirBatches) {
  const auto r = testing::run_cpuinfer(args({"--backends", "ort", "--batch-sizes", "8", "--min-time", "0", "--quiet"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json row = results()["rows"][0];
  EXPECT_EQ(row["timed_batches"], 8);
  EXPECT_FALSE(row["latency_p50_ms"].is_null());
  EXPECT_TRUE(row["latency_p90_ms"].is_null());
  EXPECT_TRUE(row["latency_p99_ms"].is_null());
}

// --save-outputs writes each backend's outputs per sample as .npy.
TEST_F(SweepProcess, SavesOutputsPerSample) {
  const fs::path saved = tmp_.path() / "outputs";
  const auto r = testing::run_cpuinfer(args({"--backends", "ort,native", "--batch-sizes", "1,8", "--min-time", "0",
                                             "--save-outputs", saved.string(), "--quiet"}, "16"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* backend : {"ort", "native"})
    for (const char* batch : {"batch1", "batch8"}) {
      std::size_t files = 0;
      for (const auto& f : fs::directory_iterator(saved / backend / batch)) files += f.path().extension() == ".npy";
      EXPECT_EQ(files, 16u) << backend << " " << batch;
    }
  EXPECT_TRUE(fs::exists(saved / "native" / "batch8" / "sample15.output0.npy"));
}

}  // namespace
}  // namespace cpuinfer

// The load driver and the sweeps (loadgen/load_driver.h, loadgen/scenarios.h) on a target made
// here: closed loops keep their concurrency, open loops keep their schedule and count latency from
// it when the target stalls, wrong answers are errors, and a run that gives up cancels what waits.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "loadgen/load_driver.h"
#include "loadgen/scenarios.h"

namespace cpuinfer::loadgen {
namespace {

// Answers queries in order, `servers` at a time, each after `service` seconds; every `wrong`-th
// answer (counting from 1) is an error.
class FakeTarget final : public Target {
 public:
  FakeTarget(int servers, double service, std::size_t wrong = 0) : service_(service), wrong_(wrong) {
    for (int i = 0; i < servers; ++i) threads_.emplace_back([this] { serve(); });
  }
  ~FakeTarget() override {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
  }
  nlohmann::ordered_json description() const override { return {{"kind", "fake"}}; }
  void issue(const std::vector<std::size_t>& samples, bool check, QueryDone done) override {
    {
      const std::lock_guard lock(mutex_);
      queue_.push_back({samples, check, std::move(done)});
      max_outstanding_ = std::max(max_outstanding_, ++outstanding_);
      samples_seen_.insert(samples_seen_.end(), samples.begin(), samples.end());
    }
    ready_.notify_one();
  }
  void cancel_queued() override {
    std::deque<Entry> dropped;
    {
      const std::lock_guard lock(mutex_);
      dropped.swap(queue_);
      outstanding_ -= static_cast<int>(dropped.size());
    }
    for (Entry& e : dropped) e.done("not run");
  }
  int max_outstanding() const { return max_outstanding_; }
  std::vector<std::size_t> samples_seen() const { return samples_seen_; }
  std::size_t checked() const { return checked_; }

 private:
  struct Entry {
    std::vector<std::size_t> samples;
    bool check;
    QueryDone done;
  };
  void serve() {
    while (true) {
      Entry e;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        e = std::move(queue_.front());
        queue_.pop_front();
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(service_));
      std::optional<std::string> error;
      {
        const std::lock_guard lock(mutex_);
        --outstanding_;
        if (e.check) ++checked_;
        if (wrong_ && ++answered_ % wrong_ == 0) error = "sample 3: disagrees: max_rel_diff 1 > 0.0001";
      }
      e.done(error);
    }
  }
  double service_;
  std::size_t wrong_, answered_ = 0, checked_ = 0;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Entry> queue_;
  int outstanding_ = 0, max_outstanding_ = 0;
  std::vector<std::size_t> samples_seen_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

TEST(LoadDriver, AClosedLoopKeepsItsConcurrencyAndTakesTheSamplesInTurn) {
  FakeTarget target(8, 0.002);
  Load l;
  l.concurrency = 3;
  l.samples_per_query = 2;
  l.seconds = 0.3;
  l.check_every = 4;
  const LoadRun run = drive(target, 5, l);
  EXPECT_EQ(target.max_outstanding(), 3);
  ASSERT_GT(run.records.size(), 20u);
  const auto seen = target.samples_seen();
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i % 5);
  EXPECT_EQ(target.checked(), (run.records.size() + 3) / 4);
  for (const QueryRecord& r : run.records) {
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.intended, r.sent) << "a closed loop means each query when it sends it";
    EXPECT_GE(r.latency(), 0.002);
  }
}

TEST(LoadDriver, AnOpenLoopKeepsItsScheduleAndCountsTheQueueingOfAStalledTarget) {
  // 200 queries/s into a target that answers 50/s: the answers fall ever further behind.
  FakeTarget target(1, 0.02);
  Load l;
  l.rate = 200;
  l.poisson = false;
  l.seconds = 0.5;
  l.drain_seconds = 10;
  const LoadRun run = drive(target, 4, l);
  ASSERT_EQ(run.records.size(), 99u);  // meant at 5 ms, 10 ms, ... below 0.5 s
  for (std::size_t i = 0; i < run.records.size(); ++i) {
    EXPECT_NEAR(run.records[i].intended, 0.005 * static_cast<double>(i + 1), 1e-9);
    EXPECT_LT(run.records[i].sent - run.records[i].intended, 0.05) << "the generator sends on time, whatever the target does";
  }
  // The last query waited for the 98 before it: about 2 s from when it was meant, not 20 ms.
  EXPECT_GT(run.records.back().latency(), 1.5);
}

TEST(LoadDriver, PoissonArrivalsHaveTheirRate) {
  FakeTarget target(4, 0.0);
  Load l;
  l.rate = 2000;
  l.seconds = 1.0;
  l.seed = 7;
  const LoadRun run = drive(target, 1, l);
  // 2000 +- 4.5 standard deviations (sqrt(2000) = 45).
  EXPECT_NEAR(static_cast<double>(run.records.size()), 2000.0, 200.0);
}

TEST(LoadDriver, WrongAnswersAreErrorsAndAStoppedRunCancelsWhatWaits) {
  FakeTarget target(1, 0.01, 3);
  Load l;
  l.rate = 1000;
  l.poisson = false;
  l.seconds = 5;
  l.window_seconds = 0.1;
  l.keep_going = [](std::span<const QueryRecord>, double now) { return now < 0.2; };
  const auto start = std::chrono::steady_clock::now();
  const LoadRun run = drive(target, 1, l);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.0) << "the queued queries were not waited for";
  EXPECT_TRUE(run.stopped_early);
  std::size_t wrong = 0, cancelled = 0, right = 0;
  for (const QueryRecord& r : run.records) {
    if (!r.error) ++right;
    else if (r.error->find("disagrees") != std::string::npos) ++wrong;
    else if (*r.error == "not run") ++cancelled;
  }
  EXPECT_GT(wrong, 0u);
  EXPECT_GT(cancelled, 100u);
  EXPECT_EQ(right + wrong + cancelled, run.records.size());
  const QueryStats s = summarize_queries(run.records, 0.2);
  EXPECT_EQ(s.errors, wrong + cancelled);
  EXPECT_EQ(s.queries, right);
}

TEST(LoadDriver, EveryQueryAtOnce) {
  FakeTarget target(2, 0.001);
  Load l;
  l.at_once = 50;
  const LoadRun run = drive(target, 7, l);
  ASSERT_EQ(run.records.size(), 50u);
  EXPECT_EQ(target.max_outstanding(), 50);
  for (const QueryRecord& r : run.records) EXPECT_EQ(r.intended, 0.0);
  EXPECT_GE(run.seconds, 0.025);
}

TEST(Sweeps, AStableTargetIsMeasuredInThreeWindowsAndABoundEndsTheSweep) {
  FakeTarget target(2, 0.005);
  ScenarioOptions o;
  o.concurrencies = {1, 2, 8};
  o.window_seconds = 0.3;
  o.max_windows = 10;
  o.stability = 0.5;
  o.seconds = 10;
  o.latency_bound_ms = 12;  // concurrency 8 on 2 servers queues 4 services: about 20 ms
  std::vector<nlohmann::ordered_json> rows;
  run_sweep(target, 3, o, [&](nlohmann::ordered_json r) { rows.push_back(std::move(r)); }, [](const std::string&) {});
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& r : rows) {
    EXPECT_EQ(r["status"], "ok");
    EXPECT_TRUE(r["stable"].get<bool>());
    EXPECT_EQ(r["windows"], 3);
  }
  EXPECT_NEAR(rows[1]["qps"].get<double>(), 2 * rows[0]["qps"].get<double>(), 0.5 * rows[0]["qps"].get<double>());
  EXPECT_GT(rows[2]["p99_ms"].get<double>(), 12.0);
  EXPECT_EQ(rows[2]["latency_bound_ms"], 12.0);
}

TEST(Sweeps, AnUnstablePointSaysSo) {
  FakeTarget target(1, 0.001);
  ScenarioOptions o;
  o.rates = {100};
  o.window_seconds = 0.1;
  o.max_windows = 4;
  o.stability = 0.000001;  // no two windows of Poisson arrivals agree this closely
  o.seconds = 10;
  std::vector<nlohmann::ordered_json> rows;
  run_sweep(target, 1, o, [&](nlohmann::ordered_json r) { rows.push_back(std::move(r)); }, [](const std::string&) {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_FALSE(rows[0]["stable"].get<bool>());
  EXPECT_EQ(rows[0]["windows"], 4);
  EXPECT_EQ(rows[0]["status"], "unstable: the last 3 windows of 0.1 s did not agree within 0.0001% after 4 windows");
}

}  // namespace
}  // namespace cpuinfer::loadgen

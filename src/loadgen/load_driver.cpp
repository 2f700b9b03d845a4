#include "loadgen/load_driver.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.h"

namespace cpuinfer::loadgen {

namespace {

using Clock = std::chrono::steady_clock;

// The shared state of one run: records (a deque: answers write into them while more are added).
// Answers hold it too, so that one arriving after the run gave up on it touches nothing freed.
class Ledger {
 public:
  explicit Ledger(Clock::time_point start) : start_(start) {}
  double now() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  // Records a query about to be sent (meant now, if not at `intended`); returns its index.
  std::size_t open(std::optional<double> intended, std::size_t samples) {
    const std::lock_guard lock(mutex_);
    const double sent = now();
    records_.push_back({intended.value_or(sent), sent, -1, samples, std::nullopt});
    ++outstanding_;
    return records_.size() - 1;
  }
  void close(std::size_t k, std::optional<std::string> error) {
    {
      const std::lock_guard lock(mutex_);
      records_[k].done = now();
      records_[k].error = std::move(error);
      --outstanding_;
    }
    answered_.notify_all();
  }
  // Waits until fewer than `limit` queries are out or `until` passes; returns how many are out.
  std::size_t wait_below(std::size_t limit, Clock::time_point until) {
    std::unique_lock lock(mutex_);
    answered_.wait_until(lock, until, [&] { return outstanding_ < limit; });
    return outstanding_;
  }
  std::vector<QueryRecord> snapshot() {
    const std::lock_guard lock(mutex_);
    return {records_.begin(), records_.end()};
  }

 private:
  Clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable answered_;
  std::deque<QueryRecord> records_;
  std::size_t outstanding_ = 0;
};

}  // namespace

LoadRun drive(Target& target, std::size_t sample_count, const Load& load) {
  if (sample_count == 0) fail("no samples to send");
  if ((load.concurrency > 0) + (load.rate > 0) + (load.at_once > 0) != 1) fail("a load is a closed loop, an open loop or all at once");
  const Clock::time_point start = Clock::now();
  const auto ledger_owner = std::make_shared<Ledger>(start);
  Ledger& ledger = *ledger_owner;
  std::mt19937_64 random(load.seed);
  std::exponential_distribution<double> gap(load.rate > 0 ? load.rate : 1.0);
  std::size_t issued = 0, next_sample = 0;
  auto send = [&](std::optional<double> intended) {
    std::vector<std::size_t> samples(load.samples_per_query);
    for (std::size_t& s : samples) s = next_sample++ % sample_count;
    const std::size_t k = ledger.open(intended, samples.size());
    const bool check = load.check_every > 0 && issued % load.check_every == 0;
    ++issued;
    target.issue(samples, check, [ledger_owner, k](std::optional<std::string> error) { ledger_owner->close(k, std::move(error)); });
  };

  LoadRun run;
  double next_window = load.window_seconds;
  auto go_on = [&](double now) {
    if (now >= load.seconds || issued >= load.max_queries) return false;
    if (load.keep_going && now >= next_window) {
      next_window = now + load.window_seconds;
      const std::vector<QueryRecord> so_far = ledger.snapshot();
      if (!load.keep_going(so_far, now)) {
        run.stopped_early = true;
        return false;
      }
    }
    return true;
  };
  const auto tick = std::chrono::milliseconds(20);  // how often a waiting loop looks at the clock
  if (load.at_once > 0) {
    for (std::size_t i = 0; i < std::min(load.at_once, load.max_queries); ++i) send(0.0);
  } else if (load.concurrency > 0) {
    const auto limit = static_cast<std::size_t>(load.concurrency);
    while (go_on(ledger.now()))
      if (ledger.wait_below(limit, Clock::now() + tick) < limit) send(std::nullopt);
  } else {
    double intended = load.poisson ? gap(random) : 1.0 / load.rate;
    while (go_on(ledger.now())) {
      const auto at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(intended));
      if (at > Clock::now() + tick) {
        std::this_thread::sleep_for(tick);
        continue;
      }
      std::this_thread::sleep_until(at);
      if (intended >= load.seconds) break;
      send(intended);
      intended += load.poisson ? gap(random) : 1.0 / load.rate;
    }
  }
  if (run.stopped_early) target.cancel_queued();  // what a stopped run still queues is not worth waiting for
  const auto drain_until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(load.drain_seconds));
  if (ledger.wait_below(1, drain_until) > 0) {
    target.cancel_queued();
    ledger.wait_below(1, Clock::now() + std::chrono::seconds(30));
  }
  run.records = ledger.snapshot();
  for (QueryRecord& r : run.records)
    if (r.done < 0) {
      r.error = "no answer: the load ended first";
      r.done = ledger.now();
    }
  for (const QueryRecord& r : run.records) run.seconds = std::max(run.seconds, r.done);
  return run;
}

}  // namespace cpuinfer::loadgen

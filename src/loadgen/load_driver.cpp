#include "loadgen/load_driver.h"

#include <atomic>
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

// The shared state of one run: its records (a deque: answers write into them while more are
// added) and what the next query takes. Answers hold it too, so that one arriving after the run
// gave up on it touches nothing freed; in a closed loop an answer sends the next query itself, on
// the target's thread, so that no thread handoff stands between the two.
class Feeder : public std::enable_shared_from_this<Feeder> {
 public:
  Feeder(Target& target, std::size_t sample_count, const Load& load)
      : target_(target), sample_count_(sample_count), samples_per_query_(load.samples_per_query), check_every_(load.check_every),
        max_queries_(load.max_queries), refill_(load.concurrency > 0) {}

  Clock::time_point start() const { return start_; }
  double now() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  // Sends a query meant at `intended` (now, if not given); false once the run is over or full.
  bool send(std::optional<double> intended) {
    std::vector<std::size_t> samples(samples_per_query_);
    std::size_t k = 0;
    bool check = false;
    {
      const std::lock_guard lock(mutex_);
      if (!running_ || records_.size() >= max_queries_) return false;
      for (std::size_t& s : samples) s = next_sample_++ % sample_count_;
      check = check_every_ > 0 && records_.size() % check_every_ == 0;
      const double sent = now();
      records_.push_back({intended.value_or(sent), sent, -1, samples.size(), std::nullopt});
      k = records_.size() - 1;
      ++outstanding_;
    }
    target_.issue(samples, check, [self = shared_from_this(), k](std::optional<std::string> error) { self->close(k, std::move(error)); });
    return true;
  }

  void stop() {
    const std::lock_guard lock(mutex_);
    running_ = false;
  }

  // Waits until fewer than `limit` queries are out or `until` passes; returns how many are out.
  std::size_t wait_below(std::size_t limit, Clock::time_point until) {
    std::unique_lock lock(mutex_);
    answered_.wait_until(lock, until, [&] { return outstanding_ < limit; });
    return outstanding_;
  }
  std::size_t issued() {
    const std::lock_guard lock(mutex_);
    return records_.size();
  }
  std::vector<QueryRecord> snapshot() {
    const std::lock_guard lock(mutex_);
    return {records_.begin(), records_.end()};
  }

 private:
  void close(std::size_t k, std::optional<std::string> error) {
    bool refill = false;
    {
      const std::lock_guard lock(mutex_);
      records_[k].done = now();
      records_[k].error = std::move(error);
      --outstanding_;
      refill = refill_ && running_;
    }
    answered_.notify_all();
    if (refill) send(std::nullopt);
  }

  Target& target_;
  const std::size_t sample_count_, samples_per_query_, check_every_, max_queries_;
  const bool refill_;
  const Clock::time_point start_ = Clock::now();
  std::mutex mutex_;
  std::condition_variable answered_;
  std::deque<QueryRecord> records_;
  std::size_t outstanding_ = 0, next_sample_ = 0;
  bool running_ = true;
};

Clock::duration seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

}  // namespace

LoadRun drive(Target& target, std::size_t sample_count, const Load& load) {
  if (sample_count == 0) fail("no samples to send");
  if ((load.concurrency > 0) + (load.rate > 0) + (load.at_once > 0) != 1) fail("a load is a closed loop, an open loop or all at once");
  const auto feeder = std::make_shared<Feeder>(target, sample_count, load);
  const Clock::time_point start = feeder->start();

  LoadRun run;
  double next_window = load.window_seconds;
  const auto go_on = [&](double now) {
    if (now >= load.seconds || feeder->issued() >= load.max_queries) return false;
    if (load.keep_going && now >= next_window) {
      next_window = now + load.window_seconds;
      if (!load.keep_going(feeder->snapshot(), now)) {
        run.stopped_early = true;
        return false;
      }
    }
    return true;
  };
  const auto tick = std::chrono::milliseconds(20);  // how often a waiting loop looks at the clock
  if (load.at_once > 0) {
    for (std::size_t i = 0; i < load.at_once; ++i)
      if (!feeder->send(0.0)) break;
  } else if (load.concurrency > 0) {
    for (int i = 0; i < load.concurrency; ++i) feeder->send(std::nullopt);  // each answer sends the next
    while (go_on(feeder->now())) std::this_thread::sleep_for(tick);
  } else {
    std::mt19937_64 random(load.seed);
    std::exponential_distribution<double> gap(load.rate);
    double intended = load.poisson ? gap(random) : 1.0 / load.rate;
    while (go_on(feeder->now())) {
      const auto at = start + seconds(intended);
      if (at > Clock::now() + tick) {
        std::this_thread::sleep_for(tick);
        continue;
      }
      std::this_thread::sleep_until(at);
      if (intended >= load.seconds || !feeder->send(intended)) break;
      intended += load.poisson ? gap(random) : 1.0 / load.rate;
    }
  }
  feeder->stop();
  if (run.stopped_early) target.cancel_queued();  // what a stopped run still queues is not worth waiting for
  if (feeder->wait_below(1, Clock::now() + seconds(load.drain_seconds)) > 0) {
    target.cancel_queued();
    feeder->wait_below(1, Clock::now() + std::chrono::seconds(30));
  }
  run.records = feeder->snapshot();
  const double end = feeder->now();
  for (QueryRecord& r : run.records)
    if (r.done < 0) {
      r.error = "no answer: the load ended first";
      r.done = end;
    }
  for (const QueryRecord& r : run.records) run.seconds = std::max(run.seconds, r.done);
  return run;
}

}  // namespace cpuinfer::loadgen

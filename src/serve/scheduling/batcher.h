// A model's request queue and dynamic batcher, shared by its instances (engine sessions):
//  - bounded: admission refuses a request when max_queue_size are queued (the server answers 503
//    with Retry-After);
//  - a batch is the oldest queued request and the later ones of the same batch key (images: their
//    shape; texts: one key, since the engine packs any lengths without padding), up to
//    max_batch_size; it goes to an instance when it is full or when the oldest request has waited
//    max_queue_delay since its *arrival* (not since an instance started polling);
//  - queued requests are spread over the instances: a batch takes at most its key's queued
//    requests / instances (rounded up), so that when they queue behind busy instances the next
//    free one does not take them all (on a CPU a batch's run grows with its rows: one instance
//    running two requests one after the other answers the first sooner, and another may take the
//    second); under saturation the queue is long and batches are full;
//  - deadlines are enforced at admission, while queued (a timer fails a request the moment its
//    deadline passes, even when every instance is busy) and at dispatch: 504;
//  - a cancelled request (its client left) leaves the queue at once;
//  - shutdown: admission stops, queued requests are still handed out (drained), then next_batch
//    returns nothing.
// A request is failed or handed out exactly once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cpuinfer::serve {

using Clock = std::chrono::steady_clock;

// What the batcher knows of a request; the server's request derives from it.
class QueuedRequest {
 public:
  QueuedRequest(std::string batch_key, std::optional<Clock::time_point> deadline)
      : batch_key_(std::move(batch_key)), arrival_(Clock::now()), deadline_(deadline) {}
  virtual ~QueuedRequest() = default;
  // Called once, by the batcher, for a request it will not hand out: 504 (deadline) or 503 (shut down).
  virtual void fail(int status, const std::string& message) = 0;

  const std::string& batch_key() const { return batch_key_; }
  // Before the request is queued, never after.
  void set_batch_key(std::string key) { batch_key_ = std::move(key); }
  Clock::time_point arrival() const { return arrival_; }
  std::optional<Clock::time_point> deadline() const { return deadline_; }

 private:
  std::string batch_key_;
  Clock::time_point arrival_;
  std::optional<Clock::time_point> deadline_;
};

struct BatchPolicy {
  std::size_t max_batch_size = 8;
  std::chrono::microseconds max_queue_delay{1000};
  std::size_t max_queue_size = 64;
  std::size_t instances = 1;  // taking batches
};

enum class Admission { queued, queue_full, expired, shut_down };

class Batcher {
 public:
  explicit Batcher(BatchPolicy policy);
  ~Batcher();  // shuts down; queued requests still queued are failed with 503
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues the request, or says why not (the request is not failed: the caller answers).
  Admission enqueue(std::shared_ptr<QueuedRequest> request);
  // Removes a queued request (its client left); false when it is no longer queued.
  bool cancel(const QueuedRequest* request);
  // Blocks until a batch is due, and returns it (requests in arrival order); nullopt once shut
  // down and drained.
  std::optional<std::vector<std::shared_ptr<QueuedRequest>>> next_batch();
  // Stops admission; next_batch drains what is queued, then returns nullopt.
  void shutdown();

  std::size_t queued() const;
  const BatchPolicy& policy() const { return policy_; }

 private:
  void expire_loop();
  // Fails every queued request whose deadline has passed (with the lock held; failed after).
  void take_expired(Clock::time_point now, std::vector<std::shared_ptr<QueuedRequest>>& expired);

  BatchPolicy policy_;
  mutable std::mutex mutex_;
  std::condition_variable work_, timer_;
  std::deque<std::shared_ptr<QueuedRequest>> queue_;  // arrival order
  bool shut_down_ = false, stopping_timer_ = false;
  std::optional<Clock::time_point> timer_due_;  // when the timer wakes next (none: on a new deadline)
  std::thread expirer_;
};

}  // namespace cpuinfer::serve

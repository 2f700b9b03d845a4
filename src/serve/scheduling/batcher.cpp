// The request queue and dynamic batcher (serve/scheduling/batcher.h). One mutex guards the queue;
// requests are failed outside it, since failing one answers its client.
#include "serve/scheduling/batcher.h"

#include <fmt/format.h>

#include <algorithm>

namespace cpuinfer::serve {

namespace {

void fail_expired(const std::vector<std::shared_ptr<QueuedRequest>>& expired) {
  const auto now = Clock::now();
  for (const auto& r : expired) {
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - r->arrival()).count();
    r->fail(504, fmt::format("the request's deadline passed while it was queued ({} ms after its arrival)", waited));
  }
}

}  // namespace

Batcher::Batcher(BatchPolicy policy) : policy_(policy) {
  policy_.max_batch_size = std::max<std::size_t>(1, policy_.max_batch_size);
  policy_.max_queue_size = std::max<std::size_t>(1, policy_.max_queue_size);
  expirer_ = std::thread([this] { expire_loop(); });
}

Batcher::~Batcher() {
  std::deque<std::shared_ptr<QueuedRequest>> left;
  {
    const std::lock_guard lock(mutex_);
    shut_down_ = true;
    stopping_timer_ = true;
    left.swap(queue_);
  }
  work_.notify_all();
  timer_.notify_all();
  expirer_.join();
  for (const auto& r : left) r->fail(503, "the server is shutting down");
}

Admission Batcher::enqueue(std::shared_ptr<QueuedRequest> request) {
  bool sooner = false;  // than the timer's next wake-up: it must look again
  {
    const std::lock_guard lock(mutex_);
    if (shut_down_) return Admission::shut_down;
    const auto deadline = request->deadline();
    if (deadline && *deadline <= Clock::now()) return Admission::expired;
    if (queue_.size() >= policy_.max_queue_size) return Admission::queue_full;
    queue_.push_back(std::move(request));
    sooner = deadline && (!timer_due_ || *deadline < *timer_due_);
  }
  // One instance is enough for one request; waking the timer (a thread switch on every request)
  // only when this deadline comes first.
  work_.notify_one();
  if (sooner) timer_.notify_all();
  return Admission::queued;
}

bool Batcher::cancel(const QueuedRequest* request) {
  const std::lock_guard lock(mutex_);
  const auto it = std::find_if(queue_.begin(), queue_.end(), [&](const auto& r) { return r.get() == request; });
  if (it == queue_.end()) return false;
  queue_.erase(it);
  return true;
}

std::optional<std::vector<std::shared_ptr<QueuedRequest>>> Batcher::next_batch() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (queue_.empty()) {
      if (shut_down_) return std::nullopt;
      work_.wait(lock);
      continue;
    }
    const std::string key = queue_.front()->batch_key();
    const auto due = queue_.front()->arrival() + policy_.max_queue_delay;
    const auto now = Clock::now();
    const auto same_key = static_cast<std::size_t>(
        std::count_if(queue_.begin(), queue_.end(), [&](const auto& r) { return r->batch_key() == key; }));
    if (same_key < policy_.max_batch_size && now < due && !shut_down_) {
      work_.wait_until(lock, due);
      continue;
    }
    const std::size_t instances = std::max<std::size_t>(1, policy_.instances);
    const std::size_t take = std::min(policy_.max_batch_size, (same_key + instances - 1) / instances);
    std::vector<std::shared_ptr<QueuedRequest>> batch, expired;
    for (auto it = queue_.begin(); it != queue_.end() && batch.size() < take;) {
      if ((*it)->batch_key() != key) {
        ++it;
        continue;
      }
      ((*it)->deadline() && *(*it)->deadline() <= now ? expired : batch).push_back(std::move(*it));
      it = queue_.erase(it);
    }
    if (!queue_.empty()) work_.notify_one();  // what is left is another instance's
    if (!expired.empty()) {
      lock.unlock();
      fail_expired(expired);
      lock.lock();
    }
    if (!batch.empty()) return batch;
  }
}

void Batcher::shutdown() {
  {
    const std::lock_guard lock(mutex_);
    shut_down_ = true;
  }
  work_.notify_all();
}

std::size_t Batcher::queued() const {
  const std::lock_guard lock(mutex_);
  return queue_.size();
}

void Batcher::take_expired(Clock::time_point now, std::vector<std::shared_ptr<QueuedRequest>>& expired) {
  for (auto it = queue_.begin(); it != queue_.end();) {
    if ((*it)->deadline() && *(*it)->deadline() <= now) {
      expired.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
}

void Batcher::expire_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_timer_) {
    std::vector<std::shared_ptr<QueuedRequest>> expired;
    take_expired(Clock::now(), expired);
    if (!expired.empty()) {
      lock.unlock();
      fail_expired(expired);
      lock.lock();
      continue;
    }
    timer_due_.reset();
    for (const auto& r : queue_)
      if (r->deadline() && (!timer_due_ || *r->deadline() < *timer_due_)) timer_due_ = r->deadline();
    if (timer_due_) timer_.wait_until(lock, *timer_due_);
    else timer_.wait(lock);
  }
}

}  // namespace cpuinfer::serve

// The request queue and dynamic batcher (serve/scheduling/batcher.h): full batches go at once,
// partial ones when the oldest request has waited the delay since its arrival, queued requests
// are spread over the instances, batches keep to
// one key, the queue is bounded, deadlines fail queued requests while no instance is free, a
// cancelled request leaves, and shutdown drains. Times are bounds on behaviour with wide margins,
// not performance measurements.
#include <gtest/gtest.h>

#include <future>

#include "serve/scheduling/batcher.h"

namespace cpuinfer::serve {
namespace {

using namespace std::chrono_literals;

class TestRequest : public QueuedRequest {
 public:
  explicit TestRequest(std::string key, std::optional<Clock::time_point> deadline = std::nullopt)
      : QueuedRequest(std::move(key), deadline), failed_(promise_.get_future()) {}
  void fail(int status, const std::string& message) override { promise_.set_value({status, message}); }
  // The failure, if it comes within `wait`.
  std::optional<std::pair<int, std::string>> failure(std::chrono::milliseconds wait) {
    if (failed_.wait_for(wait) != std::future_status::ready) return std::nullopt;
    return failed_.get();
  }

 private:
  std::promise<std::pair<int, std::string>> promise_;
  std::future<std::pair<int, std::string>> failed_;
};

std::shared_ptr<TestRequest> request(const std::string& key = "k", std::optional<Clock::time_point> deadline = std::nullopt) {
  return std::make_shared<TestRequest>(key, deadline);
}

TEST(Batcher, AFullBatchGoesAtOnce) {
  Batcher b({.max_batch_size = 3, .max_queue_delay = 60s, .max_queue_size = 10});
  std::vector<std::shared_ptr<TestRequest>> rs;
  for (int i = 0; i < 4; ++i) {
    rs.push_back(request());
    ASSERT_EQ(b.enqueue(rs.back()), Admission::queued);
  }
  const auto start = Clock::now();
  const auto batch = b.next_batch();
  EXPECT_LT(Clock::now() - start, 30s);  // not the 60 s delay
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*batch)[static_cast<std::size_t>(i)], rs[static_cast<std::size_t>(i)]);  // arrival order
  EXPECT_EQ(b.queued(), 1u);
}

TEST(Batcher, QueuedRequestsAreSpreadOverTheInstances) {
  Batcher b({.max_batch_size = 8, .max_queue_delay = 0us, .max_queue_size = 10, .instances = 2});
  std::vector<std::shared_ptr<TestRequest>> rs;
  for (int i = 0; i < 5; ++i) {
    rs.push_back(request());
    ASSERT_EQ(b.enqueue(rs.back()), Admission::queued);
  }
  // 5 queued for 2 instances: 3, then 1 of the 2 left, then the last.
  for (const std::size_t expected : {3u, 1u, 1u}) {
    const auto batch = b.next_batch();
    ASSERT_TRUE(batch);
    EXPECT_EQ(batch->size(), expected);
  }
  EXPECT_EQ(b.queued(), 0u);
}

TEST(Batcher, APartialBatchGoesWhenTheOldestHasWaitedTheDelaySinceItsArrival) {
  Batcher b({.max_batch_size = 8, .max_queue_delay = 1000ms, .max_queue_size = 10});
  const auto first = request();
  ASSERT_EQ(b.enqueue(first), Admission::queued);
  std::this_thread::sleep_for(700ms);  // as if every instance were busy until now
  ASSERT_EQ(b.enqueue(request()), Admission::queued);
  const auto batch = b.next_batch();
  const auto waited = Clock::now() - first->arrival();
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->size(), 2u);
  EXPECT_GE(waited, 1000ms);
  EXPECT_LT(waited, 1650ms);  // counted from the arrival (1000 ms), not from polling (1700 ms)
}

TEST(Batcher, ABatchKeepsToTheOldestRequestsKey) {
  Batcher b({.max_batch_size = 8, .max_queue_delay = 0ms, .max_queue_size = 10});
  const auto a1 = request("1x3x224x224"), c = request("1x3x160x160"), a2 = request("1x3x224x224");
  for (const auto& r : {a1, c, a2}) ASSERT_EQ(b.enqueue(r), Admission::queued);
  const auto first = b.next_batch();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0], a1);
  EXPECT_EQ((*first)[1], a2);
  const auto second = b.next_batch();
  ASSERT_TRUE(second);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0], c);
}

TEST(Batcher, AdmissionIsBoundedAndRefusesExpiredRequests) {
  Batcher b({.max_batch_size = 8, .max_queue_delay = 60s, .max_queue_size = 2});
  EXPECT_EQ(b.enqueue(request("k", Clock::now() - 1ms)), Admission::expired);
  EXPECT_EQ(b.enqueue(request()), Admission::queued);
  EXPECT_EQ(b.enqueue(request()), Admission::queued);
  EXPECT_EQ(b.enqueue(request()), Admission::queue_full);
  b.shutdown();
  EXPECT_EQ(b.enqueue(request()), Admission::shut_down);
}

TEST(Batcher, ADeadlineFailsAQueuedRequestWhileNoInstanceIsFree) {
  Batcher b({.max_batch_size = 8, .max_queue_delay = 60s, .max_queue_size = 10});
  const auto soon = request("k", Clock::now() + 100ms), later = request();
  ASSERT_EQ(b.enqueue(soon), Admission::queued);
  ASSERT_EQ(b.enqueue(later), Admission::queued);
  // Nobody calls next_batch: the batcher's timer answers.
  const auto failure = soon->failure(20s);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->first, 504);
  EXPECT_NE(failure->second.find("deadline passed while it was queued"), std::string::npos) << failure->second;
  EXPECT_EQ(b.queued(), 1u);
  EXPECT_FALSE(later->failure(0ms));
}

TEST(Batcher, ACancelledRequestLeavesTheQueue) {
  Batcher b({.max_batch_size = 2, .max_queue_delay = 0ms, .max_queue_size = 10});
  const auto gone = request(), kept = request();
  ASSERT_EQ(b.enqueue(gone), Admission::queued);
  ASSERT_EQ(b.enqueue(kept), Admission::queued);
  EXPECT_TRUE(b.cancel(gone.get()));
  EXPECT_FALSE(b.cancel(gone.get()));
  const auto batch = b.next_batch();
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ((*batch)[0], kept);
}

TEST(Batcher, ShutdownDrainsWithoutWaitingThenEnds) {
  auto b = std::make_unique<Batcher>(BatchPolicy{.max_batch_size = 2, .max_queue_delay = 60s, .max_queue_size = 10});
  for (int i = 0; i < 3; ++i) ASSERT_EQ(b->enqueue(request()), Admission::queued);
  b->shutdown();
  const auto start = Clock::now();
  EXPECT_EQ(b->next_batch()->size(), 2u);
  EXPECT_EQ(b->next_batch()->size(), 1u);
  EXPECT_FALSE(b->next_batch());
  EXPECT_LT(Clock::now() - start, 30s);
  // Destroyed with requests still queued: each is answered with 503.
  auto b2 = std::make_unique<Batcher>(BatchPolicy{.max_batch_size = 2, .max_queue_delay = 60s, .max_queue_size = 10});
  const auto left = request();
  ASSERT_EQ(b2->enqueue(left), Admission::queued);
  b2.reset();
  const auto failure = left->failure(0ms);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->first, 503);
}

}  // namespace
}  // namespace cpuinfer::serve

// The engine in this process as a load's target: `instances` copies of a backend, each on its own
// thread with `threads` threads, taking queries from one queue. A free instance takes the oldest
// query and the ones behind it up to `max_batch` samples, and runs them as one batch (dynamic
// batching without a wait): so a load that queues is served in batches, as a server would.
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "loadgen/expected_outputs.h"
#include "loadgen/target.h"

namespace cpuinfer {
class Backend;
class Workload;
}  // namespace cpuinfer

namespace cpuinfer::loadgen {

struct InProcessOptions {
  std::string backend = "native";
  std::filesystem::path model;  // the file the backend loads
  int instances = 1;
  int threads = 1;  // per instance
  std::size_t max_batch = 8;
};

class InProcessTarget final : public Target {
 public:
  // Loads and warms up every instance. Throws cpuinfer::Error naming the backend.
  InProcessTarget(const Workload& workload, const InProcessOptions& options, const ExpectedOutputs* expected);
  ~InProcessTarget() override;
  nlohmann::ordered_json description() const override;
  void issue(const std::vector<std::size_t>& samples, bool check, QueryDone done) override;
  void cancel_queued() override;
  // One sample's run, alone, at warm-up (ms): where the Server scenario's search starts.
  double single_sample_ms() const { return single_sample_ms_; }

 private:
  struct Query {
    std::vector<std::size_t> samples;
    bool check;
    QueryDone done;
  };
  void serve(Backend& backend);
  void run(Backend& backend, std::vector<Query>& queries);

  const Workload& workload_;
  InProcessOptions options_;
  const ExpectedOutputs* expected_;
  std::vector<std::unique_ptr<Backend>> backends_;
  nlohmann::ordered_json settings_;
  double single_sample_ms_ = 0;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Query> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cpuinfer::loadgen

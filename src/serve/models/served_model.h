// One version of a model as the server serves it: its runtime (serve/models/model_runner.h), its
// batcher (serve/scheduling/batcher.h) and its instances, each a thread taking batches and running
// them. A request is checked against the model's inputs before it is queued (400 naming the
// input); a batch joins its requests along the first dimension (texts: each request's texts
// tokenized on arrival, padded to the batch's longest, the engine's token packing skipping the
// padding), runs once, and each request gets its rows of every output. When a batch of several
// requests fails, each runs again on its own, so that one bad request fails only itself.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/wordpiece_tokenizer.h"
#include "engine/graph.h"
#include "serve/metrics/server_metrics.h"
#include "serve/models/model_runner.h"
#include "serve/protocol/infer_message.h"
#include "serve/repository/model_repository.h"
#include "serve/scheduling/batcher.h"

namespace cpuinfer::serve {

// What became of a request: its response, or why there is none. The transports (REST, gRPC) write
// it in their own form.
struct Reply {
  Outcome outcome = Outcome::success;
  std::string error;       // not success: one line for the client
  InferResponse response;  // success
};
using ReplyFn = std::function<void(Reply)>;
inline Reply error_reply(Outcome outcome, std::string message) { return {outcome, std::move(message), {}}; }

// The server's cores, shared by every model's instances: a run takes as many as its threads (all
// at once, so that two runs never hold part of what each needs), and runs x threads stay within
// the cores whatever the models' instance counts.
class CoreBudget {
 public:
  explicit CoreBudget(int cores) : free_(cores) {}
  void acquire(int n) {
    std::unique_lock lock(mutex_);
    freed_.wait(lock, [&] { return free_ >= n; });
    free_ -= n;
  }
  bool try_acquire(int n) {
    const std::lock_guard lock(mutex_);
    if (free_ < n) return false;
    free_ -= n;
    return true;
  }
  void release(int n) {
    {
      const std::lock_guard lock(mutex_);
      free_ += n;
    }
    freed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable freed_;
  int free_;
};

struct TensorMetadata {
  std::string name, datatype;
  std::vector<std::int64_t> shape;  // -1: variable
};

class ServedModel {
 public:
  // A model whose run takes less than this (warm-up, 1 thread) and that does not wait to batch
  // (max_batch_size 1 or max_queue_delay_us 0) runs a request that finds no queue and an idle
  // instance at once, on the thread that read it: the batcher would send it at once too, and a
  // handoff to an instance's thread and back costs more than the run (two thread wake-ups).
  static constexpr auto kRunAtOnce = std::chrono::microseconds(500);


  // Loads the version's file on the config's backend with `instances` instances (each runs at
  // most `threads` intra-op threads). Throws cpuinfer::Error naming the file.
  ServedModel(const RepositoryModel& model, const ModelVersion& version, int instances, CoreBudget& cores,
              std::size_t max_tensor_bytes);
  ~ServedModel();  // stop()

  // Where its requests' outcomes and runs are counted (before start; none: not counted).
  void set_metrics(ModelMetrics* metrics) { metrics_ = metrics; }
  ModelMetrics* metrics() const { return metrics_; }
  // Runs one warm-up inference per instance, then starts the instances: ready() after.
  void start();
  bool ready() const { return ready_; }
  // Stops admission, lets the instances finish what is queued, joins them.
  void stop();

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const std::string& runtime() const { return runtime_; }
  int instances() const { return instances_; }
  std::size_t queued() const { return batcher_->queued(); }
  // GET /v2/models/<name>[/versions/<v>]: name, versions, platform, inputs and outputs.
  nlohmann::json metadata(const std::vector<std::string>& versions) const;

  // Checks the request against the model and queues it; `reply` is called exactly once, from this
  // thread (an error) or an instance's. deadline: when the request stops being worth answering.
  // Returns what takes the request out of the queue if its client leaves (empty when not queued).
  std::function<void()> infer(InferRequest request, std::optional<Clock::time_point> deadline, ReplyFn reply);

 private:
  class Call;
  void instance_loop(int instance);
  // Runs a batch on an instance this thread holds, answering every call whatever happens.
  void run_batch(int instance, const std::vector<std::shared_ptr<Call>>& calls, bool cores_held);
  void run_calls(int instance, const std::vector<std::shared_ptr<Call>>& calls, bool cores_held);
  // Runs the call at once when kRunAtOnce allows and an instance and its cores are free.
  bool run_at_once(const std::shared_ptr<Call>& call);
  std::vector<Tensor> batch_inputs(const std::vector<std::shared_ptr<Call>>& calls) const;
  std::vector<Tensor> warm_up_inputs() const;

  std::string name_, version_, runtime_;
  ModelConfig config_;
  std::vector<TensorMetadata> inputs_, outputs_;
  std::vector<engine::TensorSpec> input_specs_;
  std::unique_ptr<WordPieceTokenizer> tokenizer_;  // text models
  bool batchable_ = true;  // every input's and output's first dimension is open
  int instances_;
  std::size_t max_tensor_bytes_;
  CoreBudget& cores_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<Batcher> batcher_;
  std::vector<std::thread> threads_;
  std::unique_ptr<std::atomic<bool>[]> busy_;  // per instance: its session in use
  bool run_at_once_ = false;
  std::atomic<bool> ready_{false};
  ModelMetrics* metrics_ = nullptr;
};

}  // namespace cpuinfer::serve

#include "loadgen/in_process_target.h"

#include <fmt/format.h>

#include <chrono>

#include "backends/backend.h"
#include "backends/registry.h"
#include "bench/workload.h"
#include "core/error.h"

namespace cpuinfer::loadgen {

InProcessTarget::InProcessTarget(const Workload& workload, const InProcessOptions& options, const ExpectedOutputs* expected)
    : workload_(workload), options_(options), expected_(expected) {
  options_.max_batch = std::max<std::size_t>(1, std::min(options_.max_batch, workload.max_batch_size()));
  const std::vector<Tensor> one = workload.batch(workload.batch_of({0}));
  std::vector<std::size_t> full(std::min(options_.max_batch, workload.size()));
  for (std::size_t i = 0; i < full.size(); ++i) full[i] = i;
  const std::vector<Tensor> batch = workload.batch(workload.batch_of(full));
  for (int i = 0; i < std::max(1, options_.instances); ++i) {
    auto backend = make_backend(options_.backend, BackendOptions{options_.threads});
    try {
      backend->inspect(options_.model);
      backend->load(options_.model);
      backend->warm_up(batch, 2);
      backend->warm_up(one, 2);
    } catch (const Error& e) {
      fail("backend {}: {}", options_.backend, e.what());
    }
    if (i == 0) {
      const auto start = std::chrono::steady_clock::now();
      backend->run(one);
      single_sample_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      settings_ = {{"backend", backend->name()}, {"version", backend->version()}, {"settings", backend->settings()}};
    }
    backends_.push_back(std::move(backend));
  }
  for (auto& b : backends_) threads_.emplace_back([this, backend = b.get()] { serve(*backend); });
}

InProcessTarget::~InProcessTarget() {
  cancel_queued();
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& t : threads_) t.join();
}

nlohmann::ordered_json InProcessTarget::description() const {
  nlohmann::ordered_json d = {{"kind", "in-process"}, {"model", options_.model.string()}};
  d.update(settings_);
  d["instances"] = backends_.size();
  d["threads_per_instance"] = options_.threads;
  d["max_batch"] = options_.max_batch;
  return d;
}

void InProcessTarget::issue(const std::vector<std::size_t>& samples, bool check, QueryDone done) {
  {
    const std::lock_guard lock(mutex_);
    queue_.push_back({samples, check, std::move(done)});
  }
  ready_.notify_one();
}

void InProcessTarget::cancel_queued() {
  std::deque<Query> dropped;
  {
    const std::lock_guard lock(mutex_);
    dropped.swap(queue_);
  }
  for (Query& q : dropped) q.done("not run: the load ended first");
}

void InProcessTarget::serve(Backend& backend) {
  std::vector<Query> taken;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::size_t samples = 0;
      do {
        samples += queue_.front().samples.size();
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } while (!queue_.empty() && samples + queue_.front().samples.size() <= options_.max_batch);
    }
    run(backend, taken);
    taken.clear();
  }
}

void InProcessTarget::run(Backend& backend, std::vector<Query>& queries) {
  std::vector<std::size_t> samples;
  for (const Query& q : queries) samples.insert(samples.end(), q.samples.begin(), q.samples.end());
  std::vector<Tensor> outputs;
  try {
    outputs = backend.run(workload_.batch(workload_.batch_of(samples)));
  } catch (const Error& e) {
    for (Query& q : queries) q.done(fmt::format("backend {}: {}", backend.name(), e.what()));
    return;
  }
  std::size_t row = 0;
  for (Query& q : queries) {
    std::optional<std::string> error;
    if (q.check && expected_)
      for (std::size_t i = 0; i < q.samples.size() && !error; ++i)
        error = expected_->check(q.samples[i], sample_outputs(outputs, row + i, samples.size()));
    row += q.samples.size();
    q.done(std::move(error));
  }
}

}  // namespace cpuinfer::loadgen

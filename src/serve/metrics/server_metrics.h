// The server's Prometheus metrics (prometheus-cpp), served as text at GET /metrics:
//   cpuinfer_request_duration_seconds{model,version}   histogram: arrival to answer, every outcome
//   cpuinfer_queue_duration_seconds{model,version}     histogram: arrival to the start of its run
//   cpuinfer_compute_duration_seconds{model,version}   histogram: a batch's run
//   cpuinfer_batch_size{model,version}                 histogram: requests per run
//   cpuinfer_pending_requests{model,version}           gauge: queued now
//   cpuinfer_requests_total{model,version,result}      counter: result="success" or "failure" (500)
//   cpuinfer_rejections_total{model,version,reason}    counter: bad_request, queue_full, not_ready,
//                                                      deadline, shutting_down
//   process_resident_memory_bytes                      gauge: the server's RSS
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cpuinfer::serve {

// What became of a request, for the counters.
enum class Outcome { success, failure, bad_request, queue_full, not_ready, deadline, shutting_down };

class ModelMetrics {
 public:
  void answered(Outcome outcome, double seconds);
  void ran(double compute_seconds, std::size_t batch_size, const std::vector<double>& queue_seconds);

 private:
  friend class ServerMetrics;
  prometheus::Histogram *request_ = nullptr, *queue_ = nullptr, *compute_ = nullptr, *batch_ = nullptr;
  prometheus::Counter *success_ = nullptr, *failure_ = nullptr;
  std::map<Outcome, prometheus::Counter*> rejected_;
  prometheus::Gauge* pending_ = nullptr;
  std::function<std::size_t()> queued_;
};

class ServerMetrics {
 public:
  ServerMetrics();
  // One model version's metrics (made before serving starts); `queued` reads its queue at scrape time.
  ModelMetrics& model(const std::string& name, const std::string& version, std::function<std::size_t()> queued);
  // The text exposition format.
  std::string scrape();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram> *request_, *queue_, *compute_, *batch_;
  prometheus::Family<prometheus::Counter> *requests_, *rejections_;
  prometheus::Family<prometheus::Gauge> *pending_, *rss_;
  std::vector<std::unique_ptr<ModelMetrics>> models_;
};

}  // namespace cpuinfer::serve

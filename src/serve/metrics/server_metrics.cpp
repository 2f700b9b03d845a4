// The server's Prometheus metrics (serve/metrics/server_metrics.h).
#include "serve/metrics/server_metrics.h"

#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <fstream>

namespace cpuinfer::serve {

namespace {

// Seconds from 100 us to 60 s, about three buckets per decade.
prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

void ModelMetrics::answered(Outcome outcome, double seconds) {
  request_->Observe(seconds);
  if (outcome == Outcome::success) success_->Increment();
  else if (outcome == Outcome::failure) failure_->Increment();
  else rejected_.at(outcome)->Increment();
}

void ModelMetrics::ran(double compute_seconds, std::size_t batch_size, const std::vector<double>& queue_seconds) {
  compute_->Observe(compute_seconds);
  batch_->Observe(static_cast<double>(batch_size));
  for (double q : queue_seconds) queue_->Observe(q);
}

ServerMetrics::ServerMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  request_ = &prometheus::BuildHistogram().Name("cpuinfer_request_duration_seconds")
                  .Help("Inference requests from arrival to answer, every outcome").Register(*registry_);
  queue_ = &prometheus::BuildHistogram().Name("cpuinfer_queue_duration_seconds")
                .Help("Inference requests from arrival to the start of their run").Register(*registry_);
  compute_ = &prometheus::BuildHistogram().Name("cpuinfer_compute_duration_seconds").Help("Runs of a batch").Register(*registry_);
  batch_ = &prometheus::BuildHistogram().Name("cpuinfer_batch_size").Help("Requests per run").Register(*registry_);
  requests_ = &prometheus::BuildCounter().Name("cpuinfer_requests_total")
                   .Help("Inference requests run: result success, or failure (500)").Register(*registry_);
  rejections_ = &prometheus::BuildCounter().Name("cpuinfer_rejections_total")
                     .Help("Inference requests refused, by reason").Register(*registry_);
  pending_ = &prometheus::BuildGauge().Name("cpuinfer_pending_requests").Help("Requests queued now").Register(*registry_);
  rss_ = &prometheus::BuildGauge().Name("process_resident_memory_bytes").Help("Resident memory of the server").Register(*registry_);
  rss_->Add({});
}

ModelMetrics& ServerMetrics::model(const std::string& name, const std::string& version, std::function<std::size_t()> queued) {
  auto m = std::make_unique<ModelMetrics>();
  const prometheus::Labels labels = {{"model", name}, {"version", version}};
  m->request_ = &request_->Add(labels, latency_buckets());
  m->queue_ = &queue_->Add(labels, latency_buckets());
  m->compute_ = &compute_->Add(labels, latency_buckets());
  m->batch_ = &batch_->Add(labels, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128});
  auto with = [&](const char* key, const char* value) {
    prometheus::Labels l = labels;
    l[key] = value;
    return l;
  };
  m->success_ = &requests_->Add(with("result", "success"));
  m->failure_ = &requests_->Add(with("result", "failure"));
  for (const auto& [outcome, reason] : {std::pair{Outcome::bad_request, "bad_request"}, {Outcome::queue_full, "queue_full"},
                                        {Outcome::not_ready, "not_ready"}, {Outcome::deadline, "deadline"},
                                        {Outcome::shutting_down, "shutting_down"}})
    m->rejected_[outcome] = &rejections_->Add(with("reason", reason));
  m->pending_ = &pending_->Add(labels);
  m->queued_ = std::move(queued);
  models_.push_back(std::move(m));
  return *models_.back();
}

std::string ServerMetrics::scrape() {
  for (const auto& m : models_) m->pending_->Set(static_cast<double>(m->queued_()));
  rss_->Add({}).Set(resident_bytes());
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace cpuinfer::serve

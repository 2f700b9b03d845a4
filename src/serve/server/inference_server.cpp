// The served models and what the transports share (serve/server/inference_server.h).
#include "serve/server/inference_server.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/error.h"
#include "core/machine.h"
#include "serve/grpc/grpc_api.h"
#include "serve/http/http_server.h"
#include "serve/http/rest_api.h"

namespace fs = std::filesystem;

namespace cpuinfer::serve {

std::vector<RepositoryModel> study_models(const fs::path& cache) {
  const fs::path resnet = cache / "models" / "resnet101-random-seed0" / "model.onnx";
  const fs::path bert = cache / "models" / "bert-random-seed0";
  for (const fs::path& f : {resnet, bert / "model.onnx", bert / "vocab.txt"})
    if (!fs::exists(f)) fail("{}: not exported yet (scripts/setup.sh exports the study's models), or give --model-repository", f.string());
  RepositoryModel r{"resnet101", {}, {{"1", resnet}}};
  r.config.backend = "native";
  RepositoryModel b{"bert", {}, {{"1", bert / "model.onnx"}}};
  b.config.backend = "native";
  b.config.text = TextConfig{bert / "vocab.txt", 512, true};
  return {b, r};
}

InferenceServer::InferenceServer(std::vector<RepositoryModel> repository, const ServerOptions& options)
    : max_tensor_bytes_(options.max_tensor_bytes) {
  const int cores = options.cores > 0 ? options.cores : std::max(1, read_machine_info().usable_cores);
  cores_ = std::make_unique<CoreBudget>(cores);
  for (const RepositoryModel& m : repository) {
    if (m.config.threads > cores) fail("model '{}': {} threads per instance, but {} cores", m.name, m.config.threads, cores);
    const int instances = m.config.instances > 0 ? m.config.instances : std::max(1, cores / m.config.threads);
    for (const ModelVersion& v : m.versions) {
      try {
        models_[m.name].push_back(std::make_unique<ServedModel>(m, v, instances, *cores_, options.max_tensor_bytes));
        ServedModel& served = *models_[m.name].back();
        served.set_metrics(&metrics_.model(m.name, v.version, [&served] { return served.queued(); }));
        served.start();
      } catch (const Error& e) {
        fail("model '{}' version {}: {}", m.name, v.version, e.what());
      }
    }
  }
  http_ = std::make_unique<HttpServer>(options.host, options.http_port, options.http_threads,
                                       HttpLimits{.max_body_bytes = options.max_body_bytes, .aligned_after_header = kJsonLengthHeader}, rest_handler(*this));
  grpc_ = std::make_unique<GrpcServer>(*this, options.host, options.grpc_port, options.max_body_bytes);
}

InferenceServer::~InferenceServer() { shutdown(); }

std::uint16_t InferenceServer::http_port() const { return http_->port(); }
std::uint16_t InferenceServer::grpc_port() const { return grpc_->port(); }

std::vector<std::string> InferenceServer::summary() const {
  std::vector<std::string> lines;
  for (const auto& [name, versions] : models_)
    for (const auto& m : versions) {
      const nlohmann::json parameters = m->metadata({})["parameters"];
      lines.push_back(fmt::format("model={} version={} backend={} instances={} max_batch_size={} runtime=\"{}\"", name, m->version(),
                                  parameters["backend"].get<std::string>(), m->instances(),
                                  parameters["max_batch_size"].get<int>(), m->runtime()));
    }
  return lines;
}

void InferenceServer::shutdown() {
  if (!http_ || draining_.exchange(true)) return;
  http_->stop_accepting();
  for (auto& [name, versions] : models_)
    for (auto& m : versions) m->stop();  // the queued requests run and are answered
  grpc_->shutdown(std::chrono::seconds(30));
  http_->drain(std::chrono::seconds(30));
  http_->stop();
}

bool InferenceServer::ready() const {
  if (draining_) return false;
  for (const auto& [name, versions] : models_)
    for (const auto& m : versions)
      if (!m->ready()) return false;
  return true;
}

ServedModel* InferenceServer::find(const std::string& name, const std::string& version) const {
  const auto it = models_.find(name);
  if (it == models_.end()) return nullptr;
  if (version.empty()) return it->second.back().get();
  for (const auto& m : it->second)
    if (m->version() == version) return m.get();
  return nullptr;
}

std::vector<std::string> InferenceServer::versions(const std::string& name) const {
  std::vector<std::string> v;
  if (const auto it = models_.find(name); it != models_.end())
    for (const auto& m : it->second) v.push_back(m->version());
  return v;
}

std::function<void()> InferenceServer::submit(ServedModel& model, InferRequest request, std::optional<std::int64_t> timeout_us, ReplyFn reply) {
  const auto arrival = Clock::now();
  auto refuse = [&](Outcome outcome, const std::string& message) {
    if (model.metrics()) model.metrics()->answered(outcome, std::chrono::duration<double>(Clock::now() - arrival).count());
    reply(error_reply(outcome, message));
  };
  if (!model.ready() || draining_) {
    refuse(draining_ ? Outcome::shutting_down : Outcome::not_ready, fmt::format("model '{}' is not ready", model.name()));
    return {};
  }
  if (const auto p = request.parameters.find("timeout"); p != request.parameters.end()) {
    if (!p->is_number_integer() || p->get<std::int64_t>() <= 0) {
      refuse(Outcome::bad_request, fmt::format("parameter 'timeout' must be a positive count of microseconds, not {}",
                                               p->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
      return {};
    }
    timeout_us = p->get<std::int64_t>();
  }
  std::optional<Clock::time_point> deadline;
  // At most a day: beyond, the deadline's arithmetic would overflow.
  if (timeout_us) deadline = arrival + std::chrono::microseconds(std::clamp<std::int64_t>(*timeout_us, 0, 86'400'000'000));
  return model.infer(std::move(request), deadline, std::move(reply));
}

}  // namespace cpuinfer::serve

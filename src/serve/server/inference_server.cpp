// The Open Inference Protocol's REST endpoints over the served models
// (serve/server/inference_server.h).
#include "serve/server/inference_server.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

#include "core/error.h"
#include "core/machine.h"

namespace fs = std::filesystem;

namespace cpuinfer::serve {

namespace {

using json = nlohmann::json;

// Messages may quote what the client sent (a path, a header): invalid UTF-8 in it is replaced, not
// a reason to fail.
HttpResponse json_response(int status, const json& body) {
  return {status, "application/json", {}, body.dump(-1, ' ', false, json::error_handler_t::replace)};
}
HttpResponse error_response(int status, const std::string& message) { return json_response(status, {{"error", message}}); }

HttpResponse to_http(Reply r) {
  HttpResponse h{r.status, "application/json", {}, std::move(r.body)};
  if (r.json_length) {
    h.content_type = "application/octet-stream";
    h.headers.emplace_back("Inference-Header-Content-Length", std::to_string(*r.json_length));
  }
  if (r.retry_after_s) h.headers.emplace_back("Retry-After", std::to_string(*r.retry_after_s));
  return h;
}

std::vector<std::string> split_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string> parts;
  while (!target.empty()) {
    const auto slash = target.find('/');
    if (slash != 0) parts.emplace_back(target.substr(0, slash));
    if (slash == std::string_view::npos) break;
    target.remove_prefix(slash + 1);
  }
  return parts;
}

// A count of microseconds: a header's or a parameter's.
std::int64_t microseconds(const std::string& text, const char* what) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v <= 0) fail("{} '{}' is not a positive count of microseconds", what, text);
  return v;
}

}  // namespace

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
                                       HttpLimits{.max_body_bytes = options.max_body_bytes},
                                       [this](HttpRequest r, Respond respond) { return handle(std::move(r), std::move(respond)); });
}

InferenceServer::~InferenceServer() { shutdown(); }

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
  http_->drain(std::chrono::seconds(30));
  http_->stop();
}

ServedModel* InferenceServer::find(const std::string& name, const std::string& version) const {
  const auto it = models_.find(name);
  if (it == models_.end()) return nullptr;
  if (version.empty()) return it->second.back().get();
  for (const auto& m : it->second)
    if (m->version() == version) return m.get();
  return nullptr;
}

std::function<void()> InferenceServer::handle(HttpRequest request, Respond respond) {
  const std::vector<std::string> path = split_path(request.target);
  const bool get = request.method == "GET", post = request.method == "POST";
  auto only = [&](bool method_ok, const char* allowed, const std::function<void()>& f) {
    if (!method_ok) return respond(error_response(405, fmt::format("{} takes {}, not {}", request.target, allowed, request.method)));
    f();
  };
  if (path.size() == 1 && path[0] == "metrics") {
    only(get, "GET", [&] { respond({200, "text/plain; version=0.0.4", {}, metrics_.scrape()}); });
    return {};
  }
  if (path.empty() || path[0] != "v2") {
    respond(error_response(404, fmt::format("no route {} (the protocol's paths begin with /v2)", request.target)));
    return {};
  }
  if (path.size() == 1) {
    only(get, "GET", [&] { respond(json_response(200, {{"name", "cpuinfer"}, {"version", CPUINFER_VERSION}, {"extensions", {"binary_tensor_data"}}})); });
    return {};
  }
  if (path.size() == 3 && path[1] == "health" && (path[2] == "live" || path[2] == "ready")) {
    only(get, "GET", [&] {
      if (path[2] == "live") return respond(json_response(200, {{"live", true}}));
      bool ready = !draining_;
      for (const auto& [name, versions] : models_)
        for (const auto& m : versions) ready = ready && m->ready();
      respond(json_response(ready ? 200 : 503, {{"ready", ready}}));
    });
    return {};
  }
  if (path[1] != "models" || path.size() < 3) {
    respond(error_response(404, fmt::format("no route {}", request.target)));
    return {};
  }
  // /v2/models/<m>[/versions/<v>][/ready | /infer]
  std::size_t at = 3;
  std::string version;
  if (path.size() >= 5 && path[3] == "versions") {
    version = path[4];
    at = 5;
  }
  const std::string action = path.size() > at ? path[at] : "";
  if (path.size() > at + 1 || (!action.empty() && action != "ready" && action != "infer")) {
    respond(error_response(404, fmt::format("no route {}", request.target)));
    return {};
  }
  ServedModel* model = find(path[2], version);
  if (!model) {
    respond(error_response(404, version.empty() ? fmt::format("no model '{}'", path[2])
                                                : fmt::format("no version {} of model '{}'", version, path[2])));
    return {};
  }
  if (action == "infer") {
    if (!post) {
      respond(error_response(405, fmt::format("{} takes POST, not {}", request.target, request.method)));
      return {};
    }
    return infer(*model, request, std::move(respond));
  }
  only(get, "GET", [&] {
    if (action == "ready") {
      const bool ready = model->ready() && !draining_;
      return respond(json_response(ready ? 200 : 503, {{"name", model->name()}, {"ready", ready}}));
    }
    std::vector<std::string> versions;
    for (const auto& m : models_.at(model->name())) versions.push_back(m->version());
    respond(json_response(200, model->metadata(versions)));
  });
  return {};
}

std::function<void()> InferenceServer::infer(ServedModel& model, HttpRequest& request, Respond respond) {
  const auto arrival = Clock::now();
  auto refuse = [&](Outcome outcome, const std::string& message) {
    if (model.metrics()) model.metrics()->answered(outcome, std::chrono::duration<double>(Clock::now() - arrival).count());
    respond(to_http(error_reply(outcome, message)));
  };
  if (!model.ready() || draining_) {
    refuse(draining_ ? Outcome::shutting_down : Outcome::not_ready, fmt::format("model '{}' is not ready", model.name()));
    return {};
  }
  std::optional<Clock::time_point> deadline;
  InferRequest parsed;
  try {
    std::optional<std::size_t> json_length;
    if (const auto h = request.headers.find("inference-header-content-length"); h != request.headers.end()) {
      std::size_t n = 0;
      const auto [end, ec] = std::from_chars(h->second.data(), h->second.data() + h->second.size(), n);
      if (ec != std::errc() || end != h->second.data() + h->second.size())
        fail("Inference-Header-Content-Length '{}' is not a byte count", h->second);
      json_length = n;
    }
    parsed = parse_infer_request(request.body, json_length, max_tensor_bytes_);
    std::optional<std::int64_t> timeout_us;
    if (const auto h = request.headers.find("timeout"); h != request.headers.end()) timeout_us = microseconds(h->second, "the Timeout header");
    if (const auto p = parsed.parameters.find("timeout"); p != parsed.parameters.end()) {
      if (!p->is_number_integer() || p->get<std::int64_t>() <= 0) fail("parameter 'timeout' must be a positive count of microseconds, not {}", p->dump());
      timeout_us = p->get<std::int64_t>();
    }
    // At most a day: beyond, the deadline's arithmetic would overflow.
    if (timeout_us) deadline = Clock::now() + std::chrono::microseconds(std::min<std::int64_t>(*timeout_us, 86'400'000'000));
  } catch (const Error& e) {
    refuse(Outcome::bad_request, e.what());
    return {};
  }
  return model.infer(std::move(parsed), deadline, [respond](Reply r) { respond(to_http(std::move(r))); });
}

}  // namespace cpuinfer::serve

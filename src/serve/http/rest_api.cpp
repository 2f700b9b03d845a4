// The Open Inference Protocol's REST routes (serve/http/rest_api.h).
#include "serve/http/rest_api.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>

#include "core/error.h"
#include "serve/server/inference_server.h"

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
  if (r.outcome != Outcome::success) {
    HttpResponse h = error_response(http_status(r.outcome), r.error);
    if (r.outcome == Outcome::queue_full) h.headers.emplace_back("Retry-After", "1");
    return h;
  }
  EncodedBody body = write_infer_response(r.response);
  HttpResponse h{200, "application/json", {}, std::move(body.body)};
  if (body.json_length) {
    h.content_type = "application/octet-stream";
    h.headers.emplace_back("Inference-Header-Content-Length", std::to_string(*body.json_length));
  }
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

// A header's count: of bytes, or of microseconds (positive).
template <typename T> T header_count(const std::string& text, const char* what, bool positive) {
  T v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || (positive && v <= 0)) fail("the {} header '{}' is not {}", what, text,
                                                                                          positive ? "a positive count of microseconds" : "a byte count");
  return v;
}

class RestApi {
 public:
  explicit RestApi(InferenceServer& server) : server_(server) {}
  std::function<void()> handle(HttpRequest request, Respond respond);

 private:
  std::function<void()> infer(ServedModel& model, HttpRequest& request, Respond respond);
  InferenceServer& server_;
};

std::function<void()> RestApi::handle(HttpRequest request, Respond respond) {
  const std::vector<std::string> path = split_path(request.target);
  const bool get = request.method == "GET", post = request.method == "POST";
  auto only = [&](bool method_ok, const char* allowed, const std::function<void()>& f) {
    if (!method_ok) return respond(error_response(405, fmt::format("{} takes {}, not {}", request.target, allowed, request.method)));
    f();
  };
  if (path.size() == 1 && path[0] == "metrics") {
    only(get, "GET", [&] { respond({200, "text/plain; version=0.0.4", {}, server_.metrics_text()}); });
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
      const bool ready = server_.ready();
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
  ServedModel* model = server_.find(path[2], version);
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
      const bool ready = model->ready() && server_.ready();
      return respond(json_response(ready ? 200 : 503, {{"name", model->name()}, {"ready", ready}}));
    }
    respond(json_response(200, model->metadata(server_.versions(model->name()))));
  });
  return {};
}

std::function<void()> RestApi::infer(ServedModel& model, HttpRequest& request, Respond respond) {
  const auto arrival = Clock::now();
  InferRequest parsed;
  std::optional<std::int64_t> timeout_us;
  try {
    std::optional<std::size_t> json_length;
    if (const auto h = request.headers.find(kJsonLengthHeader); h != request.headers.end())
      json_length = header_count<std::size_t>(h->second, "Inference-Header-Content-Length", false);
    if (const auto h = request.headers.find("timeout"); h != request.headers.end())
      timeout_us = header_count<std::int64_t>(h->second, "Timeout", true);
    parsed = parse_infer_request(request.body.view(), json_length, server_.max_tensor_bytes(), request.body.block());
  } catch (const Error& e) {
    if (model.metrics()) model.metrics()->answered(Outcome::bad_request, std::chrono::duration<double>(Clock::now() - arrival).count());
    respond(error_response(400, e.what()));
    return {};
  }
  return server_.submit(model, std::move(parsed), timeout_us, [respond](Reply r) { respond(to_http(std::move(r))); });
}

}  // namespace

int http_status(Outcome outcome) {
  switch (outcome) {
    case Outcome::success: return 200;
    case Outcome::bad_request: return 400;
    case Outcome::queue_full:
    case Outcome::not_ready:
    case Outcome::shutting_down: return 503;
    case Outcome::deadline: return 504;
    case Outcome::failure: return 500;
  }
  return 500;
}

HttpHandler rest_handler(InferenceServer& server) {
  auto api = std::make_shared<RestApi>(server);
  return [api](HttpRequest request, Respond respond) { return api->handle(std::move(request), std::move(respond)); };
}

}  // namespace cpuinfer::serve

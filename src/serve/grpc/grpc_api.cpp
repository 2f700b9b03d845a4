// The Open Inference Protocol's gRPC service (serve/grpc/grpc_api.h).
#include "serve/grpc/grpc_api.h"

#include <fmt/format.h>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <mutex>

#include "core/error.h"
#include "grpc_predict_v2.grpc.pb.h"
#include "serve/protocol/grpc_message.h"
#include "serve/server/inference_server.h"

namespace cpuinfer::serve {

namespace {

grpc::Status status_of(Outcome outcome, const std::string& message) {
  switch (outcome) {
    case Outcome::success: return grpc::Status::OK;
    case Outcome::bad_request: return {grpc::StatusCode::INVALID_ARGUMENT, message};
    case Outcome::queue_full:
    case Outcome::not_ready:
    case Outcome::shutting_down: return {grpc::StatusCode::UNAVAILABLE, message};
    case Outcome::deadline: return {grpc::StatusCode::DEADLINE_EXCEEDED, message};
    case Outcome::failure: break;
  }
  return {grpc::StatusCode::INTERNAL, message};
}

grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status no_model(const std::string& name, const std::string& version) {
  return {grpc::StatusCode::NOT_FOUND, version.empty() ? fmt::format("no model '{}'", name)
                                                       : fmt::format("no version {} of model '{}'", version, name)};
}

// One ModelInfer call. The reply may come from an instance's thread, a cancellation from gRPC's:
// whichever comes first finishes the call, under the lock, and nothing touches the call after
// gRPC is done with it (OnDone).
class InferCall final : public grpc::ServerUnaryReactor {
 public:
  struct Shared {
    std::mutex mutex;
    InferCall* call = nullptr;  // null once gRPC is done with it
    inference::ModelInferResponse* response = nullptr;
    bool finished = false, cancelled = false;
    std::function<void()> cancel;  // takes the request out of the queue
  };

  explicit InferCall(inference::ModelInferResponse* response) : shared_(std::make_shared<Shared>()) {
    shared_->call = this;
    shared_->response = response;
  }
  std::shared_ptr<Shared> shared() const { return shared_; }

  // Finishes the call unless it is finished already. Finish is called without the lock (gRPC may
  // react to it at once); OnDone cannot come before it, so the call is still there.
  static void finish(const std::shared_ptr<Shared>& s, const grpc::Status& status, const InferResponse* response = nullptr) {
    InferCall* call = nullptr;
    {
      const std::lock_guard lock(s->mutex);
      if (s->finished || !s->call) return;
      s->finished = true;
      if (response) write_grpc_response(*response, *s->response);
      call = s->call;
    }
    call->Finish(status);
  }
  static void answer(const std::shared_ptr<Shared>& s, const Reply& r) {
    finish(s, status_of(r.outcome, r.error), r.outcome == Outcome::success ? &r.response : nullptr);
  }
  // After the request was queued: its way out of the queue, used at once if the call was cancelled.
  static void queued(const std::shared_ptr<Shared>& s, std::function<void()> cancel) {
    {
      const std::lock_guard lock(s->mutex);
      if (!s->cancelled) {
        s->cancel = std::move(cancel);
        return;
      }
    }
    if (cancel) cancel();
  }

  void OnCancel() override {
    std::function<void()> cancel;
    {
      const std::lock_guard lock(shared_->mutex);
      shared_->cancelled = true;
      cancel = std::move(shared_->cancel);
    }
    if (cancel) cancel();
    finish(shared_, grpc::Status::CANCELLED);
  }
  void OnDone() override {
    {
      const std::lock_guard lock(shared_->mutex);
      shared_->call = nullptr;
    }
    delete this;
  }

 private:
  std::shared_ptr<Shared> shared_;
};

class Service final : public inference::GRPCInferenceService::CallbackService {
 public:
  explicit Service(InferenceServer& server) : server_(server) {}

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* c, const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* r) override {
    r->set_live(true);
    return finish(c, grpc::Status::OK);
  }
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* c, const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* r) override {
    r->set_ready(server_.ready());
    return finish(c, grpc::Status::OK);
  }
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* c, const inference::ModelReadyRequest* q,
                                       inference::ModelReadyResponse* r) override {
    const ServedModel* m = server_.find(q->name(), q->version());
    if (!m) return finish(c, no_model(q->name(), q->version()));
    r->set_ready(m->ready() && server_.ready());
    return finish(c, grpc::Status::OK);
  }
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* c, const inference::ServerMetadataRequest*,
                                           inference::ServerMetadataResponse* r) override {
    r->set_name("cpuinfer");
    r->set_version(CPUINFER_VERSION);
    return finish(c, grpc::Status::OK);
  }
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* c, const inference::ModelMetadataRequest* q,
                                          inference::ModelMetadataResponse* r) override {
    const ServedModel* m = server_.find(q->name(), q->version());
    if (!m) return finish(c, no_model(q->name(), q->version()));
    const nlohmann::json meta = m->metadata(server_.versions(m->name()));
    r->set_name(m->name());
    for (const auto& v : meta["versions"]) r->add_versions(v.get<std::string>());
    r->set_platform(meta["platform"].get<std::string>());
    auto tensors = [](const nlohmann::json& from, auto* to) {
      for (const auto& t : from) {
        auto* x = to->Add();
        x->set_name(t["name"].get<std::string>());
        x->set_datatype(t["datatype"].get<std::string>());
        for (const auto& d : t["shape"]) x->add_shape(d.get<std::int64_t>());
      }
    };
    tensors(meta["inputs"], r->mutable_inputs());
    tensors(meta["outputs"], r->mutable_outputs());
    return finish(c, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* c, const inference::ModelInferRequest* q,
                                       inference::ModelInferResponse* r) override {
    auto* call = new InferCall(r);
    const auto shared = call->shared();
    ServedModel* model = server_.find(q->model_name(), q->model_version());
    if (!model) {
      InferCall::finish(shared, no_model(q->model_name(), q->model_version()));
      return call;
    }
    const auto arrival = Clock::now();
    InferRequest request;
    try {
      request = read_grpc_request(*q, server_.max_tensor_bytes());
    } catch (const Error& e) {
      if (model->metrics()) model->metrics()->answered(Outcome::bad_request, std::chrono::duration<double>(Clock::now() - arrival).count());
      InferCall::finish(shared, {grpc::StatusCode::INVALID_ARGUMENT, e.what()});
      return call;
    }
    std::optional<std::int64_t> timeout_us;
    if (c->deadline() != std::chrono::system_clock::time_point::max())
      timeout_us = std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(c->deadline() - std::chrono::system_clock::now()).count());
    InferCall::queued(shared, server_.submit(*model, std::move(request), timeout_us,
                                             [shared](Reply reply) { InferCall::answer(shared, reply); }));
    return call;
  }

 private:
  InferenceServer& server_;
};

// gRPC's own log lines go to spdlog at debug level: the server reports what matters itself, in
// one line (a port in use is a cpuinfer::Error, not gRPC's multi-line dump before it).
void grpc_log(gpr_log_func_args* args) {
  if (auto logger = spdlog::default_logger_raw()) logger->debug("event=grpc_log file={}:{} message=\"{}\"", args->file, args->line, args->message);
}

}  // namespace

struct GrpcServer::State {
  explicit State(InferenceServer& s) : service(s) {}
  Service service;
  std::unique_ptr<grpc::Server> server;
  bool shut_down = false;
};

GrpcServer::GrpcServer(InferenceServer& server, const std::string& address, std::uint16_t port, std::size_t max_message_bytes)
    : state_(std::make_unique<State>(server)) {
  gpr_set_log_function(grpc_log);
  grpc::ServerBuilder builder;
  int selected = 0;
  const std::string where = address.find(':') != std::string::npos ? fmt::format("[{}]:{}", address, port) : fmt::format("{}:{}", address, port);
  builder.AddListeningPort(where, grpc::InsecureServerCredentials(), &selected);
  builder.RegisterService(&state_->service);
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<std::size_t>(max_message_bytes, std::numeric_limits<int>::max())));
  builder.SetMaxSendMessageSize(-1);
  // gRPC sets SO_REUSEPORT by default: a second server on a port in use would share it silently
  // (each getting part of the calls) instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  state_->server = builder.BuildAndStart();
  if (!state_->server || selected == 0) fail("gRPC: cannot listen on {} (in use, or not an address of this machine)", where);
  port_ = static_cast<std::uint16_t>(selected);
}

GrpcServer::~GrpcServer() { shutdown(std::chrono::milliseconds(0)); }

void GrpcServer::shutdown(std::chrono::milliseconds within) {
  if (state_->shut_down) return;
  state_->shut_down = true;
  state_->server->Shutdown(std::chrono::system_clock::now() + within);
  state_->server->Wait();
}

}  // namespace cpuinfer::serve

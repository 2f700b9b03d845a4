#include "loadgen/grpc_target.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "grpc_predict_v2.grpc.pb.h"
#include "loadgen/query_stats.h"
#include "loadgen/remote_requests.h"
#include "serve/protocol/grpc_message.h"

namespace cpuinfer::loadgen {

namespace {

constexpr std::size_t kMaxResponseBytes = std::size_t{1} << 30;

struct Call {
  grpc::ClientContext context;
  inference::ModelInferResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<inference::ModelInferResponse>> reader;
  std::vector<std::size_t> samples;
  bool check = false;
  QueryDone done;
};

std::chrono::system_clock::time_point after(double seconds) {
  return std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

struct GrpcTarget::State {
  Endpoint endpoint;
  const ExpectedOutputs* expected;
  double timeout_s;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub;
  std::unique_ptr<RemoteRequests> requests;
  nlohmann::ordered_json server;
  grpc::CompletionQueue cq;
  std::thread thread;
  std::mutex mutex;  // guards what follows
  std::condition_variable quiet;
  std::map<std::vector<std::size_t>, std::shared_ptr<const inference::ModelInferRequest>> messages;
  std::set<Call*> out;

  std::shared_ptr<const inference::ModelInferRequest> message(const std::vector<std::size_t>& samples) {
    {
      const std::lock_guard lock(mutex);
      if (const auto m = messages.find(samples); m != messages.end()) return m->second;
    }
    auto m = std::make_shared<inference::ModelInferRequest>();
    serve::write_grpc_request(requests->request(samples), endpoint.model, endpoint.version, *m);
    const std::lock_guard lock(mutex);
    return messages.emplace(samples, std::move(m)).first->second;
  }

  void poll() {
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
      std::unique_ptr<Call> call(static_cast<Call*>(tag));
      {
        const std::lock_guard lock(mutex);
        out.erase(call.get());
      }
      quiet.notify_all();
      std::optional<std::string> error;
      if (!call->status.ok()) {
        error = fmt::format("gRPC {}: {}", static_cast<int>(call->status.error_code()), call->status.error_message());
      } else if (call->check) {
        try {
          error = requests->check(call->samples, serve::read_grpc_response(call->response, kMaxResponseBytes), expected);
        } catch (const std::exception& e) {
          error = wrong_answer(fmt::format("the answer cannot be read: {}", e.what()));
        }
      }
      call->done(std::move(error));
    }
  }
};

GrpcTarget::GrpcTarget(const Endpoint& endpoint, const Workload& workload, const ExpectedOutputs* expected, double timeout_s)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.endpoint = endpoint;
  s.expected = expected;
  s.timeout_s = timeout_s;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  const std::string address = endpoint.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", endpoint.host, endpoint.port)
                                                                          : fmt::format("{}:{}", endpoint.host, endpoint.port);
  s.channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  s.stub = inference::GRPCInferenceService::NewStub(s.channel);
  const auto unary = [&](auto method, const auto& request, auto& response, const char* what) {
    grpc::ClientContext context;
    context.set_deadline(after(timeout_s));
    const grpc::Status status = (s.stub.get()->*method)(&context, request, &response);
    if (!status.ok()) fail("{}: {}: gRPC {}: {}", endpoint.text(), what, static_cast<int>(status.error_code()), status.error_message());
  };
  inference::ServerMetadataResponse server;
  unary(&inference::GRPCInferenceService::Stub::ServerMetadata, inference::ServerMetadataRequest{}, server, "ServerMetadata");
  s.server = {{"name", server.name()}, {"version", server.version()}};
  inference::ModelMetadataRequest ask;
  ask.set_name(endpoint.model);
  ask.set_version(endpoint.version);
  inference::ModelMetadataResponse meta;
  unary(&inference::GRPCInferenceService::Stub::ModelMetadata, ask, meta, "ModelMetadata");
  std::vector<ModelInput> inputs;
  for (const auto& in : meta.inputs()) inputs.push_back({in.name(), in.datatype()});
  s.requests = std::make_unique<RemoteRequests>(workload, endpoint.model, inputs);
  for (std::size_t k = 0; k < (expected ? expected->size() : 0); ++k) s.message({k});
  s.thread = std::thread([&s] { s.poll(); });
}

GrpcTarget::~GrpcTarget() {
  cancel_queued();
  {
    std::unique_lock lock(state_->mutex);
    state_->quiet.wait(lock, [&] { return state_->out.empty(); });
  }
  state_->cq.Shutdown();
  state_->thread.join();
}

nlohmann::ordered_json GrpcTarget::description() const {
  return {{"kind", "grpc"}, {"url", state_->endpoint.text()}, {"server", state_->server}};
}

void GrpcTarget::issue(const std::vector<std::size_t>& samples, bool check, QueryDone done) {
  State& s = *state_;
  const auto message = s.message(samples);
  auto call = std::make_unique<Call>();
  call->samples = samples;
  call->check = check;
  call->done = std::move(done);
  call->context.set_deadline(after(s.timeout_s));
  call->reader = s.stub->PrepareAsyncModelInfer(&call->context, *message, &s.cq);
  // Under the lock: the answer (which erases it from `out`) cannot be taken before it is in.
  const std::lock_guard lock(s.mutex);
  Call* raw = call.release();
  raw->reader->StartCall();
  raw->reader->Finish(&raw->response, &raw->status, raw);
  s.out.insert(raw);
}

void GrpcTarget::cancel_queued() {
  const std::lock_guard lock(state_->mutex);
  for (Call* c : state_->out) c->context.TryCancel();
}

}  // namespace cpuinfer::loadgen

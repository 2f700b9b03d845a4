#include "loadgen/rest_target.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <deque>
#include <map>
#include <thread>

#include "core/error.h"
#include "loadgen/query_stats.h"
#include "loadgen/remote_requests.h"
#include "serve/protocol/infer_message.h"

namespace cpuinfer::loadgen {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kMaxResponseBytes = std::size_t{1} << 30;

struct Query {
  std::vector<std::size_t> samples;
  bool check = false;
  QueryDone done;
  bool resent = false;  // sent again once, after a kept-alive connection turned out closed
};

using Request = http::request<http::string_body>;

// One synchronous GET, for the metadata read before the load: the body of a 200, else an error
// naming the URL.
nlohmann::json get_json(const Endpoint& e, const tcp::resolver::results_type& where, const std::string& path, double timeout_s) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_s)));
  beast::error_code ec;
  const std::string url = fmt::format("http://{}:{}{}", e.host, e.port, path);
  stream.connect(where, ec);
  if (ec) fail("cannot reach {}: {}", url, ec.message());
  http::request<http::empty_body> request(http::verb::get, path, 11);
  request.set(http::field::host, fmt::format("{}:{}", e.host, e.port));
  http::write(stream, request, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (!ec) http::read(stream, buffer, response, ec);
  if (ec) fail("{}: {}", url, ec.message());
  const auto body = nlohmann::json::parse(response.body(), nullptr, false);
  if (response.result_int() != 200) {
    const std::string why = body.is_object() && body.contains("error") && body["error"].is_string() ? body["error"].get<std::string>() : response.body().substr(0, 200);
    fail("{}: HTTP {}: {}", url, response.result_int(), why);
  }
  if (body.is_discarded()) fail("{}: the answer is not JSON", url);
  return body;
}

}  // namespace

struct RestTarget::State : std::enable_shared_from_this<RestTarget::State> {
  State(const Endpoint& e, const Workload& w, const ExpectedOutputs* x, int connections, double timeout)
      : endpoint(e), workload(w), expected(x), max_connections(std::max(1, connections)), timeout_s(timeout) {}

  class Connection;

  Endpoint endpoint;
  const Workload& workload;
  const ExpectedOutputs* expected;
  int max_connections;
  double timeout_s;
  net::io_context io;
  net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
  tcp::resolver::results_type where;
  std::string infer_path;
  std::unique_ptr<RemoteRequests> requests;
  nlohmann::ordered_json server;
  // On the I/O thread only:
  std::map<std::vector<std::size_t>, std::shared_ptr<const Request>> made;  // written as they are, on any connection
  std::deque<Query> pending;
  std::vector<std::shared_ptr<Connection>> idle;
  int open = 0;
  std::thread thread;

  std::shared_ptr<const Request> request(const std::vector<std::size_t>& samples) {
    auto& slot = made[samples];
    if (!slot) {
      const serve::EncodedBody b = serve::write_infer_request(requests->request(samples));
      auto r = std::make_shared<Request>(http::verb::post, infer_path, 11);
      r->set(http::field::host, fmt::format("{}:{}", endpoint.host, endpoint.port));
      r->set(http::field::content_type, "application/octet-stream");
      r->set("Inference-Header-Content-Length", std::to_string(*b.json_length));
      r->keep_alive(true);
      r->body() = b.body;
      r->prepare_payload();
      slot = std::move(r);
    }
    return slot;
  }
  void dispatch();
  void finish(Query& q, int status, const std::string& body, const std::string& json_length);
};

class RestTarget::State::Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Room for 64 KiB a read: Beast reads at most the buffer's free capacity at a time.
  explicit Connection(State& s) : state_(s), stream_(s.io) { buffer_.reserve(64 * 1024); }

  void send(Query q) {
    query_ = std::move(q);
    request_ = state_.request(query_.samples);
    stream_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(state_.timeout_s)));
    if (connected_) return write();
    stream_.async_connect(state_.where, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
      if (ec) {
        Query q = std::move(self->query_);
        self->close();
        q.done(fmt::format("{}: cannot connect: {}", self->state_.endpoint.text(), ec.message()));
        return self->state_.dispatch();
      }
      self->connected_ = true;
      beast::error_code ignored;
      self->stream_.socket().set_option(tcp::no_delay(true), ignored);
      self->write();
    });
  }

 private:
  void write() {
    http::async_write(stream_, *request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->failed(ec);
      self->parser_.emplace();
      self->parser_->body_limit(kMaxResponseBytes);
      http::async_read(self->stream_, self->buffer_, *self->parser_, [self](beast::error_code ec, std::size_t) { self->on_read(ec); });
    });
  }
  // The connection is free again before the answer is handed on: a closed loop's next query,
  // sent from the answer, takes it instead of opening another.
  void on_read(beast::error_code ec) {
    if (ec) return failed(ec);
    auto& response = parser_->get();
    const int status = static_cast<int>(response.result_int());
    const std::string json_length(response["Inference-Header-Content-Length"]);
    const std::string body = std::move(response.body());
    Query q = std::move(query_);
    ++answered_;
    if (response.keep_alive()) {
      idle_since_ = std::chrono::steady_clock::now();
      state_.idle.push_back(shared_from_this());
    } else {
      close();
    }
    state_.finish(q, status, body, json_length);
    state_.dispatch();
  }
  // A server closes a kept-alive connection that idled past its timeout (cpuinfer serve's: 60 s),
  // and a request sent on it just then finds it closed before any answer: that query goes again,
  // once, first in line, on a new connection (the other idle connections waited as long: they are
  // dropped too). Any other failure is the query's error.
  void failed(beast::error_code ec) {
    Query q = std::move(query_);
    close();
    const bool closed = ec == http::error::end_of_stream || ec == net::error::connection_reset || ec == net::error::broken_pipe ||
                        ec == net::error::eof;
    if (closed && answered_ > 0 && !q.resent) {
      q.resent = true;
      for (const auto& c : state_.idle) c->close();
      state_.idle.clear();
      state_.pending.push_front(std::move(q));
    } else {
      q.done(fmt::format("{}: {}", state_.endpoint.text(), ec.message()));
    }
    state_.dispatch();
  }

 public:
  // Idle longer than servers commonly keep a connection (30 s): not worth the risk of sending on it.
  bool stale(std::chrono::steady_clock::time_point now) const { return now - idle_since_ > std::chrono::seconds(30); }
  void close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    --state_.open;
  }

 private:
  State& state_;
  beast::tcp_stream stream_;
  bool connected_ = false;
  std::size_t answered_ = 0;  // requests this connection has answered
  std::chrono::steady_clock::time_point idle_since_;
  Query query_;
  std::shared_ptr<const Request> request_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

void RestTarget::State::dispatch() {
  while (!pending.empty()) {
    std::shared_ptr<Connection> c;
    if (!idle.empty()) {
      c = std::move(idle.back());
      idle.pop_back();
      if (c->stale(std::chrono::steady_clock::now())) {
        c->close();
        continue;
      }
    } else if (open < max_connections) {
      c = std::make_shared<Connection>(*this);
      ++open;
    } else {
      return;
    }
    Query q = std::move(pending.front());
    pending.pop_front();
    c->send(std::move(q));
  }
}

void RestTarget::State::finish(Query& q, int status, const std::string& body, const std::string& json_length) {
  std::optional<std::string> error;
  try {
    std::optional<std::size_t> length;
    if (!json_length.empty()) length = std::stoull(json_length);
    if (status != 200) {
      const auto doc = nlohmann::json::parse(body, nullptr, false);
      const std::string why = doc.is_object() && doc.contains("error") && doc["error"].is_string() ? doc["error"].get<std::string>() : body.substr(0, 200);
      error = fmt::format("HTTP {}: {}", status, why);
    } else if (q.check) {
      error = requests->check(q.samples, serve::parse_infer_response(body, length, kMaxResponseBytes), expected);
    }
  } catch (const std::exception& e) {
    error = wrong_answer(fmt::format("the answer cannot be read: {}", e.what()));
  }
  q.done(std::move(error));
}

RestTarget::RestTarget(const Endpoint& endpoint, const Workload& workload, const ExpectedOutputs* expected, int max_connections, double timeout_s)
    : state_(std::make_shared<State>(endpoint, workload, expected, max_connections, timeout_s)) {
  beast::error_code ec;
  tcp::resolver resolver(state_->io);
  state_->where = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec) fail("{}: cannot resolve {}: {}", endpoint.text(), endpoint.host, ec.message());
  const nlohmann::json server = get_json(endpoint, state_->where, "/v2", timeout_s);
  state_->server = {{"name", server.value("name", "")}, {"version", server.value("version", "")}};
  const std::string path = fmt::format("/v2/models/{}{}", endpoint.model, endpoint.version.empty() ? "" : "/versions/" + endpoint.version);
  state_->infer_path = path + "/infer";
  const nlohmann::json meta = get_json(endpoint, state_->where, path, timeout_s);
  std::vector<ModelInput> inputs;
  if (!meta.contains("inputs") || !meta["inputs"].is_array()) fail("{}: the model's metadata has no inputs", endpoint.text());
  for (const auto& in : meta["inputs"]) inputs.push_back({in.value("name", ""), in.value("datatype", "")});
  state_->requests = std::make_unique<RemoteRequests>(workload, endpoint.model, inputs);
  for (std::size_t s = 0; s < (expected ? expected->size() : 0); ++s) state_->request({s});
  state_->thread = std::thread([s = state_.get()] { s->io.run(); });
}

RestTarget::~RestTarget() {
  state_->io.stop();
  state_->thread.join();
}

nlohmann::ordered_json RestTarget::description() const {
  return {{"kind", "rest"}, {"url", state_->endpoint.text()}, {"server", state_->server}, {"max_connections", state_->max_connections}};
}

void RestTarget::issue(const std::vector<std::size_t>& samples, bool check, QueryDone done) {
  // From an answer (a closed loop's next query) this runs at once, on the I/O thread.
  net::dispatch(state_->io, [s = state_.get(), q = Query{samples, check, std::move(done)}]() mutable {
    s->pending.push_back(std::move(q));
    s->dispatch();
  });
}

void RestTarget::cancel_queued() {
  net::post(state_->io, [s = state_.get()] {
    for (Query& q : s->pending) q.done("not sent: the load ended first");
    s->pending.clear();
  });
}

}  // namespace cpuinfer::loadgen

// The HTTP/1.1 server on Boost.Beast (serve/http/http_server.h). Each connection lives on a strand:
// read a request, hand it to the handler, and while the answer is pending watch the socket, so a
// client that closes is noticed; write the answer; read the next one.
#include "serve/http/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>

#include "core/error.h"

namespace cpuinfer::serve {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpServer::State {
  State(HttpLimits l, HttpHandler h) : limits(l), handler(std::move(h)) {}
  net::io_context ioc;
  // The acceptor and its back-off timer live on one strand: accepting, pausing and closing never race.
  tcp::acceptor acceptor{net::make_strand(ioc)};
  net::steady_timer accept_pause{acceptor.get_executor()};
  HttpLimits limits;
  HttpHandler handler;
  std::atomic<bool> accepting{true};
  std::atomic<int> in_flight{0};  // requests read and not yet answered on the wire
  std::uint16_t port = 0;
  std::vector<std::thread> threads;
};

namespace {

std::string error_json(const std::string& message) {
  std::string escaped;
  for (char c : message) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) escaped += c;
  }
  return "{\"error\": \"" + escaped + "\"}";
}

// Beast's Body for a RequestBody: the parser puts the bytes it reads straight into the aligned
// block, laid out by the limits' aligned_after_header once the header is known.
struct AlignedBody {
  struct value_type {
    RequestBody body;
    const std::string* aligned_after_header = nullptr;
  };
  class reader {
   public:
    // Made with the parser, before the header is read: the layout is chosen in init().
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>& h, value_type& b) : fields_(h), value_(b) {}
    // A Content-Length over the limit was refused before this (Beast checks it with the header).
    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      ec = {};
      std::size_t aligned_at = 0;
      if (value_.aligned_after_header && !value_.aligned_after_header->empty()) {
        const auto v = fields_[*value_.aligned_after_header];
        if (std::from_chars(v.data(), v.data() + v.size(), aligned_at).ec != std::errc{}) aligned_at = 0;
      }
      value_.body.reserve(length ? static_cast<std::size_t>(*length) : 0, aligned_at);
    }
    template <class Buffers>
    std::size_t put(const Buffers& buffers, beast::error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        value_.body.append(b.data(), b.size());
        n += b.size();
      }
      return n;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    const http::fields& fields_;
    value_type& value_;
  };
};

constexpr std::size_t kReadBytes = 64 * 1024;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Beast reads at most the buffer's free capacity (at least 512 bytes) at a time: without room
  // reserved, a 600 KB body took 1,200 reads and 6.5 ms on loopback; with 64 KiB, 10 reads.
  Connection(tcp::socket socket, HttpServer::State& state) : stream_(std::move(socket)), state_(state) { buffer_.reserve(kReadBytes); }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  // One request in flight: answered once; its leave action runs if the client goes first.
  struct Pending {
    std::atomic<bool> answered{false};
    std::function<void()> on_leave;
  };

  void read() {
    parser_.emplace();
    parser_->get().body().aligned_after_header = &state_.limits.aligned_after_header;
    parser_->body_limit(state_.limits.max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(std::chrono::seconds(state_.limits.read_timeout_s));
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  // A client that asks before sending its body (curl does past 1 MiB) is told to go on: without
  // the interim 100 it would wait a second first. A body over the limit was refused with the
  // header (its Content-Length).
  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    if (!beast::iequals(parser_->get()[http::field::expect], "100-continue")) return read_body();
    auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    http::async_write(stream_, *go_on, [self = shared_from_this(), go_on](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->read_body();
    });
  }
  void read_body() {
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted)
      return close();
    if (ec) {
      keep_alive_ = false;
      const std::string what = ec == http::error::body_limit
                                   ? "the request body exceeds " + std::to_string(state_.limits.max_body_bytes) + " bytes"
                                   : "malformed HTTP request: " + ec.message();
      return write({400, "application/json", {}, error_json(what)});
    }
    stream_.expires_never();
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers[name] = std::string(field.value());
    }
    request.body = std::move(message.body().body);
    auto pending = std::make_shared<Pending>();
    ++state_.in_flight;
    in_flight_ = true;
    Respond respond = [self = shared_from_this(), pending](HttpResponse r) {
      if (pending->answered.exchange(true)) return;
      // On the connection's strand already (an answer the handler gives at once) this writes
      // inline; from another thread (an instance's) it is queued to the strand.
      net::dispatch(self->stream_.get_executor(), [self, r = std::move(r)]() mutable { self->write(std::move(r)); });
    };
    try {
      pending->on_leave = state_.handler(std::move(request), respond);
    } catch (const std::exception& e) {  // the handler's own failure: a 500, never the server's end
      respond({500, "application/json", {}, error_json(std::string("the server failed: ") + e.what())});
    }
    if (!pending->answered) watch(pending);
  }

  // Until the answer, a readable socket means the client closed (or sent its next request early).
  // The peek must not block: readiness can be stale (the reactor's edge from bytes an earlier read
  // took), and a blocking peek would then hold this connection's strand, and its answer, forever.
  void watch(const std::shared_ptr<Pending>& pending) {
    beast::error_code ignored;
    stream_.socket().non_blocking(true, ignored);
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this(), pending](beast::error_code ec) {
      if (ec || pending->answered) return;
      char byte = 0;
      beast::error_code peek;
      const std::size_t n = self->stream_.socket().receive(net::buffer(&byte, 1), tcp::socket::message_peek, peek);
      if (peek == net::error::would_block || peek == net::error::try_again) return self->watch(pending);
      if (n > 0 && !peek) return;  // the next request, pipelined: read after this answer
      if (!pending->answered.exchange(true)) {
        if (pending->on_leave) pending->on_leave();
        self->close();
      }
    });
  }

  // The request read last is answered (or its client left).
  void done() {
    if (in_flight_) --state_.in_flight;
    in_flight_ = false;
  }

  void write(HttpResponse r) {
    auto response = std::make_shared<http::response<http::string_body>>();
    response->version(11);
    response->result(static_cast<unsigned>(r.status));
    response->set(http::field::server, "cpuinfer");
    response->set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) response->set(name, value);
    response->body() = std::move(r.body);
    response->keep_alive(keep_alive_ && state_.accepting);
    response->prepare_payload();
    stream_.expires_after(std::chrono::seconds(state_.limits.read_timeout_s));
    http::async_write(stream_, *response, [self = shared_from_this(), response](beast::error_code ec, std::size_t) {
      self->done();
      if (ec) return self->close();
      if (!response->keep_alive()) return self->linger();
      self->read();
    });
  }

  // Closes after the client has read the answer: our side first, then what the client still sends
  // (a body we refused) is read and dropped until it closes or 5 s pass, so that closing with
  // unread bytes does not reset the connection before the client reads the answer.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(5));
    discard_.resize(64 * 1024);
    drop();
  }
  void drop() {
    stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->drop();
    });
  }

  void close() {
    done();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  HttpServer::State& state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<AlignedBody>> parser_;
  std::vector<char> discard_;
  bool keep_alive_ = true, in_flight_ = false;
};

void accept(HttpServer::State& state) {
  state.acceptor.async_accept(net::make_strand(state.ioc), [&state](beast::error_code ec, tcp::socket socket) {
    if (!state.accepting) return;
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // answers go out at once, not after an ACK
      std::make_shared<Connection>(std::move(socket), state)->start();
      return accept(state);
    }
    // Out of file descriptors, ...: accepting again at once would spin; wait for connections to close.
    state.accept_pause.expires_after(std::chrono::milliseconds(50));
    state.accept_pause.async_wait([&state](beast::error_code) { accept(state); });
  });
}

}  // namespace

HttpServer::HttpServer(const std::string& address, std::uint16_t port, int threads, HttpLimits limits, HttpHandler handler)
    : state_(std::make_unique<State>(limits, std::move(handler))) {
  beast::error_code ec;
  const auto ip = net::ip::make_address(address, ec);
  if (ec) fail("HTTP address '{}': {}", address, ec.message());
  const tcp::endpoint endpoint(ip, port);
  auto& a = state_->acceptor;
  if (a.open(endpoint.protocol(), ec); !ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("cannot listen on {}:{} for HTTP: {}", address, port, ec.message());
  state_->port = a.local_endpoint().port();
  accept(*state_);
  for (int i = 0; i < std::max(1, threads); ++i) state_->threads.emplace_back([s = state_.get()] { s->ioc.run(); });
}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::port() const { return state_->port; }

bool HttpServer::drain(std::chrono::milliseconds within) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (state_->in_flight > 0) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void HttpServer::stop_accepting() {
  state_->accepting = false;
  net::post(state_->acceptor.get_executor(), [s = state_.get()] {
    beast::error_code ignored;
    s->acceptor.close(ignored);
    s->accept_pause.cancel();
  });
}

void HttpServer::stop() {
  if (state_->threads.empty()) return;
  stop_accepting();
  state_->ioc.stop();
  for (std::thread& t : state_->threads) t.join();
  state_->threads.clear();
}

}  // namespace cpuinfer::serve

// An asynchronous HTTP/1.1 server (Boost.Beast): keep-alive connections, bounded header and body
// sizes and read times, answers that may come later from any thread, and a client that closes its
// connection while its request is in flight reported to the handler (so that a queued request can
// leave the queue). It knows nothing of the protocol: one handler answers every request.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "serve/http/request_body.h"

namespace cpuinfer::serve {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v2/models/m/infer?x=1"
  std::map<std::string, std::string> headers;  // names in lower case
  RequestBody body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Answers its request once, from any thread; later calls and calls after the client left do nothing.
using Respond = std::function<void(HttpResponse)>;
// Returns what to do if the client leaves before the answer (may be empty).
using HttpHandler = std::function<std::function<void()>(HttpRequest, Respond)>;

struct HttpLimits {
  std::size_t max_body_bytes = std::size_t{64} << 20;
  std::uint32_t read_timeout_s = 60;  // a request's header and body must arrive within this
  // A header (lower case) whose value, a byte count, is where the body's aligned part begins: the
  // binary tensor extension's inference-header-content-length. Empty, absent or not a count: the
  // body's first byte is aligned.
  std::string aligned_after_header;
};

class HttpServer {
 public:
  // Listens on address:port (port 0: any free port), served by `threads` threads. Throws
  // cpuinfer::Error naming the address when it cannot listen.
  HttpServer(const std::string& address, std::uint16_t port, int threads, HttpLimits limits, HttpHandler handler);
  ~HttpServer();  // stop()
  std::uint16_t port() const;
  // Stops accepting; open connections finish their current answer, then close.
  void stop_accepting();
  // Waits until every request read has been answered on the wire (or its client left); false if
  // some are still pending after `within`.
  bool drain(std::chrono::milliseconds within);
  // Closes everything and joins the threads.
  void stop();

  struct State;  // the implementation's (connections reach it)

 private:
  std::unique_ptr<State> state_;
};

}  // namespace cpuinfer::serve

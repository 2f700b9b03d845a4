// The HTTP server's reading of bodies (serve/http/http_server.h): a body sent with Content-Length
// or in chunks arrives whole, in an aligned block laid out by HttpLimits::aligned_after_header.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <istream>
#include <mutex>
#include <string>
#include <vector>

#include "serve/http/http_server.h"

namespace cpuinfer::serve {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Seen {
  std::string body;
  std::size_t misalignment;  // of the byte the header names
};

// Sends raw HTTP/1.1 on one connection and returns the status line of the answer.
std::string send(std::uint16_t port, const std::string& raw) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  net::write(socket, net::buffer(raw));
  net::streambuf answer;
  net::read_until(socket, answer, "\r\n");
  std::istream in(&answer);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(HttpServer, BodiesArriveWholeWithTheNamedByteOnABoundary) {
  std::mutex m;
  std::vector<Seen> seen;
  HttpServer server("127.0.0.1", 0, 1, HttpLimits{.aligned_after_header = "x-split"}, [&](HttpRequest request, Respond respond) {
    std::size_t split = 0;
    if (const auto h = request.headers.find("x-split"); h != request.headers.end() && std::isdigit(h->second[0])) split = std::stoul(h->second);
    {
      std::lock_guard lock(m);
      seen.push_back({std::string(request.body.view()), reinterpret_cast<std::uintptr_t>(request.body.view().data() + split) % 64});
    }
    respond({200, "text/plain", {}, "ok"});
    return std::function<void()>{};
  });
  std::string body;
  for (int i = 0; i < 100000; ++i) body += static_cast<char>('a' + i % 26);
  const std::string head = "POST /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n";
  EXPECT_EQ(send(server.port(), head + "X-Split: 37\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body), "HTTP/1.1 200 OK\r");
  std::string chunked = head + "X-Split: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0; at < body.size(); at += 7000) {
    const std::string piece = body.substr(at, 7000);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    chunked += size + piece + "\r\n";
  }
  EXPECT_EQ(send(server.port(), chunked + "0\r\n\r\n"), "HTTP/1.1 200 OK\r");
  EXPECT_EQ(send(server.port(), head + "X-Split: many\r\nContent-Length: 3\r\n\r\nabc"), "HTTP/1.1 200 OK\r");
  server.stop();
  ASSERT_EQ(seen.size(), 3u);
  for (const Seen& s : seen) EXPECT_EQ(s.misalignment, 0u);
  EXPECT_EQ(seen[0].body, body);
  EXPECT_EQ(seen[1].body, body);
  EXPECT_EQ(seen[2].body, "abc");
}

}  // namespace
}  // namespace cpuinfer::serve

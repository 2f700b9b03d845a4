#include "loadgen/endpoint.h"

#include <fmt/format.h>

#include <charconv>
#include <vector>

#include "core/error.h"

namespace cpuinfer::loadgen {

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (at < path.size()) {
    const std::size_t slash = path.find('/', at);
    const std::size_t end = slash == std::string::npos ? path.size() : slash;
    if (end > at) parts.push_back(path.substr(at, end - at));
    at = end + 1;
  }
  return parts;
}

}  // namespace

std::string Endpoint::text() const {
  if (scheme == "grpc") return fmt::format("grpc://{}:{}/{}{}", host, port, model, version.empty() ? "" : "/" + version);
  return fmt::format("http://{}:{}/v2/models/{}{}", host, port, model, version.empty() ? "" : "/versions/" + version);
}

Endpoint parse_endpoint(const std::string& url) {
  const auto usage = [&](const std::string& why) {
    fail("--url '{}': {} (use http://HOST:PORT/v2/models/M[/versions/V] or grpc://HOST:PORT/M[/V])", url, why);
  };
  Endpoint e;
  const std::size_t colon = url.find("://");
  if (colon == std::string::npos) usage("no scheme");
  e.scheme = url.substr(0, colon);
  if (e.scheme != "http" && e.scheme != "grpc") usage(fmt::format("scheme '{}' is neither http nor grpc", e.scheme));
  const std::string rest = url.substr(colon + 3);
  const std::size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  const std::size_t port_colon = authority.rfind(':');
  if (port_colon == std::string::npos || port_colon == 0) usage("no HOST:PORT");
  e.host = authority.substr(0, port_colon);
  if (e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
  const std::string port = authority.substr(port_colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) usage(fmt::format("port '{}' is not a port", port));
  e.port = static_cast<std::uint16_t>(value);
  const std::vector<std::string> parts = split_path(path);
  if (e.scheme == "http") {
    if (!(parts.size() == 3 || (parts.size() == 5 && parts[3] == "versions")) || parts[0] != "v2" || parts[1] != "models")
      usage("the path is not /v2/models/M or /v2/models/M/versions/V");
    e.model = parts[2];
    if (parts.size() == 5) e.version = parts[4];
  } else {
    if (parts.empty() || parts.size() > 2) usage("the path is not /M or /M/V");
    e.model = parts[0];
    if (parts.size() == 2) e.version = parts[1];
  }
  return e;
}

}  // namespace cpuinfer::loadgen

// loadgen's --url (loadgen/endpoint.h): what it takes, and one line naming what is wrong otherwise.
#include <gtest/gtest.h>

#include "core/error.h"
#include "loadgen/endpoint.h"

namespace cpuinfer::loadgen {
namespace {

std::string error_of(const std::string& url) {
  try {
    parse_endpoint(url);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Endpoint, RestAndGrpcAddresses) {
  const Endpoint r = parse_endpoint("http://127.0.0.1:8080/v2/models/resnet101");
  EXPECT_EQ(r.scheme, "http");
  EXPECT_EQ(r.host, "127.0.0.1");
  EXPECT_EQ(r.port, 8080);
  EXPECT_EQ(r.model, "resnet101");
  EXPECT_EQ(r.version, "");
  EXPECT_EQ(parse_endpoint("http://localhost:1/v2/models/m/versions/3").version, "3");
  const Endpoint g = parse_endpoint("grpc://[::1]:9000/bert/2");
  EXPECT_EQ(g.host, "::1");
  EXPECT_EQ(g.model, "bert");
  EXPECT_EQ(g.version, "2");
  EXPECT_EQ(g.text(), "grpc://::1:9000/bert/2");
  EXPECT_EQ(r.text(), "http://127.0.0.1:8080/v2/models/resnet101");
}

TEST(Endpoint, AWrongUrlIsOneLineNamingIt) {
  const std::string use = " (use http://HOST:PORT/v2/models/M[/versions/V] or grpc://HOST:PORT/M[/V])";
  EXPECT_EQ(error_of("127.0.0.1:8080"), "--url '127.0.0.1:8080': no scheme" + use);
  EXPECT_EQ(error_of("https://h:1/v2/models/m"), "--url 'https://h:1/v2/models/m': scheme 'https' is neither http nor grpc" + use);
  EXPECT_EQ(error_of("http://h/v2/models/m"), "--url 'http://h/v2/models/m': no HOST:PORT" + use);
  EXPECT_EQ(error_of("http://h:99999/v2/models/m"), "--url 'http://h:99999/v2/models/m': port '99999' is not a port" + use);
  EXPECT_EQ(error_of("http://h:80/v2/m"), "--url 'http://h:80/v2/m': the path is not /v2/models/M or /v2/models/M/versions/V" + use);
  EXPECT_EQ(error_of("grpc://h:80/"), "--url 'grpc://h:80/': the path is not /M or /M/V" + use);
}

}  // namespace
}  // namespace cpuinfer::loadgen

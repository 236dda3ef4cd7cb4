// HTTP/2 over TLS to backends (a cluster with protocol H2C and tls: a GRPCRoute backend, or an
// h2c/grpc Service port, under a BackendTLSPolicy): the real proxy on loopback, gRPC C++
// clients calling through it with HTTP/2 prior knowledge, and backends serving TLS: xgate-echo's
// gRPC service (gRPC C++, ALPN h2) and its HTTP/1.1 TLS echo (no h2 in ALPN).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/proxy/backend_tls_fixture.h"
#include "tools/conformance/grpc_client.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;

constexpr int kGrpcOk = 0;
constexpr int kGrpcUnavailable = 14;

// The backends' certificate: self-signed (its own CA) for backend.example.
const testing::Pem& BackendCert() {
  static const testing::Pem pem =
      testing::MakeCertificate("backend.example", "DNS:backend.example");
  return pem;
}

std::filesystem::path TestDir() {
  std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / ("backend-h2tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

// The backends live for the whole suite: they never stop, the process ends them.
echo::GrpcEcho* StartGrpcEcho(const std::string& pod, bool tls) {
  echo::GrpcEchoOptions options{{"127.0.0.1:0"}, "web", pod, "", "", {}};
  if (tls) {
    options.tls_cert_pem = BackendCert().cert;
    options.tls_key_pem = BackendCert().key;
  }
  auto grpc = echo::GrpcEcho::Start(options);
  return grpc.ok() ? grpc->release() : nullptr;
}

echo::GrpcEcho* GrpcTls() {
  static echo::GrpcEcho* echo = StartGrpcEcho("grpc-tls-0", true);
  return echo;
}

uint16_t GrpcTlsPort() { return static_cast<uint16_t>(GrpcTls()->ports()[0]); }

uint16_t Http1TlsPort() {
  static uint16_t port = testing::StartTlsEcho(BackendCert(), "tls-0");
  return port;
}

bool WaitFor(const std::function<bool()>& predicate) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::vector<nlohmann::json> ReadLines(const std::filesystem::path& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

class ProxyBackendH2TlsTest : public testing::BackendTlsFixture {
 protected:
  void SetUp() override {
    ASSERT_NE(GrpcTls(), nullptr);
    ASSERT_NE(Http1TlsPort(), 0);
    BackendTlsFixture::SetUp();
  }

  // A cluster NAME speaking HTTP/2 with prior knowledge to `backend_port`.
  api::Cluster* AddH2cCluster(const std::string& name, uint16_t backend_port) {
    api::Cluster* cluster = AddLoopbackCluster(name, backend_port);
    cluster->set_protocol(api::H2C);
    return cluster;
  }

  // The same over TLS, verified with `ca_pem` for backend.example.
  api::Cluster* AddH2TlsCluster(const std::string& name, uint16_t backend_port,
                                const std::string& ca_pem) {
    api::Cluster* cluster = AddH2cCluster(name, backend_port);
    cluster->mutable_tls()->set_ca_pem(ca_pem);
    cluster->mutable_tls()->set_sni("backend.example");
    return cluster;
  }

  conformance::GrpcAnswer Call(const std::string& method = "Echo") {
    int fd = testing::ConnectLoopback(port_);
    EXPECT_GE(fd, 0);
    auto answer =
        conformance::CallGrpcEcho(fd, "grpc.example", method, {{"x-call", "1"}}, absl::Seconds(10));
    EXPECT_TRUE(answer.ok()) << answer.status();
    if (answer.ok()) return *answer;
    conformance::GrpcAnswer failed;
    failed.code = -1;
    return failed;
  }
};

TEST_F(ProxyBackendH2TlsTest, GrpcCallsGoOverVerifiedTlsH2) {
  testing::AddRoute(*vhost_, "grpc", "/", "grpc");
  AddH2TlsCluster("grpc", GrpcTlsPort(), BackendCert().cert);
  Apply();
  for (const char* method : {"Echo", "EchoTwo", "EchoThree"}) {
    conformance::GrpcAnswer answer = Call(method);
    ASSERT_EQ(answer.code, kGrpcOk) << answer.message;
    EXPECT_EQ(answer.fully_qualified_method,
              std::string("/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/") + method);
    EXPECT_EQ(answer.authority, "grpc.example");
    EXPECT_EQ(answer.pod, "grpc-tls-0");
    bool metadata_seen = false;
    for (const auto& [name, value] : answer.metadata) {
      metadata_seen = metadata_seen || (name == "x-call" && value == "1");
    }
    EXPECT_TRUE(metadata_seen);
  }
  EXPECT_EQ(TlsErrors("grpc"), 0u);
  // An HTTP/1.1 client's request to the cluster goes out as HTTP/2 too: the gRPC server
  // answers a GET trailers-only (one HEADERS frame), which reaches the client as a complete
  // 200 with Content-Length 0 (not one that reads to the connection's close).
  testing::Response plain = testing::Get(port_, "grpc.example", "/not.a.Service/Method");
  EXPECT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(plain.headers["grpc-status"], "2");
  EXPECT_EQ(plain.headers["content-length"], "0");
  EXPECT_FALSE(plain.closed);
}

TEST_F(ProxyBackendH2TlsTest, UntrustedCertificateIsUnavailableAndCounted) {
  testing::AddRoute(*vhost_, "wrong-ca", "/", "wrong-ca");
  AddH2TlsCluster("wrong-ca", GrpcTlsPort(),
                  testing::MakeCertificate("other-ca", "DNS:other-ca").cert);
  Apply();
  EXPECT_EQ(Call().code, kGrpcUnavailable);
  EXPECT_GE(TlsErrors("wrong-ca"), 1u);
  EXPECT_EQ(testing::Get(port_, "grpc.example", "/x").status, 502);
}

TEST_F(ProxyBackendH2TlsTest, BackendWithoutH2InAlpnIsRefusedWithTheReason) {
  std::filesystem::path log = TestDir() / "alpn-access.log";
  std::filesystem::remove(log);
  ASSERT_TRUE(AccessLog::Open(log.string()).ok());
  testing::AddRoute(*vhost_, "http1-only", "/", "http1-only");
  AddH2TlsCluster("http1-only", Http1TlsPort(), BackendCert().cert);
  Apply();
  EXPECT_EQ(Call().code, kGrpcUnavailable);
  EXPECT_EQ(testing::Get(port_, "grpc.example", "/x").status, 502);
  EXPECT_GE(TlsErrors("http1-only"), 1u);
  ASSERT_TRUE(WaitFor([&] { return ReadLines(log).size() == 2; }));
  for (const nlohmann::json& line : ReadLines(log)) {
    EXPECT_EQ(line["status"], 502) << line.dump();
    EXPECT_NE(line["error"].get<std::string>().find(
                  "backend chose no protocol in ALPN (h2 offered): no HTTP/2 over TLS"),
              std::string::npos)
        << line.dump();
  }
}

// RequestMirror on gRPC: copies to HTTP/2 clusters go out as HTTP/2 (h2c, or h2 over TLS), so
// a gRPC server answers them; a copy to an HTTP/1.1 cluster of a body without a length (what
// gRPC over HTTP/2 sends) is chunked.
TEST_F(ProxyBackendH2TlsTest, GrpcMirrorsGoOutOverHttp2) {
  static echo::GrpcEcho* mirror_tls = StartGrpcEcho("mirror-tls-0", true);
  static echo::GrpcEcho* mirror_h2c = StartGrpcEcho("mirror-h2c-0", false);
  ASSERT_NE(mirror_tls, nullptr);
  ASSERT_NE(mirror_h2c, nullptr);
  testing::TestUpstream mirror_http1("mirror-http1");
  api::Route* route = testing::AddRoute(*vhost_, "grpc", "/", "grpc");
  for (const char* mirror : {"mirror-tls", "mirror-h2c", "mirror-http1"}) {
    route->add_filters()->mutable_request_mirror()->set_cluster(mirror);
  }
  AddH2TlsCluster("grpc", GrpcTlsPort(), BackendCert().cert);
  AddH2TlsCluster("mirror-tls", static_cast<uint16_t>(mirror_tls->ports()[0]), BackendCert().cert);
  AddH2cCluster("mirror-h2c", static_cast<uint16_t>(mirror_h2c->ports()[0]));
  testing::AddCluster(config_, "mirror-http1", mirror_http1);
  Apply();
  uint64_t primary_before = GrpcTls()->calls();
  uint64_t tls_before = mirror_tls->calls();
  uint64_t h2c_before = mirror_h2c->calls();
  constexpr uint64_t kCalls = 3;
  for (uint64_t i = 0; i < kCalls; ++i) {
    conformance::GrpcAnswer answer = Call();
    ASSERT_EQ(answer.code, kGrpcOk) << answer.message;
    EXPECT_EQ(answer.pod, "grpc-tls-0") << "the mirror's answer is dropped";
  }
  EXPECT_EQ(GrpcTls()->calls() - primary_before, kCalls);
  EXPECT_TRUE(WaitFor([&] { return mirror_tls->calls() - tls_before == kCalls; }))
      << mirror_tls->calls() - tls_before << " mirrored calls over TLS h2";
  EXPECT_TRUE(WaitFor([&] { return mirror_h2c->calls() - h2c_before == kCalls; }))
      << mirror_h2c->calls() - h2c_before << " mirrored calls over h2c";
  EXPECT_EQ(TlsErrors("mirror-tls"), 0u);
  ASSERT_TRUE(mirror_http1.WaitRequests(kCalls));
  for (const auto& request : mirror_http1.requests()) {
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.path, "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo");
    EXPECT_TRUE(request.chunked);
    // An empty EchoRequest: the 5-byte gRPC message prefix of a message of length 0.
    EXPECT_EQ(request.body, std::string(5, '\0'));
  }
}

}  // namespace
}  // namespace xgate::proxy

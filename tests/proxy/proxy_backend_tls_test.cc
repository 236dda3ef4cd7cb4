// TLS to backends (BackendTLSPolicy compiled to Cluster.tls): the real proxy on loopback in
// front of xgate-echo serving TLS. The backend's certificate is verified against the
// cluster's CA bundle and names; a failure is a 502 counted in tls_errors, never plain text.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/proxy/hostile.h"
#include "tests/proxy/test_util.h"
#include "tools/echo/echo.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;

constexpr char kSpiffe[] = "spiffe://cluster.local/ns/web/sa/backend";

// The backend's certificate: self-signed (so it is its own CA) for backend.example, with a
// URI SAN.
const testing::Pem& BackendCert() {
  static const testing::Pem pem = testing::MakeCertificate(
      "backend.example", std::string("DNS:backend.example,URI:") + kSpiffe);
  return pem;
}

// One TLS echo for the whole suite: it never stops, the process ends it.
uint16_t TlsEchoPort() {
  static uint16_t port = [] {
    std::filesystem::path dir =
        std::filesystem::path(::testing::TempDir()) / ("backend-tls-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "tls.crt") << BackendCert().cert;
    std::ofstream(dir / "tls.key") << BackendCert().key;
    echo::EchoConfig config;
    config.listen = {"127.0.0.1:0"};
    config.tls_cert = (dir / "tls.crt").string();
    config.tls_key = (dir / "tls.key").string();
    config.ns = "web";
    config.pod = "tls-0";
    auto* server = new echo::EchoServer(config);
    if (!server->Start().ok()) return uint16_t{0};
    std::thread([server] { server->Serve(); }).detach();
    return static_cast<uint16_t>(server->tcp_ports()[0]);
  }();
  return port;
}

class ProxyBackendTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AccessLog::Disable();
    ASSERT_NE(TlsEchoPort(), 0);
    port_ = testing::FreePort();
    ServerOptions options;
    options.workers = 1;
    options.upstream.connect_timeout = 2s;
    server_ = std::make_unique<Server>(options);
    server_->Start();
    config_.set_generation(1);
    vhost_ = testing::AddVirtualHost(*testing::AddHttpPort(config_, port_, {"127.0.0.1"}), "");
  }

  // A route /NAME to a cluster NAME at the TLS echo with these settings.
  api::UpstreamTls* AddTlsBackend(const std::string& name, const std::string& ca_pem,
                                  const std::string& sni) {
    testing::AddRoute(*vhost_, name, "/" + name, name);
    api::Cluster* cluster = config_.add_clusters();
    cluster->set_name(name);
    api::Endpoint* endpoint = cluster->add_endpoints();
    endpoint->set_address("127.0.0.1");
    endpoint->set_port(TlsEchoPort());
    cluster->mutable_tls()->set_ca_pem(ca_pem);
    cluster->mutable_tls()->set_sni(sni);
    return cluster->mutable_tls();
  }

  void Apply() {
    ASSERT_TRUE(server_->Apply(config_).ok());
    ASSERT_TRUE(server_->WaitApplied(1, 5s));
  }

  uint64_t TlsErrors(const std::string& cluster) {
    api::ProxyStats stats = server_->Stats();
    for (const auto& c : stats.clusters()) {
      if (c.cluster() == cluster) return c.tls_errors();
    }
    return 0;
  }

  uint16_t port_ = 0;
  api::L7Config config_;
  api::VirtualHost* vhost_ = nullptr;
  std::unique_ptr<Server> server_;
};

TEST_F(ProxyBackendTlsTest, VerifiedBackendAnswersAndSeesTheSni) {
  AddTlsBackend("ok", BackendCert().cert, "backend.example");
  Apply();
  for (int i = 0; i < 3; ++i) {  // the pooled TLS connection serves the next ones
    testing::Response r = testing::Get(port_, "gateway.example", "/ok");
    ASSERT_EQ(r.status, 200) << r.body;
    nlohmann::json echo = nlohmann::json::parse(r.body);
    EXPECT_EQ(echo["path"], "/ok");
    EXPECT_EQ(echo["host"], "gateway.example");
    ASSERT_TRUE(echo.contains("tls")) << "the backend was spoken plain text";
    EXPECT_EQ(echo["tls"]["serverName"], "backend.example");
  }
  EXPECT_EQ(TlsErrors("ok"), 0u);
}

TEST_F(ProxyBackendTlsTest, UntrustedCertificateIs502AndCounted) {
  AddTlsBackend("wrong-ca", testing::MakeCertificate("other-ca", "DNS:other-ca").cert,
                "backend.example");
  Apply();
  testing::Response r = testing::Get(port_, "gateway.example", "/wrong-ca");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_GE(TlsErrors("wrong-ca"), 1u);
}

TEST_F(ProxyBackendTlsTest, HostnameNotInTheCertificateIs502) {
  AddTlsBackend("wrong-host", BackendCert().cert, "other.example");
  Apply();
  testing::Response r = testing::Get(port_, "gateway.example", "/wrong-host");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_GE(TlsErrors("wrong-host"), 1u);
}

TEST_F(ProxyBackendTlsTest, SubjectAltNamesReplaceTheHostnameCheck) {
  // The SNI matches no name, but a listed SAN does: accepted (the hostname only selects).
  AddTlsBackend("san-dns", BackendCert().cert, "abc.example")
      ->add_verify_hostnames("backend.example");
  AddTlsBackend("san-uri", BackendCert().cert, "abc.example")->add_verify_uris(kSpiffe);
  // The hostname matches, but the SANs listed do not: refused.
  AddTlsBackend("san-dns-mismatch", BackendCert().cert, "backend.example")
      ->add_verify_hostnames("nope.example");
  AddTlsBackend("san-uri-mismatch", BackendCert().cert, "backend.example")
      ->add_verify_uris("spiffe://cluster.local/ns/web/sa/other");
  Apply();
  for (const char* ok : {"/san-dns", "/san-uri"}) {
    testing::Response r = testing::Get(port_, "gateway.example", ok);
    EXPECT_EQ(r.status, 200) << ok << " " << r.body;
    if (r.status == 200) {
      EXPECT_EQ(nlohmann::json::parse(r.body)["tls"]["serverName"], "abc.example");
    }
  }
  for (const char* refused : {"/san-dns-mismatch", "/san-uri-mismatch"}) {
    EXPECT_EQ(testing::Get(port_, "gateway.example", refused).status, 502) << refused;
  }
}

TEST_F(ProxyBackendTlsTest, PlainClusterToTheSameEndpointDoesNotShareTlsConnections) {
  AddTlsBackend("ok", BackendCert().cert, "backend.example");
  testing::AddRoute(*vhost_, "plain", "/plain", "plain");
  api::Cluster* plain = config_.add_clusters();
  plain->set_name("plain");
  api::Endpoint* endpoint = plain->add_endpoints();
  endpoint->set_address("127.0.0.1");
  endpoint->set_port(TlsEchoPort());
  Apply();
  ASSERT_EQ(testing::Get(port_, "gateway.example", "/ok").status, 200);
  // Plain text to a TLS port fails (the echo drops it), it does not borrow the TLS one.
  EXPECT_GE(testing::Get(port_, "gateway.example", "/plain").status, 500);
  ASSERT_EQ(testing::Get(port_, "gateway.example", "/ok").status, 200);
}

}  // namespace
}  // namespace xgate::proxy

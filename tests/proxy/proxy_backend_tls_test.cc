// TLS to backends (BackendTLSPolicy compiled to Cluster.tls): the real proxy on loopback in
// front of xgate-echo serving TLS. The backend's certificate is verified against the
// cluster's CA bundle and names; a failure is a 502 counted in tls_errors, never plain text.
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "tests/proxy/backend_tls_fixture.h"

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

// One TLS echo for the whole suite.
uint16_t TlsEchoPort() {
  static uint16_t port = testing::StartTlsEcho(BackendCert(), "tls-0");
  return port;
}

class ProxyBackendTlsTest : public testing::BackendTlsFixture {
 protected:
  void SetUp() override {
    ASSERT_NE(TlsEchoPort(), 0);
    BackendTlsFixture::SetUp();
  }

  // A route /NAME to a cluster NAME at the TLS echo with these settings.
  api::UpstreamTls* AddTlsBackend(const std::string& name, const std::string& ca_pem,
                                  const std::string& sni) {
    testing::AddRoute(*vhost_, name, "/" + name, name);
    api::Cluster* cluster = AddLoopbackCluster(name, TlsEchoPort());
    cluster->mutable_tls()->set_ca_pem(ca_pem);
    cluster->mutable_tls()->set_sni(sni);
    return cluster->mutable_tls();
  }
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
  AddLoopbackCluster("plain", TlsEchoPort());
  Apply();
  ASSERT_EQ(testing::Get(port_, "gateway.example", "/ok").status, 200);
  // Plain text to a TLS port fails (the echo drops it), it does not borrow the TLS one.
  EXPECT_GE(testing::Get(port_, "gateway.example", "/plain").status, 500);
  ASSERT_EQ(testing::Get(port_, "gateway.example", "/ok").status, 200);
}

}  // namespace
}  // namespace xgate::proxy

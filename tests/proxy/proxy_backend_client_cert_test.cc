// The Gateway's client certificate to TLS backends (UpstreamTls.client_certificate naming an
// L7Config certificate): the real proxy on loopback in front of xgate-echo serving TLS that
// requires a client certificate from its CA (OpenSSL, SSL_VERIFY_FAIL_IF_NO_PEER_CERT). The
// backend sees the certificate; without it, or with one of another CA, the backend refuses
// (502); a certificate whose key does not match is refused with the config, and the
// previous config keeps serving.
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "tests/proxy/backend_tls_fixture.h"

namespace xgate::proxy {
namespace {

const testing::Pem& BackendCert() {
  static const testing::Pem pem =
      testing::MakeCertificate("backend.example", "DNS:backend.example");
  return pem;
}

const testing::Pem& ClientCa() {
  static const testing::Pem pem = testing::MakeCa("client-ca");
  return pem;
}

const testing::Pem& GatewayClient() {
  static const testing::Pem pem =
      testing::IssueCertificate(ClientCa(), "gateway-client", "DNS:gateway-client");
  return pem;
}

// One TLS echo requiring a client certificate of ClientCa(), for the whole suite.
uint16_t MutualTlsEchoPort() {
  static uint16_t port = testing::StartTlsEcho(BackendCert(), "mtls-0", ClientCa().cert);
  return port;
}

class ProxyBackendClientCertTest : public testing::BackendTlsFixture {
 protected:
  void SetUp() override {
    ASSERT_NE(MutualTlsEchoPort(), 0);
    BackendTlsFixture::SetUp();
  }

  // A route /NAME to a TLS cluster NAME at the echo, presenting `certificate` ("" none).
  void AddBackend(const std::string& name, const std::string& certificate) {
    testing::AddRoute(*vhost_, name, "/" + name, name);
    api::Cluster* cluster = AddLoopbackCluster(name, MutualTlsEchoPort());
    cluster->mutable_tls()->set_ca_pem(BackendCert().cert);
    cluster->mutable_tls()->set_sni("backend.example");
    cluster->mutable_tls()->set_client_certificate(certificate);
  }

  void AddCertificate(api::L7Config& config, const std::string& name, const testing::Pem& pem) {
    api::Certificate* c = config.add_certificates();
    c->set_name(name);
    c->set_cert_pem(pem.cert);
    c->set_key_pem(pem.key);
  }
};

TEST_F(ProxyBackendClientCertTest, TheBackendSeesTheGatewaysCertificate) {
  AddBackend("mtls", "web/client");
  AddCertificate(config_, "web/client", GatewayClient());
  Apply();
  for (int i = 0; i < 2; ++i) {  // the pooled connection serves the next one
    testing::Response r = testing::Get(port_, "gateway.example", "/mtls");
    ASSERT_EQ(r.status, 200) << r.body;
    nlohmann::json tls = nlohmann::json::parse(r.body)["tls"];
    EXPECT_EQ(tls["peerCertificateSubject"], "CN=gateway-client");
    ASSERT_TRUE(tls["peerCertificates"].is_array());
    ASSERT_FALSE(tls["peerCertificates"].empty());
    EXPECT_EQ(tls["peerCertificates"][0], GatewayClient().cert);
  }
  EXPECT_EQ(TlsErrors("mtls"), 0u);
}

TEST_F(ProxyBackendClientCertTest, WithoutACertificateOrWithAnotherCasTheBackendRefuses) {
  AddBackend("none", "");
  AddBackend("other-ca", "web/other");
  AddCertificate(config_, "web/other", testing::MakeCertificate("stranger", "DNS:stranger"));
  Apply();
  for (const char* path : {"/none", "/other-ca"}) {
    testing::Response r = testing::Get(port_, "gateway.example", path);
    EXPECT_EQ(r.status, 502) << path << " " << r.body;
  }
}

TEST_F(ProxyBackendClientCertTest, AKeyThatDoesNotMatchIsRefusedAndThePreviousConfigServes) {
  AddBackend("mtls", "web/client");
  AddCertificate(config_, "web/client", GatewayClient());
  Apply();
  ASSERT_EQ(testing::Get(port_, "gateway.example", "/mtls").status, 200);

  api::L7Config bad = config_;
  bad.set_generation(2);
  testing::Pem mismatched = GatewayClient();
  mismatched.key = testing::MakeCertificate("other", "DNS:other").key;
  bad.mutable_certificates(0)->set_key_pem(mismatched.key);
  absl::Status refused = server_->Apply(bad);
  ASSERT_FALSE(refused.ok());
  std::string message(refused.message());
  EXPECT_NE(message.find("client certificate web/client"), std::string::npos) << message;
  // OpenSSL's own words for it: "tls.key: ... key values mismatch".
  EXPECT_NE(message.find("tls.key"), std::string::npos) << message;
  EXPECT_NE(message.find("mismatch"), std::string::npos) << message;
  EXPECT_EQ(message.find("PRIVATE KEY"), std::string::npos) << "no key in errors";
  EXPECT_EQ(message.find(mismatched.key.substr(40, 24)), std::string::npos);

  api::L7Config unknown = config_;
  unknown.set_generation(3);
  unknown.mutable_clusters(0)->mutable_tls()->set_client_certificate("web/missing");
  refused = server_->Apply(unknown);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("unknown client certificate web/missing"), std::string::npos)
      << refused.message();

  // Generation 1 still serves, with its certificate.
  testing::Response r = testing::Get(port_, "gateway.example", "/mtls");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["tls"]["peerCertificateSubject"], "CN=gateway-client");
}

}  // namespace
}  // namespace xgate::proxy

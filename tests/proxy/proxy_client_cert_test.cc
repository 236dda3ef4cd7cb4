// Frontend client certificate validation (a Gateway's spec.tls.frontend) end to end on
// loopback: real OpenSSL clients with a certificate of the trusted CA, with none, and with
// one of another CA, against AllowValidOnly and AllowInsecureFallback listeners.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/proxy/hostile.h"
#include "tests/proxy/test_util.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/config.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;
using testing::AddCluster;
using testing::AddRoute;
using testing::AddVirtualHost;
using testing::IssueCertificate;
using testing::MakeCa;
using testing::Pem;
using testing::TestUpstream;
using testing::TlsClient;

bool Answered(const std::string& response) { return response.starts_with("HTTP/1.1 200"); }

class ProxyClientCertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AccessLog::Disable();
    port_ = testing::FreePort();
    ServerOptions options;
    options.workers = 1;
    server_ = std::make_unique<Server>(options);
    server_->Start();
  }
  void TearDown() override { server_->Stop(); }

  // One HTTPS port: listener "strict.example" and the catch-all listener "", each with the
  // server certificate and the given validation (nullptr: none).
  api::L7Config Config(TestUpstream& up, const api::ClientValidation* strict,
                       const api::ClientValidation* catch_all) {
    api::L7Config config;
    api::Port* port = config.add_ports();
    port->set_port(port_);
    port->set_protocol(api::Port::HTTPS);
    port->add_addresses("127.0.0.1");
    for (auto [host, validation] :
         {std::pair{"strict.example", strict}, std::pair{"", catch_all}}) {
      AddRoute(*AddVirtualHost(*port, host, host), "r", "/", "ns/up:80");
      api::Listener* listener = port->mutable_listeners(port->listeners_size() - 1);
      listener->add_certificates("ns/server");
      if (validation != nullptr) *listener->mutable_client_validation() = *validation;
    }
    api::Certificate* certificate = config.add_certificates();
    certificate->set_name("ns/server");
    certificate->set_cert_pem(server_cert_.cert + server_ca_.cert);
    certificate->set_key_pem(server_cert_.key);
    AddCluster(config, "ns/up:80", up);
    return config;
  }
  void Apply(api::L7Config config) {
    config.set_generation(++generation_);
    ASSERT_TRUE(server_->Apply(config).ok());
    ASSERT_TRUE(server_->WaitApplied(generation_, 5s));
  }
  api::ClientValidation Validation(bool insecure_fallback) const {
    api::ClientValidation v;
    v.set_ca_pem(client_ca_.cert);
    v.set_allow_insecure_fallback(insecure_fallback);
    return v;
  }
  uint64_t ClientCertificateFailures() {
    api::ProxyStats stats = server_->Stats();
    for (const auto& h : stats.tls_handshakes()) {
      if (h.result() == "failed" && h.reason() == "client_certificate") return h.count();
    }
    return 0;
  }

  Pem server_ca_ = MakeCa("server ca");
  Pem server_cert_ = IssueCertificate(server_ca_, "server", "DNS:*.example,DNS:example");
  Pem client_ca_ = MakeCa("client ca");
  Pem valid_client_ = IssueCertificate(client_ca_, "client", "DNS:client.example");
  Pem other_ca_ = MakeCa("other ca");
  Pem foreign_client_ = IssueCertificate(other_ca_, "foreign", "DNS:client.example");
  uint16_t port_ = 0;
  uint64_t generation_ = 0;
  std::unique_ptr<Server> server_;
};

TEST_F(ProxyClientCertTest, AllowValidOnlyServesOnlyAVerifiedCertificate) {
  TestUpstream up("up");
  api::ClientValidation strict = Validation(false);
  Apply(Config(up, &strict, &strict));
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    TlsClient valid(port_, "strict.example", version, &valid_client_);
    EXPECT_TRUE(Answered(valid.Get("strict.example"))) << version;

    TlsClient none(port_, "strict.example", version, nullptr);
    EXPECT_EQ(none.Get("strict.example"), "") << version;
    EXPECT_EQ(ERR_GET_REASON(none.error()), version == TLS1_3_VERSION
                                                ? SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED
                                                : SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)
        << version;

    TlsClient foreign(port_, "strict.example", version, &foreign_client_);
    EXPECT_EQ(foreign.Get("strict.example"), "") << version;
    EXPECT_EQ(ERR_GET_REASON(foreign.error()), SSL_R_TLSV1_ALERT_UNKNOWN_CA) << version;
  }
  ASSERT_TRUE(up.WaitRequests(2));
  EXPECT_EQ(up.requests().size(), 2u);  // only the verified clients reached the backend
  EXPECT_TRUE(testing::WaitFor([&] { return ClientCertificateFailures() >= 4; }))
      << ClientCertificateFailures();
}

TEST_F(ProxyClientCertTest, AllowInsecureFallbackServesEveryClient) {
  TestUpstream up("up");
  api::ClientValidation fallback = Validation(true);
  Apply(Config(up, &fallback, &fallback));
  for (const Pem* client : std::vector<const Pem*>{&valid_client_, nullptr, &foreign_client_}) {
    TlsClient c(port_, "strict.example", 0, client);
    EXPECT_TRUE(Answered(c.Get("strict.example"))) << (client ? "with a certificate" : "without");
  }
  ASSERT_TRUE(up.WaitRequests(3));
}

// The SNI picks the listener, and with it whether a certificate is asked for.
TEST_F(ProxyClientCertTest, EachListenerOfAPortHasItsOwnValidation) {
  TestUpstream up("up");
  api::ClientValidation strict = Validation(false);
  Apply(Config(up, &strict, nullptr));
  TlsClient open(port_, "open.example");
  EXPECT_TRUE(Answered(open.Get("open.example")));
  TlsClient refused(port_, "strict.example");
  EXPECT_EQ(refused.Get("strict.example"), "");
  TlsClient valid(port_, "strict.example", 0, &valid_client_);
  EXPECT_TRUE(Answered(valid.Get("strict.example")));
}

// A config swap that adds validation applies to new connections at once, and one that trusts
// another CA refuses the certificates of the first.
TEST_F(ProxyClientCertTest, ASwapChangesWhatNewConnectionsNeed) {
  TestUpstream up("up");
  Apply(Config(up, nullptr, nullptr));
  TlsClient before(port_, "strict.example");
  EXPECT_TRUE(Answered(before.Get("strict.example")));

  api::ClientValidation strict = Validation(false);
  Apply(Config(up, &strict, &strict));
  TlsClient after(port_, "strict.example");
  EXPECT_EQ(after.Get("strict.example"), "");

  api::ClientValidation other = strict;
  other.set_ca_pem(other_ca_.cert);
  Apply(Config(up, &other, &other));
  TlsClient old_ca(port_, "strict.example", 0, &valid_client_);
  EXPECT_EQ(old_ca.Get("strict.example"), "");
  TlsClient new_ca(port_, "strict.example", 0, &foreign_client_);
  EXPECT_TRUE(Answered(new_ca.Get("strict.example")));
}

TEST(ProxyClientCertConfig, ACaBundleWithoutCertificatesIsRefusedWithTheListener) {
  Pem ca = MakeCa("ca");
  Pem server = IssueCertificate(ca, "server", "DNS:a.example");
  api::L7Config config;
  api::Port* port = config.add_ports();
  port->set_port(8443);
  port->set_protocol(api::Port::HTTPS);
  api::Listener* listener = port->add_listeners();
  listener->set_gateway_namespace("ns");
  listener->set_gateway_name("gw");
  listener->set_name("https");
  listener->add_certificates("ns/server");
  listener->mutable_client_validation()->set_ca_pem("not a certificate");
  api::Certificate* certificate = config.add_certificates();
  certificate->set_name("ns/server");
  certificate->set_cert_pem(server.cert);
  certificate->set_key_pem(server.key);
  auto built = Config::Build(config, false);
  ASSERT_FALSE(built.ok());
  EXPECT_NE(built.status().message().find("listener ns/gw/https"), std::string::npos)
      << built.status();
  EXPECT_NE(built.status().message().find("no PEM CA certificate"), std::string::npos)
      << built.status();
}

}  // namespace
}  // namespace xgate::proxy

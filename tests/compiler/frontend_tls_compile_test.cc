// A Gateway's frontend client certificate validation compiled into the proxy's listeners: the
// CA bundle and mode on each HTTPS listener it applies to, nothing on the others.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/compiler/compiler.h"
#include "tests/binder/testing.h"

namespace xgate {
namespace {

using testing::BindYaml;

std::string Manifests(const std::string& ca_pem) {
  return absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: xgate}
spec: {controllerName: xgate.dev/node-agent}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: web}
spec:
  gatewayClassName: xgate
  tls:
    frontend:
      default:
        validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}
      perPort:
      - port: 8443
        tls:
          validation:
            mode: AllowInsecureFallback
            caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
      - {port: 9443, tls: {}}
  listeners:
  - {name: strict, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}
  - {name: fallback, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}
  - {name: open, port: 9443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ca, namespace: web}
data:
  ca.crt: |
    )",
                      absl::StrReplaceAll(ca_pem, {{"\n", "\n    "}}), "\n---\n",
                      testing::TlsSecretYaml("web", "cert", testing::SelfSignedCert("server")));
}

const api::Listener* FindListener(const api::L7Config& l7, const std::string& name) {
  for (const auto& port : l7.ports()) {
    for (const auto& l : port.listeners()) {
      if (l.name() == name) return &l;
    }
  }
  return nullptr;
}

TEST(FrontendTlsCompile, EachHttpsListenerCarriesItsValidation) {
  std::string ca = testing::SelfSignedCert("client-ca").cert_pem;
  auto b = BindYaml({Manifests(ca)});
  auto snap = compiler::Compile(b->result, 1);
  const api::Listener* strict = FindListener(snap->l7, "strict");
  ASSERT_NE(strict, nullptr);
  ASSERT_TRUE(strict->has_client_validation());
  EXPECT_EQ(strict->client_validation().ca_pem(), ca);
  EXPECT_FALSE(strict->client_validation().allow_insecure_fallback());
  const api::Listener* fallback = FindListener(snap->l7, "fallback");
  ASSERT_NE(fallback, nullptr);
  ASSERT_TRUE(fallback->has_client_validation());
  EXPECT_TRUE(fallback->client_validation().allow_insecure_fallback());
  const api::Listener* open = FindListener(snap->l7, "open");
  ASSERT_NE(open, nullptr);
  EXPECT_FALSE(open->has_client_validation());
  const api::Listener* http = FindListener(snap->l7, "http");
  ASSERT_NE(http, nullptr);
  EXPECT_FALSE(http->has_client_validation());
}

}  // namespace
}  // namespace xgate

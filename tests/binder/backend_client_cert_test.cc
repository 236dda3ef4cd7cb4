// A Gateway's client certificate to its TLS backends (spec.tls.backend.clientCertificateRef)
// as the binder sees it: the Secret every listener's routes present, and the Gateway's
// ResolvedRefs condition with the reasons the spec and upstream's
// GatewayInvalidTLSBackendConfiguration expect (the Gateway stays Accepted).
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "agent/binder/backend_tls.h"
#include "tests/binder/testing.h"

namespace xgate::binder {
namespace {

using testing::BindYaml;
using testing::Cond;

// A Gateway in infra with an HTTP listener and `backend` as spec.tls.backend.
std::string Gateway(const std::string& backend,
                    const std::string& listeners = "[{name: http, port: 80, protocol: HTTP}]") {
  return absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: xgate}
spec: {controllerName: xgate.dev/node-agent}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: xgate
  listeners: )",
                      listeners, "\n", backend.empty() ? "" : "  tls:\n    backend: " + backend,
                      "\n");
}

const testing::CertPair& Client() {
  static const testing::CertPair pair = testing::SelfSignedCert("client.example");
  return pair;
}

std::string GatewayCond(const testing::Bound& b, const std::string& type) {
  const model::GatewayStatus* g = b.Gateway("infra", "gw");
  return g == nullptr ? "no gateway" : Cond(g->conditions, type);
}

TEST(BackendClientCertificateBinding, ResolvedSecretGoesToEveryListener) {
  auto b = BindYaml({Gateway(R"({clientCertificateRef: {group: "", kind: Secret, name: client}})",
                             "[{name: http, port: 80, protocol: HTTP}, {name: http2, port: 8080, "
                             "protocol: HTTP}]"),
                     testing::TlsSecretYaml("infra", "client", Client())});
  EXPECT_EQ(GatewayCond(*b, "ResolvedRefs"), "True/ResolvedRefs");
  EXPECT_EQ(GatewayCond(*b, "Accepted"), "True/Accepted");
  for (const char* name : {"http", "http2"}) {
    SCOPED_TRACE(name);
    const BoundListener* l = b->BoundListener("infra", "gw", name);
    ASSERT_NE(l, nullptr);
    ASSERT_TRUE(l->backend_client_certificate.has_value());
    ASSERT_NE(*l->backend_client_certificate, nullptr);
    EXPECT_EQ((*l->backend_client_certificate)->meta.name, "client");
  }
}

TEST(BackendClientCertificateBinding, NoReferenceNoCertificateAndResolvedRefsTrue) {
  auto b = BindYaml({Gateway("")});
  EXPECT_EQ(GatewayCond(*b, "ResolvedRefs"), "True/ResolvedRefs");
  const BoundListener* l = b->BoundListener("infra", "gw", "http");
  ASSERT_NE(l, nullptr);
  EXPECT_FALSE(l->backend_client_certificate.has_value());
}

struct InvalidRef {
  const char* name;
  const char* ref;
  const char* reason;
  const char* message_part;
};

class BackendClientCertificateInvalid : public ::testing::TestWithParam<InvalidRef> {};

// Upstream's five Gateways (gateway-invalid-tls-backend-configuration.yaml).
INSTANTIATE_TEST_SUITE_P(
    Upstream, BackendClientCertificateInvalid,
    ::testing::Values(InvalidRef{"NonexistentSecret",
                                 R"({group: "", kind: Secret, name: nonexistent})",
                                 "InvalidClientCertificateRef", "Secret not found"},
                      InvalidRef{"UnsupportedGroup",
                                 R"({group: wrong.group.company.io, kind: Secret, name: client})",
                                 "InvalidClientCertificateRef",
                                 "wrong.group.company.io/Secret is not supported"},
                      InvalidRef{"UnsupportedKind", R"({group: "", kind: WrongKind, name: client})",
                                 "InvalidClientCertificateRef", "kind WrongKind is not supported"},
                      InvalidRef{"MalformedSecret", R"({group: "", kind: Secret, name: malformed})",
                                 "InvalidClientCertificateRef", "Secret has no tls.crt"},
                      InvalidRef{"MissingReferenceGrant",
                                 R"({group: "", kind: Secret, name: client, namespace: web})",
                                 "RefNotPermitted", "no ReferenceGrant in web allows it"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_P(BackendClientCertificateInvalid, ResolvedRefsFalseTheGatewayStaysAccepted) {
  auto b = BindYaml({Gateway(absl::StrCat("{clientCertificateRef: ", GetParam().ref, "}")),
                     testing::TlsSecretYaml("infra", "client", Client()),
                     testing::TlsSecretYaml("web", "client", Client()),
                     "apiVersion: v1\nkind: Secret\nmetadata: {name: malformed, namespace: "
                     "infra}\ntype: Opaque\ndata: {}\n"});
  const model::GatewayStatus* g = b->Gateway("infra", "gw");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(Cond(g->conditions, "ResolvedRefs"), absl::StrCat("False/", GetParam().reason));
  EXPECT_EQ(Cond(g->conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(Cond(g->conditions, "Programmed"), "True/Programmed");
  const model::Condition* c = testing::FindCondition(g->conditions, "ResolvedRefs");
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c->message.find(GetParam().message_part), std::string::npos) << c->message;
  EXPECT_EQ(c->observed_generation, 1);
  // The listeners' routes reach TLS backends with no certificate: the compiler gives them no
  // cluster.
  const BoundListener* l = b->BoundListener("infra", "gw", "http");
  ASSERT_NE(l, nullptr);
  ASSERT_TRUE(l->backend_client_certificate.has_value());
  EXPECT_EQ(*l->backend_client_certificate, nullptr);
  EXPECT_EQ(Cond(b->Listener("infra", "gw", "http")->conditions, "ResolvedRefs"),
            "True/ResolvedRefs");
}

TEST(BackendClientCertificateBinding, ReferenceGrantAllowsAnotherNamespacesSecret) {
  auto b = BindYaml({Gateway(R"({clientCertificateRef: {name: client, namespace: web}})"),
                     testing::TlsSecretYaml("web", "client", Client()),
                     R"(apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow, namespace: web}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}]
  to: [{group: "", kind: Secret, name: client}]
)"});
  EXPECT_EQ(GatewayCond(*b, "ResolvedRefs"), "True/ResolvedRefs");
  const BoundListener* l = b->BoundListener("infra", "gw", "http");
  ASSERT_NE(l, nullptr);
  ASSERT_TRUE(l->backend_client_certificate.has_value());
  ASSERT_NE(*l->backend_client_certificate, nullptr);
  EXPECT_EQ((*l->backend_client_certificate)->meta.ns, "web");
}

TEST(BackendClientCertificateBinding, UnresolvedListenerRefsAreSummedUpOnTheGateway) {
  auto b = BindYaml({Gateway("", R"([{name: https, port: 443, protocol: HTTPS,
    tls: {certificateRefs: [{name: missing}]}}, {name: http, port: 80, protocol: HTTP}])")});
  EXPECT_EQ(GatewayCond(*b, "ResolvedRefs"), "False/ListenersNotResolved");
  const model::Condition* c =
      testing::FindCondition(b->Gateway("infra", "gw")->conditions, "ResolvedRefs");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->message, "listeners with unresolved references: https");
}

}  // namespace
}  // namespace xgate::binder

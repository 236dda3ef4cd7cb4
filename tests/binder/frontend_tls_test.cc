// A Gateway's frontend client certificate validation (spec.tls.frontend) as the binder sees
// it: which HTTPS listener gets which CA bundle and mode (perPort over default), and the
// listener and Gateway conditions the spec and the upstream conformance tests expect.
#include "agent/binder/frontend_tls.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/binder/backend_tls.h"
#include "tests/binder/testing.h"

namespace xgate::binder {
namespace {

using testing::BindYaml;
using testing::Cond;

// A Gateway in infra with listeners https (443), https-8443 (8443, second.example) and http
// (80), a server certificate, and `frontend` as spec.tls.frontend.
std::string Gateway(const std::string& frontend) {
  return absl::StrCat(
      R"(apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: xgate}
spec: {controllerName: xgate.dev/node-agent}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: xgate
  tls:
    frontend:
)",
      frontend, R"(
  listeners:
  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}
  - name: https-8443
    port: 8443
    hostname: second.example
    protocol: HTTPS
    tls: {certificateRefs: [{name: cert}]}
  - {name: http, port: 80, protocol: HTTP}
---
)",
      testing::TlsSecretYaml("infra", "cert", testing::SelfSignedCert("server.example")));
}

std::string CaConfigMap(const std::string& ns, const std::string& name, const std::string& pem) {
  return absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ", name,
                      ", namespace: ", ns, "}\ndata:\n  ca.crt: |\n    ",
                      absl::StrReplaceAll(pem, {{"\n", "\n    "}}), "\n");
}

std::string Ref(const std::string& name, const std::string& extra = "") {
  return absl::StrCat(R"({group: "", kind: ConfigMap, name: )", name, extra, "}");
}

const std::string kDefaultCa = testing::SelfSignedCert("default-ca").cert_pem;
const std::string kPortCa = testing::SelfSignedCert("port-ca").cert_pem;

std::string Listener(const testing::Bound& b, const std::string& name, const std::string& type) {
  const model::ListenerStatus* l = b.Listener("infra", "gw", name);
  return l == nullptr ? "no listener" : Cond(l->conditions, type);
}

TEST(FrontendTlsBinding, PerPortOverridesTheDefaultOnHttpsListenersOnly) {
  auto b = BindYaml(
      {Gateway(absl::StrCat("      default: {validation: {caCertificateRefs: [", Ref("default-ca"),
                            "]}}\n      perPort:\n      - {port: 8443, tls: "
                            "{validation: {caCertificateRefs: [",
                            Ref("port-ca"), "]}}}\n      - {port: 80, tls: {}}")),
       CaConfigMap("infra", "default-ca", kDefaultCa), CaConfigMap("infra", "port-ca", kPortCa)});
  for (const char* name : {"https", "https-8443", "http"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(Listener(*b, name, "Accepted"), "True/Accepted");
    EXPECT_EQ(Listener(*b, name, "ResolvedRefs"), "True/ResolvedRefs");
    EXPECT_EQ(Listener(*b, name, "Programmed"), "True/Programmed");
  }
  const BoundListener* https = b->BoundListener("infra", "gw", "https");
  ASSERT_TRUE(https && https->client_validation);
  EXPECT_EQ(https->client_validation->ca_pem, kDefaultCa);
  EXPECT_FALSE(https->client_validation->insecure_fallback);
  const BoundListener* port = b->BoundListener("infra", "gw", "https-8443");
  ASSERT_TRUE(port && port->client_validation);
  EXPECT_EQ(port->client_validation->ca_pem, kPortCa);
  EXPECT_FALSE(b->BoundListener("infra", "gw", "http")->client_validation) << "not HTTPS";
  const model::GatewayStatus* gw = b->Gateway("infra", "gw");
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(Cond(gw->conditions, "InsecureFrontendValidationMode"), "missing");
}

TEST(FrontendTlsBinding, APerPortEntryWithoutValidationTurnsItOff) {
  auto b = BindYaml(
      {Gateway(absl::StrCat("      default: {validation: {caCertificateRefs: [", Ref("default-ca"),
                            "]}}\n      perPort: [{port: 8443, tls: {}}]")),
       CaConfigMap("infra", "default-ca", kDefaultCa)});
  EXPECT_TRUE(b->BoundListener("infra", "gw", "https")->client_validation);
  EXPECT_FALSE(b->BoundListener("infra", "gw", "https-8443")->client_validation);
}

TEST(FrontendTlsBinding, InsecureFallbackIsMarkedOnTheGateway) {
  auto b = BindYaml(
      {Gateway(absl::StrCat("      default: {validation: {caCertificateRefs: [", Ref("default-ca"),
                            "]}}\n      perPort:\n      - {port: 8443, tls: "
                            "{validation: {mode: AllowInsecureFallback, "
                            "caCertificateRefs: [",
                            Ref("default-ca"), "]}}}")),
       CaConfigMap("infra", "default-ca", kDefaultCa)});
  EXPECT_FALSE(b->BoundListener("infra", "gw", "https")->client_validation->insecure_fallback);
  EXPECT_TRUE(b->BoundListener("infra", "gw", "https-8443")->client_validation->insecure_fallback);
  const model::GatewayStatus* gw = b->Gateway("infra", "gw");
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(Cond(gw->conditions, "InsecureFrontendValidationMode"), "True/ConfigurationChanged");
  EXPECT_EQ(Cond(gw->conditions, "Accepted"), "True/Accepted");
}

// Upstream's GatewayInvalidFrontendClientCertificateValidation: each bad reference fails only
// the listeners on its port, with the reason the spec gives it.
TEST(FrontendTlsBinding, InvalidReferencesFailOnlyTheirListeners) {
  struct Case {
    std::string name;
    std::string ref;
    std::string extra;
    std::string resolved;
  };
  std::vector<Case> cases = {
      {"missing", Ref("nope"), "", "False/InvalidCACertificateRef"},
      {"no-ca-crt", Ref("empty"),
       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: empty, namespace: infra}\ndata: {}\n",
       "False/InvalidCACertificateRef"},
      {"not-pem", Ref("bad"), CaConfigMap("infra", "bad", "not a certificate"),
       "False/InvalidCACertificateRef"},
      {"kind", R"({group: "", kind: Service, name: svc})", "", "False/InvalidCACertificateKind"},
      {"group", R"({group: example.com, kind: ConfigMap, name: ca})", "",
       "False/InvalidCACertificateKind"},
      {"no-grant", Ref("web-ca", ", namespace: web"), CaConfigMap("web", "web-ca", kPortCa),
       "False/RefNotPermitted"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> docs = {
        Gateway(absl::StrCat("      default: {validation: {caCertificateRefs: [", Ref("default-ca"),
                             "]}}\n      perPort:\n      - {port: 8443, tls: {validation: "
                             "{caCertificateRefs: [",
                             c.ref, "]}}}")),
        CaConfigMap("infra", "default-ca", kDefaultCa)};
    if (!c.extra.empty()) docs.push_back(c.extra);
    auto b = BindYaml(docs);
    EXPECT_EQ(Listener(*b, "https-8443", "ResolvedRefs"), c.resolved);
    EXPECT_EQ(Listener(*b, "https-8443", "Accepted"), "False/NoValidCACertificate");
    EXPECT_EQ(Listener(*b, "https-8443", "Programmed"), "False/Invalid");
    EXPECT_FALSE(b->BoundListener("infra", "gw", "https-8443")->programmed);
    EXPECT_EQ(Listener(*b, "https", "Programmed"), "True/Programmed");
    EXPECT_EQ(Listener(*b, "http", "Programmed"), "True/Programmed");
    const model::GatewayStatus* gw = b->Gateway("infra", "gw");
    ASSERT_NE(gw, nullptr);
    EXPECT_EQ(Cond(gw->conditions, "Accepted"), "True/ListenersNotValid");
  }
}

TEST(FrontendTlsBinding, AReferenceGrantAllowsAConfigMapInAnotherNamespace) {
  auto b = BindYaml({Gateway(absl::StrCat("      default: {validation: {caCertificateRefs: [",
                                          Ref("web-ca", ", namespace: web"), "]}}")),
                     CaConfigMap("web", "web-ca", kPortCa),
                     R"(apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: ca, namespace: web}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}]
  to: [{group: "", kind: ConfigMap}]
)"});
  EXPECT_EQ(Listener(*b, "https", "ResolvedRefs"), "True/ResolvedRefs");
  EXPECT_EQ(b->BoundListener("infra", "gw", "https")->client_validation->ca_pem, kPortCa);
}

// Some references valid: ResolvedRefs says which is not, the listener serves the valid CAs.
TEST(FrontendTlsBinding, OneValidReferenceKeepsTheListener) {
  auto b = BindYaml({Gateway(absl::StrCat("      default: {validation: {caCertificateRefs: [",
                                          Ref("nope"), ", ", Ref("default-ca"), "]}}")),
                     CaConfigMap("infra", "default-ca", kDefaultCa)});
  EXPECT_EQ(Listener(*b, "https", "ResolvedRefs"), "False/InvalidCACertificateRef");
  EXPECT_EQ(Listener(*b, "https", "Accepted"), "True/Accepted");
  EXPECT_EQ(Listener(*b, "https", "Programmed"), "True/Programmed");
  const BoundListener* https = b->BoundListener("infra", "gw", "https");
  ASSERT_TRUE(https->client_validation);
  EXPECT_EQ(CountPemCertificates(https->client_validation->ca_pem), 1);
  const model::ListenerStatus* l = b->Listener("infra", "gw", "https");
  const model::Condition* refs = testing::FindCondition(l->conditions, "ResolvedRefs");
  EXPECT_NE(refs->message.find("infra/nope"), std::string::npos) << refs->message;
}

}  // namespace
}  // namespace xgate::binder

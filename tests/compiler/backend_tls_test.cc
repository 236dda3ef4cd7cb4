// BackendTLSPolicy compiled into the proxy's clusters: the CA bundle (or system CAs), SNI and
// names to verify on the targeted Service port's cluster; a policy that is not accepted
// leaves the backend without a cluster (500), never in plain text.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/compiler/compiler.h"
#include "tests/binder/testing.h"

namespace xgate {
namespace {

using testing::BindYaml;

constexpr char kBase[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: xgate}
spec: {controllerName: xgate.dev/node-agent}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: web}
spec:
  gatewayClassName: xgate
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: web}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /tls}}]
    backendRefs: [{name: secure, port: 443}]
  - backendRefs: [{name: plain, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: secure, namespace: web}
spec: {ports: [{name: https, port: 443}]}
---
apiVersion: v1
kind: Service
metadata: {name: plain, namespace: web}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: secure-1, namespace: web, labels: {kubernetes.io/service-name: secure}}
addressType: IPv4
ports: [{name: https, port: 8443}]
endpoints: [{addresses: [198.18.5.1]}]
)";

std::string Policy(const std::string& validation) {
  return absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: tls, namespace: web}
spec:
  targetRefs: [{group: "", kind: Service, name: secure}]
  validation:
    hostname: secure.example.com
)",
                      validation);
}

// A ConfigMap "ca" in namespace web whose ca.crt is `pem`.
std::string CaConfigMap(const std::string& pem) {
  return absl::StrCat(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ca, namespace: web}\ndata:\n  ca.crt: |\n "
      "   ",
      absl::StrReplaceAll(pem, {{"\n", "\n    "}}), "\n");
}

const api::Cluster* FindCluster(const api::L7Config& l7, const std::string& name) {
  for (const auto& c : l7.clusters()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

const api::Route* FindRoute(const api::L7Config& l7, uint32_t rule) {
  for (const auto& vh : l7.ports(0).listeners(0).virtual_hosts()) {
    for (const auto& r : vh.routes()) {
      if (r.rule_index() == rule) return &r;
    }
  }
  return nullptr;
}

TEST(BackendTlsCompile, CaBundleSniAndSubjectAltNames) {
  std::string pem = testing::SelfSignedCert("ca.example.com").cert_pem;
  std::string cm = CaConfigMap(pem);
  auto b =
      BindYaml({kBase, Policy(R"(    caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
    subjectAltNames:
    - {type: Hostname, hostname: secure.web.svc}
    - {type: URI, uri: "spiffe://cluster.local/ns/web/sa/secure"}
)"),
                cm});
  auto snap = compiler::Compile(b->result, 1);
  const api::Cluster* secure = FindCluster(snap->l7, "web/secure:443");
  ASSERT_NE(secure, nullptr);
  ASSERT_TRUE(secure->has_tls());
  EXPECT_EQ(secure->tls().ca_pem(), pem);
  EXPECT_FALSE(secure->tls().system_cas());
  EXPECT_EQ(secure->tls().sni(), "secure.example.com");
  ASSERT_EQ(secure->tls().verify_hostnames_size(), 1);
  EXPECT_EQ(secure->tls().verify_hostnames(0), "secure.web.svc");
  ASSERT_EQ(secure->tls().verify_uris_size(), 1);
  EXPECT_EQ(secure->tls().verify_uris(0), "spiffe://cluster.local/ns/web/sa/secure");
  ASSERT_EQ(secure->endpoints_size(), 1);
  EXPECT_EQ(secure->endpoints(0).port(), 8443u);
  const api::Cluster* plain = FindCluster(snap->l7, "web/plain:80");
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->has_tls());
}

TEST(BackendTlsCompile, SystemCasWithTheHostnameAsTheName) {
  auto b = BindYaml({kBase, Policy("    wellKnownCACertificates: System\n")});
  auto snap = compiler::Compile(b->result, 1);
  const api::Cluster* secure = FindCluster(snap->l7, "web/secure:443");
  ASSERT_NE(secure, nullptr);
  EXPECT_TRUE(secure->tls().system_cas());
  EXPECT_TRUE(secure->tls().ca_pem().empty());
  EXPECT_EQ(secure->tls().sni(), "secure.example.com");
  EXPECT_EQ(secure->tls().verify_hostnames_size(), 0) << "the proxy checks the SNI name";
}

TEST(BackendTlsCompile, PolicyWithoutValidCaLeavesTheBackendWithoutACluster) {
  auto b = BindYaml(
      {kBase, Policy(R"(    caCertificateRefs: [{group: "", kind: ConfigMap, name: missing}]
)")});
  auto snap = compiler::Compile(b->result, 1);
  EXPECT_EQ(FindCluster(snap->l7, "web/secure:443"), nullptr);
  const api::Route* tls_rule = FindRoute(snap->l7, 0);
  ASSERT_NE(tls_rule, nullptr);
  ASSERT_EQ(tls_rule->backends_size(), 1);
  EXPECT_EQ(tls_rule->backends(0).cluster(), "") << "500, not plain text to the backend";
  const api::Route* plain_rule = FindRoute(snap->l7, 1);
  ASSERT_NE(plain_rule, nullptr);
  EXPECT_EQ(plain_rule->backends(0).cluster(), "web/plain:80");
}

// What a GRPCRoute and ports with HTTP/2 appProtocols under a policy compile to: HTTP/2
// clusters with the policy's TLS (the proxy speaks h2 over TLS, ALPN h2).
TEST(BackendTlsCompile, Http2BackendsUnderAPolicyGetTlsHttp2Clusters) {
  std::string pem = testing::SelfSignedCert("ca.example.com").cert_pem;
  std::string cm = CaConfigMap(pem);
  constexpr char kGrpc[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: grpc-gw, namespace: web}
spec:
  gatewayClassName: xgate
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g, namespace: web}
spec:
  parentRefs: [{name: grpc-gw}]
  rules:
  - matches: [{method: {service: pkg.One}}]
    backendRefs: [{name: secure, port: 443}]
  - matches: [{method: {service: pkg.Two}}]
    backendRefs: [{name: h2, port: 8443}]
  - matches: [{method: {service: pkg.Three}}]
    backendRefs: [{name: grpc, port: 9443}]
---
apiVersion: v1
kind: Service
metadata: {name: h2, namespace: web}
spec: {ports: [{name: h2, port: 8443, appProtocol: kubernetes.io/h2c}]}
---
apiVersion: v1
kind: Service
metadata: {name: grpc, namespace: web}
spec: {ports: [{name: grpc, port: 9443, appProtocol: grpc}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: tls-h2, namespace: web}
spec:
  targetRefs: [{group: "", kind: Service, name: h2}, {group: "", kind: Service, name: grpc}]
  validation:
    hostname: h2.example.com
    caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
)";
  auto b =
      BindYaml({kBase, Policy(R"(    caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
)"),
                cm, kGrpc});
  auto snap = compiler::Compile(b->result, 1);
  // The HTTPRoute's cluster to the port stays HTTP/1.1 over TLS; the GRPCRoute's is its own.
  const api::Cluster* http1 = FindCluster(snap->l7, "web/secure:443");
  ASSERT_NE(http1, nullptr);
  EXPECT_EQ(http1->protocol(), api::HTTP1);
  for (const char* name : {"web/secure:443+h2", "web/h2:8443", "web/grpc:9443"}) {
    const api::Cluster* cluster = FindCluster(snap->l7, name);
    ASSERT_NE(cluster, nullptr) << name;
    EXPECT_EQ(cluster->protocol(), api::H2C) << name;
    ASSERT_TRUE(cluster->has_tls()) << name << ": never HTTP/2 in clear text under a policy";
    EXPECT_EQ(cluster->tls().ca_pem(), pem) << name;
  }
  EXPECT_EQ(FindCluster(snap->l7, "web/secure:443")->tls().sni(), "secure.example.com");
  EXPECT_EQ(FindCluster(snap->l7, "web/h2:8443")->tls().sni(), "h2.example.com");
  EXPECT_EQ(FindCluster(snap->l7, "web/secure:443+h2c"), nullptr);
}

// The backends of rule `rule` as compiled for Gateway `gateway`'s listener.
std::vector<std::string> RuleClusters(const api::L7Config& l7, const std::string& gateway,
                                      uint32_t rule) {
  std::vector<std::string> out;
  for (const auto& port : l7.ports()) {
    for (const auto& listener : port.listeners()) {
      if (listener.gateway_name() != gateway) continue;
      for (const auto& vh : listener.virtual_hosts()) {
        for (const auto& r : vh.routes()) {
          if (r.rule_index() != rule) continue;
          for (const auto& b : r.backends()) out.push_back(b.cluster());
        }
      }
    }
  }
  return out;
}

// kBase's route attached to a second Gateway, gw2 (port 8080), whose spec.tls.backend is
// `backend` ("" for none), and gw's own backend client certificate `gw_backend`.
std::vector<std::string> TwoGateways(const std::string& gw_backend, const std::string& backend) {
  std::string base = absl::StrReplaceAll(
      kBase, {{"  listeners: [{name: http, port: 80, protocol: HTTP}]\n",
               "  listeners: [{name: http, port: 80, protocol: HTTP}]\n" +
                   (gw_backend.empty() ? "" : "  tls: {backend: " + gw_backend + "}\n")},
              {"  parentRefs: [{name: gw}]", "  parentRefs: [{name: gw}, {name: gw2}]"}});
  return {base, absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw2, namespace: web}
spec:
  gatewayClassName: xgate
  listeners: [{name: http, port: 8080, protocol: HTTP}]
)",
                             backend.empty() ? "" : "  tls: {backend: " + backend + "}\n")};
}

TEST(BackendTlsCompile, AGatewaysClientCertificateGetsItsOwnTlsCluster) {
  testing::CertPair client = testing::SelfSignedCert("client.example");
  std::vector<std::string> docs = TwoGateways(R"({clientCertificateRef: {name: client}})", "");
  docs.push_back(testing::TlsSecretYaml("web", "client", client));
  docs.push_back(CaConfigMap(testing::SelfSignedCert("ca.example.com").cert_pem));
  docs.push_back(Policy(R"(    caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
)"));
  auto b = BindYaml(docs);
  auto snap = compiler::Compile(b->result, 1);
  const api::Cluster* shared = FindCluster(snap->l7, "web/secure:443");
  const api::Cluster* own = FindCluster(snap->l7, "web/secure:443+client:web/client");
  ASSERT_NE(shared, nullptr) << "gw2, without a client certificate, keeps the shared cluster";
  ASSERT_NE(own, nullptr);
  EXPECT_EQ(shared->tls().client_certificate(), "");
  EXPECT_EQ(own->tls().client_certificate(), "web/client");
  EXPECT_EQ(own->tls().sni(), shared->tls().sni());
  EXPECT_EQ(own->tls().ca_pem(), shared->tls().ca_pem());
  ASSERT_EQ(own->endpoints_size(), 1);
  EXPECT_EQ(own->endpoints(0).port(), 8443u);
  EXPECT_EQ(RuleClusters(snap->l7, "gw", 0),
            std::vector<std::string>{"web/secure:443+client:web/client"});
  EXPECT_EQ(RuleClusters(snap->l7, "gw2", 0), std::vector<std::string>{"web/secure:443"});
  // A plain backend is not TLS: the certificate changes nothing there.
  EXPECT_EQ(RuleClusters(snap->l7, "gw", 1), std::vector<std::string>{"web/plain:80"});
  EXPECT_EQ(snap->l7.clusters_size(), 3);
  bool found = false;
  for (const auto& cert : snap->l7.certificates()) {
    if (cert.name() != "web/client") continue;
    found = true;
    EXPECT_EQ(cert.cert_pem(), client.cert_pem);
    EXPECT_EQ(cert.key_pem(), client.key_pem);
  }
  EXPECT_TRUE(found) << "the client certificate goes with the config, by name";
}

TEST(BackendTlsCompile, WithoutAClientCertificateNothingChanges) {
  std::vector<std::string> docs = TwoGateways("", "");
  docs.push_back(CaConfigMap(testing::SelfSignedCert("ca.example.com").cert_pem));
  docs.push_back(Policy(R"(    caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
)"));
  auto b = BindYaml(docs);
  auto snap = compiler::Compile(b->result, 1);
  EXPECT_EQ(snap->l7.clusters_size(), 2);
  EXPECT_EQ(snap->l7.certificates_size(), 0);
  EXPECT_EQ(RuleClusters(snap->l7, "gw", 0), std::vector<std::string>{"web/secure:443"});
  EXPECT_EQ(RuleClusters(snap->l7, "gw2", 0), std::vector<std::string>{"web/secure:443"});
}

TEST(BackendTlsCompile, AnUnresolvedClientCertificateLeavesTlsBackendsWithoutACluster) {
  std::vector<std::string> docs = TwoGateways(R"({clientCertificateRef: {name: missing}})", "");
  docs.push_back(CaConfigMap(testing::SelfSignedCert("ca.example.com").cert_pem));
  docs.push_back(Policy(R"(    caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]
)"));
  auto b = BindYaml(docs);
  auto snap = compiler::Compile(b->result, 1);
  EXPECT_EQ(RuleClusters(snap->l7, "gw", 0), std::vector<std::string>{""})
      << "500, never a connection without the certificate";
  EXPECT_EQ(RuleClusters(snap->l7, "gw", 1), std::vector<std::string>{"web/plain:80"});
  EXPECT_EQ(RuleClusters(snap->l7, "gw2", 0), std::vector<std::string>{"web/secure:443"});
}

}  // namespace
}  // namespace xgate

// BackendTLSPolicy binding: which policy holds a routed Service port, its CA references, and
// its status per Gateway (ancestors), as the spec and the upstream conformance tests want.
#include "agent/binder/backend_tls.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/binder/testing.h"

namespace xgate::binder {
namespace {

using testing::BindYaml;
using testing::Cond;

constexpr char kGateway[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: xgate}
spec: {controllerName: xgate.dev/node-agent}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: xgate
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: tls-backend, port: 443}]
  - backendRefs: [{name: other, port: 8443}]
---
apiVersion: v1
kind: Service
metadata: {name: tls-backend, namespace: infra}
spec:
  ports: [{name: https, port: 443, targetPort: 8443}, {name: alt, port: 444}]
---
apiVersion: v1
kind: Service
metadata: {name: other, namespace: infra}
spec:
  ports: [{name: https, port: 8443}]
)";

// A policy named `name` on `target` (a targetRefs entry) with `validation`'s fields.
std::string Policy(const std::string& name, const std::string& target,
                   const std::string& validation) {
  return absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: )",
                      name, R"(, namespace: infra}
spec:
  targetRefs: [)",
                      target, R"(]
  validation: {hostname: abc.example.com, )",
                      validation, "}\n");
}

std::string CaConfigMap(const std::string& name, const std::string& pem) {
  return absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ", name,
                      ", namespace: infra}\ndata:\n  ca.crt: |\n    ",
                      absl::StrReplaceAll(pem, {{"\n", "\n    "}}), "\n");
}

constexpr char kService[] = R"({group: "", kind: Service, name: tls-backend})";
constexpr char kCaRef[] = R"(caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}])";

const model::PolicyStatus* PolicyStatus(const testing::Bound& b, const std::string& name) {
  auto it = b.result.statuses.policies.find({model::Kind::kBackendTLSPolicy, "infra", name});
  return it == b.result.statuses.policies.end() ? nullptr : &it->second;
}

std::string CaPem() { return testing::SelfSignedCert("ca.example.com").cert_pem; }

TEST(BackendTLSBinding, ValidPolicyIsAcceptedPerAncestorAndConfiguresTheCluster) {
  std::string pem = CaPem();
  auto b = BindYaml({kGateway, Policy("tls", kService, kCaRef), CaConfigMap("ca", pem)});
  const model::PolicyStatus* s = PolicyStatus(*b, "tls");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->ancestors.size(), 1u);
  EXPECT_EQ(s->ancestors[0].parent_ref.name, "gw");
  EXPECT_EQ(s->ancestors[0].parent_ref.ns, "infra");
  EXPECT_EQ(s->ancestors[0].parent_ref.kind, "Gateway");
  EXPECT_EQ(s->ancestors[0].controller_name, model::kControllerName);
  EXPECT_EQ(Cond(s->ancestors[0].conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(Cond(s->ancestors[0].conditions, "ResolvedRefs"), "True/ResolvedRefs");
  ASSERT_EQ(b->result.backend_tls.count("infra/tls-backend:443"), 1u);
  const BackendTLS& tls = b->result.backend_tls.at("infra/tls-backend:443");
  EXPECT_TRUE(tls.valid);
  EXPECT_FALSE(tls.system_cas);
  EXPECT_EQ(tls.hostname, "abc.example.com");
  EXPECT_EQ(CountPemCertificates(tls.ca_pem), 1);
  EXPECT_EQ(b->result.backend_tls.count("infra/other:8443"), 0u) << "not targeted";
  EXPECT_TRUE(AllAccepted(b->result));
}

TEST(BackendTLSBinding, PolicyOnAServiceNoRouteUsesHasNoAncestors) {
  std::string target = R"({group: "", kind: Service, name: unused})";
  auto b = BindYaml({kGateway, Policy("tls", target, "wellKnownCACertificates: System")});
  EXPECT_EQ(PolicyStatus(*b, "tls"), nullptr);
  EXPECT_TRUE(b->result.backend_tls.empty());
}

TEST(BackendTLSBinding, InvalidCaRefsFailTheBackendWithTheSpecsReasons) {
  struct Case {
    std::string name;
    std::string validation;
    std::string extra;
    std::string resolved;
  };
  std::vector<Case> cases = {
      {"nonexistent", kCaRef, "", "False/InvalidCACertificateRef"},
      {"no-ca-crt", kCaRef,
       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ca, namespace: infra}\ndata: {}\n",
       "False/InvalidCACertificateRef"},
      {"not-pem", kCaRef, CaConfigMap("ca", "not a certificate"), "False/InvalidCACertificateRef"},
      {"invalid-kind", R"(caCertificateRefs: [{group: invalid.io, kind: InvalidKind, name: ca}])",
       "", "False/InvalidKind"},
      {"secret-kind", R"(caCertificateRefs: [{group: "", kind: Secret, name: ca}])", "",
       "False/InvalidKind"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> docs = {kGateway, Policy("tls", kService, c.validation)};
    if (!c.extra.empty()) docs.push_back(c.extra);
    auto b = BindYaml(docs);
    const model::PolicyStatus* s = PolicyStatus(*b, "tls");
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(s->ancestors.size(), 1u);
    EXPECT_EQ(Cond(s->ancestors[0].conditions, "Accepted"), "False/NoValidCACertificate");
    EXPECT_EQ(Cond(s->ancestors[0].conditions, "ResolvedRefs"), c.resolved);
    ASSERT_EQ(b->result.backend_tls.count("infra/tls-backend:443"), 1u);
    EXPECT_FALSE(b->result.backend_tls.at("infra/tls-backend:443").valid) << "5xx, not plain";
    EXPECT_FALSE(AllAccepted(b->result));
    // The route itself stays accepted with its references resolved.
    const model::RouteStatus* r = b->Route(model::Kind::kHTTPRoute, "infra", "r");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(Cond(r->parents[0].conditions, "ResolvedRefs"), "True/ResolvedRefs");
  }
}

TEST(BackendTLSBinding, OneValidRefOfTwoKeepsThePolicyAccepted) {
  std::string pem = CaPem();
  std::string refs =
      R"(caCertificateRefs: [{group: "", kind: ConfigMap, name: missing}, {group: "", kind: ConfigMap, name: ca}])";
  auto b = BindYaml({kGateway, Policy("tls", kService, refs), CaConfigMap("ca", pem)});
  const model::PolicyStatus* s = PolicyStatus(*b, "tls");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Cond(s->ancestors[0].conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(Cond(s->ancestors[0].conditions, "ResolvedRefs"), "False/InvalidCACertificateRef");
  EXPECT_TRUE(b->result.backend_tls.at("infra/tls-backend:443").valid);
}

TEST(BackendTLSBinding, UnknownWellKnownSetIsInvalid) {
  auto b = BindYaml({kGateway, Policy("tls", kService, "wellKnownCACertificates: acme.io/cas")});
  const model::PolicyStatus* s = PolicyStatus(*b, "tls");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Cond(s->ancestors[0].conditions, "Accepted"), "False/Invalid");
  EXPECT_FALSE(b->result.backend_tls.at("infra/tls-backend:443").valid);
  auto system = BindYaml({kGateway, Policy("tls", kService, "wellKnownCACertificates: System")});
  EXPECT_TRUE(system->result.backend_tls.at("infra/tls-backend:443").system_cas);
  EXPECT_TRUE(system->result.backend_tls.at("infra/tls-backend:443").valid);
}

TEST(BackendTLSBinding, OlderPolicyWinsTheSameTargetTheOtherIsConflicted) {
  std::string section = R"({group: "", kind: Service, name: tls-backend, sectionName: https})";
  for (const std::string& target : {std::string(kService), section}) {
    SCOPED_TRACE(target);
    std::string first = Policy("first", target, "wellKnownCACertificates: System");
    std::string second = absl::StrReplaceAll(Policy("second", target, kCaRef),
                                             {{"abc.example.com", "other.example.com"}});
    auto b = BindYaml({kGateway, first, second, CaConfigMap("ca", CaPem())});
    EXPECT_EQ(Cond(PolicyStatus(*b, "first")->ancestors[0].conditions, "Accepted"),
              "True/Accepted");
    EXPECT_EQ(Cond(PolicyStatus(*b, "second")->ancestors[0].conditions, "Accepted"),
              "False/Conflicted");
    EXPECT_EQ(b->result.backend_tls.at("infra/tls-backend:443").hostname, "abc.example.com");
    // By creationTimestamp when the manifests carry one, before order of appearance.
    std::string older = absl::StrReplaceAll(
        second,
        {{"namespace: infra}", "namespace: infra, creationTimestamp: \"2020-01-01T00:00:00Z\"}"}});
    std::string newer = absl::StrReplaceAll(
        first,
        {{"namespace: infra}", "namespace: infra, creationTimestamp: \"2021-01-01T00:00:00Z\"}"}});
    auto c = BindYaml({kGateway, newer, older, CaConfigMap("ca", CaPem())});
    EXPECT_EQ(Cond(PolicyStatus(*c, "first")->ancestors[0].conditions, "Accepted"),
              "False/Conflicted");
    EXPECT_EQ(c->result.backend_tls.at("infra/tls-backend:443").hostname, "other.example.com");
  }
}

TEST(BackendTLSBinding, SectionNamePolicyAndWholeServicePolicyBothHold) {
  std::string with_section = R"({group: "", kind: Service, name: tls-backend, sectionName: https})";
  std::string route2 = R"(---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r2, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: tls-backend, port: 444}]}]
)";
  auto b =
      BindYaml({kGateway + route2, Policy("whole", kService, "wellKnownCACertificates: System"),
                absl::StrReplaceAll(Policy("port", with_section, "wellKnownCACertificates: System"),
                                    {{"abc.example.com", "port.example.com"}})});
  EXPECT_EQ(Cond(PolicyStatus(*b, "whole")->ancestors[0].conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(Cond(PolicyStatus(*b, "port")->ancestors[0].conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(b->result.backend_tls.at("infra/tls-backend:443").hostname, "port.example.com");
  EXPECT_EQ(b->result.backend_tls.at("infra/tls-backend:444").hostname, "abc.example.com");
}

TEST(BackendTLSBinding, ConditionsCarryThePolicysGeneration) {
  auto b = BindYaml({kGateway, Policy("tls", kService, "wellKnownCACertificates: System")});
  b->loaded.store.backend_tls_policies.Mutable({"infra", "tls"}).meta.generation = 7;
  b->Rebind();
  for (const auto& c : PolicyStatus(*b, "tls")->ancestors[0].conditions) {
    EXPECT_EQ(c.observed_generation, 7) << c.type;
  }
}

}  // namespace
}  // namespace xgate::binder

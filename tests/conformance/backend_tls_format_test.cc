// tests/conformance/FORMAT.md X7 to X9: CA ConfigMaps, the SNI a TLS backend saw, and
// BackendTLSPolicy status entries (ancestors) in cases.
#include <yaml-cpp/yaml.h>

#include "gtest/gtest.h"
#include "tools/conformance/case.h"
#include "tools/conformance/checks.h"
#include "tools/conformance/manifests.h"
#include "tools/conformance/status_check.h"

namespace xgate::conformance {
namespace {

using json = nlohmann::json;

constexpr char kCase[] = R"(name: btls
feature: BackendTLSPolicy
support: extended
caConfigMaps:
- {name: ca, namespace: infra}
status:
- {kind: BackendTLSPolicy, namespace: infra, name: p, parent: infra/gw, type: Accepted, status: "True"}
requests:
- gateway: infra/gw
  path: /
  expect: {status: 200, request: {sni: abc.example.com}}
)";

TEST(ConformanceBackendTls, CaseKeysParse) {
  absl::StatusOr<Case> c = ParseCase(kCase, "btls.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->ca_config_maps.size(), 1u);
  EXPECT_EQ(c->ca_config_maps[0].name, "ca");
  EXPECT_EQ(c->ca_config_maps[0].ns, "infra");
  ASSERT_EQ(c->status.size(), 1u);
  EXPECT_EQ(c->status[0].kind, "BackendTLSPolicy");
  EXPECT_EQ(c->status[0].parent_name, "gw");
  EXPECT_EQ(c->requests[0].expect.request.sni, "abc.example.com");
  std::string no_parent = kCase;
  no_parent.replace(no_parent.find(" parent: infra/gw,"), 18, "");
  EXPECT_FALSE(ParseCase(no_parent, "btls.yaml").ok());
}

TEST(ConformanceBackendTls, CaConfigMapHoldsThePem) {
  Object o = CaConfigMapObject("infra", "ca", "-----BEGIN CERTIFICATE-----\nAAAA\n");
  EXPECT_EQ(o.kind, "ConfigMap");
  YAML::Node n = YAML::Load(o.text);
  EXPECT_EQ(n["data"]["ca.crt"].as<std::string>(), "-----BEGIN CERTIFICATE-----\nAAAA\n");
  EXPECT_EQ(n["metadata"]["namespace"].as<std::string>(), "infra");
}

TEST(ConformanceBackendTls, EchoSniIsRead) {
  auto seen =
      ParseEcho(R"({"pod": "svc-0", "path": "/", "tls": {"serverName": "abc.example.com"}})");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->sni, "abc.example.com");
  auto plain = ParseEcho(R"({"pod": "svc-0", "path": "/"})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->sni, "");
}

TEST(ConformanceBackendTls, PolicyAncestorsAreCheckedAsParents) {
  json items = json::parse(R"([{
    "kind": "BackendTLSPolicy",
    "metadata": {"name": "p", "namespace": "infra", "generation": 2},
    "status": {"ancestors": [
      {"ancestorRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw",
                       "namespace": "infra"},
       "controllerName": "xgate.dev/node-agent",
       "conditions": [{"type": "Accepted", "status": "False", "reason": "Conflicted",
                       "observedGeneration": 2}]}]}}])");
  StatusCheck c;
  c.kind = "BackendTLSPolicy";
  c.ns = "infra";
  c.name = "p";
  c.parent_ns = "infra";
  c.parent_name = "gw";
  c.type = "Accepted";
  c.status = "False";
  c.reason = "Conflicted";
  EXPECT_EQ(CheckStatus(c, items), "");
  c.status = "True";
  c.reason.reset();
  EXPECT_NE(CheckStatus(c, items), "");
  c.parent_name = "other";
  EXPECT_NE(CheckStatus(c, items).find("has no status entry"), std::string::npos);
}

}  // namespace
}  // namespace xgate::conformance

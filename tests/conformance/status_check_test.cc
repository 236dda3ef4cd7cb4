#include "tools/conformance/status_check.h"

#include "gtest/gtest.h"

namespace xgate::conformance {
namespace {

using json = nlohmann::json;

json Items() {
  return json::parse(R"([
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
   "metadata": {"name": "gw", "namespace": "infra", "generation": 2},
   "status": {
     "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": 2},
                    {"type": "Programmed", "status": "True", "reason": "Programmed", "observedGeneration": 1}],
     "listeners": [
       {"name": "https", "attachedRoutes": 1,
        "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
        "conditions": [{"type": "ResolvedRefs", "status": "False", "reason": "InvalidCertificateRef", "observedGeneration": 2}]},
       {"name": "http", "attachedRoutes": 0, "supportedKinds": [],
        "conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 2}]}]}},
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
   "metadata": {"name": "r", "namespace": "infra", "generation": 1},
   "status": {"parents": [
     {"parentRef": {"name": "gw", "sectionName": "http"}, "controllerName": "xgate.dev/node-agent",
      "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": 1}]},
     {"parentRef": {"name": "gw", "sectionName": "https"}, "controllerName": "xgate.dev/node-agent",
      "conditions": [{"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners", "observedGeneration": 1}]},
     {"parentRef": {"name": "gw", "namespace": "other"}, "controllerName": "other.dev/controller",
      "conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 1}]}]}}
])");
}

StatusCheck Gw(const char* type, const char* status) {
  StatusCheck c;
  c.kind = "Gateway";
  c.ns = "infra";
  c.name = "gw";
  c.type = type;
  c.status = status;
  return c;
}

StatusCheck Route(const char* type, const char* status) {
  StatusCheck c;
  c.kind = "HTTPRoute";
  c.ns = "infra";
  c.name = "r";
  c.parent_ns = "infra";
  c.parent_name = "gw";
  c.type = type;
  c.status = status;
  return c;
}

TEST(ConformanceCheckStatus, GatewayConditionsAndGenerations) {
  json items = Items();
  StatusCheck c = Gw("Accepted", "True");
  EXPECT_EQ(CheckStatus(c, items), "");
  c.reason = "Accepted";
  c.observed_generation = 2;
  EXPECT_EQ(CheckStatus(c, items), "");
  c.observed_generation = 1;
  EXPECT_EQ(CheckStatus(c, items),
            "Gateway infra/gw condition Accepted has observedGeneration 2, want 1");
  // Every checked condition must be for the current generation.
  EXPECT_EQ(CheckStatus(Gw("Programmed", "True"), items),
            "Gateway infra/gw condition Programmed has observedGeneration 1, the object's "
            "generation is 2");
  EXPECT_EQ(CheckStatus(Gw("Accepted", "False"), items),
            "Gateway infra/gw condition Accepted is True (reason Accepted), want False");
  EXPECT_EQ(CheckStatus(Gw("Ready", "True"), items), "Gateway infra/gw has no condition Ready");
  StatusCheck missing = Gw("Accepted", "True");
  missing.name = "nope";
  EXPECT_EQ(CheckStatus(missing, items), "Gateway infra/nope is not reported by the agent");
}

TEST(ConformanceCheckStatus, Listeners) {
  json items = Items();
  StatusCheck c = Gw("ResolvedRefs", "False");
  c.listener = "https";
  c.reason = "InvalidCertificateRef";
  c.attached_routes = 1;
  c.supported_kinds = std::vector<std::string>{"HTTPRoute"};
  EXPECT_EQ(CheckStatus(c, items), "");
  c.attached_routes = 2;
  EXPECT_EQ(CheckStatus(c, items), "Gateway infra/gw listener https has attachedRoutes 1, want 2");
  c.attached_routes.reset();
  c.supported_kinds = std::vector<std::string>{"HTTPRoute", "GRPCRoute"};
  EXPECT_NE(CheckStatus(c, items).find("does not list GRPCRoute"), std::string::npos);
  StatusCheck none;
  none.kind = "Gateway";
  none.ns = "infra";
  none.name = "gw";
  none.listener = "http";
  none.supported_kinds = std::vector<std::string>{};
  EXPECT_EQ(CheckStatus(none, items), "");
  none.listener = "https";
  EXPECT_EQ(CheckStatus(none, items),
            "Gateway infra/gw listener https supports [HTTPRoute], want none");
  StatusCheck names;
  names.kind = "Gateway";
  names.ns = "infra";
  names.name = "gw";
  names.listeners = std::vector<std::string>{"http", "https"};
  EXPECT_EQ(CheckStatus(names, items), "");
  names.listeners = std::vector<std::string>{"http"};
  EXPECT_EQ(CheckStatus(names, items),
            "Gateway infra/gw lists listeners [https, http], want [http]");
}

TEST(ConformanceCheckStatus, RouteParentsBySectionName) {
  json items = Items();
  StatusCheck c = Route("Accepted", "True");
  // Without sectionName every entry for the Gateway (from our controller) must hold.
  EXPECT_EQ(CheckStatus(c, items),
            "HTTPRoute infra/r parent infra/gw sectionName https condition Accepted is False "
            "(reason NotAllowedByListeners), want True");
  c.section_name = "http";
  EXPECT_EQ(CheckStatus(c, items), "");
  c.section_name = "other";
  EXPECT_EQ(CheckStatus(c, items),
            "HTTPRoute infra/r parent infra/gw sectionName other has no status entry from "
            "xgate.dev/node-agent");
  // Entries written by other controllers are not ours.
  StatusCheck foreign = Route("Accepted", "True");
  foreign.parent_ns = "other";
  EXPECT_NE(CheckStatus(foreign, items).find("has no status entry"), std::string::npos);
}

}  // namespace
}  // namespace xgate::conformance

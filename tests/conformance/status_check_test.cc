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

// X13: a ListenerSet is checked as a Gateway is; a Gateway's attachedListenerSets; a route's
// parent of kind ListenerSet and the number of its parents.
json ListenerSetItems() {
  return json::parse(R"([
  {"kind": "Gateway", "metadata": {"name": "gw", "namespace": "infra", "generation": 1},
   "status": {"attachedListenerSets": 2,
     "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": 1}]}},
  {"kind": "Gateway", "metadata": {"name": "closed", "namespace": "infra", "generation": 1},
   "status": {"conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 1}]}},
  {"kind": "ListenerSet", "metadata": {"name": "ls", "namespace": "apps", "generation": 3},
   "status": {
     "conditions": [{"type": "Accepted", "status": "True", "reason": "ListenersNotValid", "observedGeneration": 3}],
     "listeners": [
       {"name": "a", "attachedRoutes": 2,
        "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
        "conditions": [{"type": "Conflicted", "status": "False", "reason": "NoConflicts", "observedGeneration": 3}]},
       {"name": "b", "attachedRoutes": 0, "supportedKinds": [],
        "conditions": [{"type": "Conflicted", "status": "True", "reason": "HostnameConflict", "observedGeneration": 3}]}]}},
  {"kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "apps", "generation": 1},
   "status": {"parents": [
     {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "ListenerSet", "name": "ls"},
      "controllerName": "xgate.dev/node-agent",
      "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": 1}]},
     {"parentRef": {"name": "gw", "namespace": "infra", "sectionName": "a"},
      "controllerName": "xgate.dev/node-agent",
      "conditions": [{"type": "Accepted", "status": "False", "reason": "NoMatchingParent", "observedGeneration": 1}]},
     {"parentRef": {"name": "gw", "namespace": "infra"}, "controllerName": "other.dev/controller",
      "conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 1}]}]}}
])");
}

// An entry for `kind` ns/name, parent `parent_ns`/`parent_name` for routes, checking nothing yet.
StatusCheck Entry(const char* kind, const char* ns, const char* name, const char* parent_ns = "",
                  const char* parent_name = "") {
  StatusCheck c;
  c.kind = kind;
  c.ns = ns;
  c.name = name;
  c.parent_ns = parent_ns;
  c.parent_name = parent_name;
  return c;
}

TEST(ConformanceCheckStatus, ListenerSetsAndTheirCount) {
  json items = ListenerSetItems();
  StatusCheck count = Entry("Gateway", "infra", "gw");
  count.attached_listener_sets = 2;
  EXPECT_EQ(CheckStatus(count, items), "");
  count.attached_listener_sets = 1;
  EXPECT_EQ(CheckStatus(count, items), "Gateway infra/gw has attachedListenerSets 2, want 1");
  // A Gateway that reports no count has none.
  count.name = "closed";
  EXPECT_EQ(CheckStatus(count, items), "Gateway infra/closed has attachedListenerSets 0, want 1");
  count.attached_listener_sets = 0;
  EXPECT_EQ(CheckStatus(count, items), "");

  StatusCheck ls = Entry("ListenerSet", "apps", "ls");
  ls.type = "Accepted";
  ls.status = "True";
  ls.reason = "ListenersNotValid";
  EXPECT_EQ(CheckStatus(ls, items), "");
  ls.reason = "Accepted";
  EXPECT_EQ(CheckStatus(ls, items),
            "ListenerSet apps/ls condition Accepted has reason ListenersNotValid, want Accepted");
  ls.listener = "b";
  ls.type = "Conflicted";
  ls.reason = "HostnameConflict";
  ls.attached_routes = 0;
  ls.supported_kinds = std::vector<std::string>{};
  EXPECT_EQ(CheckStatus(ls, items), "");
  ls.listener = "a";
  ls.attached_routes = 2;
  ls.supported_kinds = std::vector<std::string>{"HTTPRoute"};
  EXPECT_EQ(CheckStatus(ls, items),
            "ListenerSet apps/ls listener a condition Conflicted is False (reason NoConflicts), "
            "want True");
  ls.listener = "c";
  EXPECT_EQ(CheckStatus(ls, items), "ListenerSet apps/ls listener c is not in status.listeners");
  StatusCheck names = Entry("ListenerSet", "apps", "ls");
  names.listeners = std::vector<std::string>{"b", "a"};
  EXPECT_EQ(CheckStatus(names, items), "");
  names.name = "gw";  // a Gateway's name is not a ListenerSet's
  EXPECT_EQ(CheckStatus(names, items), "ListenerSet apps/gw is not reported by the agent");
}

TEST(ConformanceCheckStatus, RouteParentsOfKindListenerSet) {
  json items = ListenerSetItems();
  StatusCheck c = Entry("HTTPRoute", "apps", "r", "apps", "ls");
  c.parent_kind = "ListenerSet";
  c.type = "Accepted";
  c.status = "True";
  EXPECT_EQ(CheckStatus(c, items), "");
  // The same name as a Gateway parent has no entry: the kind must match.
  c.parent_kind = "Gateway";
  EXPECT_EQ(CheckStatus(c, items),
            "HTTPRoute apps/r parent apps/ls has no status entry from xgate.dev/node-agent");
  StatusCheck gw = c;
  gw.parent_ns = "infra";
  gw.parent_name = "gw";
  gw.status = "False";
  gw.reason = "NoMatchingParent";
  EXPECT_EQ(CheckStatus(gw, items), "");
  gw.parent_kind = "ListenerSet";
  EXPECT_EQ(CheckStatus(gw, items),
            "HTTPRoute apps/r parent ListenerSet infra/gw has no status entry from "
            "xgate.dev/node-agent");
  // parentCount counts every parent entry of ours, whatever `parent` names.
  StatusCheck count = Entry("HTTPRoute", "apps", "r", "infra", "nope");
  count.parent_count = 2;
  EXPECT_EQ(CheckStatus(count, items), "");
  count.parent_count = 1;
  EXPECT_EQ(CheckStatus(count, items),
            "HTTPRoute apps/r has 2 parents from xgate.dev/node-agent, want 1");
  c.parent_kind = "ListenerSet";
  c.parent_count = 3;
  EXPECT_EQ(CheckStatus(c, items),
            "HTTPRoute apps/r has 2 parents from xgate.dev/node-agent, want 3");
}

}  // namespace
}  // namespace xgate::conformance

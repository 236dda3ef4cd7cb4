// Route attachment and route status: one case per Accepted and ResolvedRefs reason,
// ReferenceGrant allow/deny, endpoint resolution, v1alpha1 selector binding.
#include <gtest/gtest.h>

#include "tests/binder/testing.h"

namespace xgate::testing {
namespace {

// Our class, Gateway default/gw (HTTP :80 hostname *.example.com from All namespaces,
// HTTP :8080 from Same, HTTP :8081 from namespaces labelled team=a, TCP :5432, UDP :53),
// namespaces a (team=a) and b, and Services with endpoints in a and b.
const char kBase[] = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ours}
spec: {controllerName: xgate.dev/node-agent}
---
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: ours
  addresses: [{value: 198.18.100.1}]
  listeners:
  - {name: web, port: 80, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}
  - {name: same, port: 8080, protocol: HTTP}
  - name: team
    port: 8081
    protocol: HTTP
    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: a}}}}
  - {name: pg, port: 5432, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}
  - {name: dns, port: 53, protocol: UDP, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: a}
spec:
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: a, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}, {name: metrics, port: 9090, protocol: TCP}]
endpoints:
- addresses: [198.18.1.2]
  conditions: {ready: true}
- addresses: [198.18.1.1]
- addresses: [198.18.1.3]
  conditions: {ready: false}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: b}
spec:
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: a}
spec:
  ports: [{port: 53, protocol: UDP}]
)";

std::string HttpRoute(const std::string& ns, const std::string& parent,
                      const std::string& backend = "{name: web, port: 80}",
                      const std::string& extra = "") {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, "
         "namespace: " +
         ns + ", generation: 4}\nspec:\n  parentRefs: [" + parent + "]\n" + extra +
         "  rules:\n  - backendRefs: [" + backend + "]\n";
}

struct RouteCase {
  std::string name;
  std::string route;  // one route named "r"
  model::Kind kind;
  std::string ns;
  std::string accepted;       // "Status/Reason"
  std::string resolved_refs;  // "Status/Reason"
  std::string extra = "";     // more documents
};

void PrintTo(const RouteCase& c, std::ostream* os) { *os << c.name; }

class RouteConditions : public ::testing::TestWithParam<RouteCase> {};

TEST_P(RouteConditions, Reason) {
  const auto& c = GetParam();
  auto b = BindYaml({kBase, c.route, c.extra});
  const auto* s = b->Route(c.kind, c.ns, "r");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->parents.size(), 1u);
  const auto& p = s->parents[0];
  EXPECT_EQ(p.controller_name, "xgate.dev/node-agent");
  EXPECT_EQ(Cond(p.conditions, "Accepted"), c.accepted);
  EXPECT_EQ(Cond(p.conditions, "ResolvedRefs"), c.resolved_refs);
  for (const auto& cond : p.conditions) {
    EXPECT_EQ(cond.observed_generation, c.kind == model::Kind::kHTTPRoute ? 4 : 1) << cond.type;
    EXPECT_EQ(cond.last_transition_time, "2026-01-01T00:00:00Z");
  }
}

std::vector<RouteCase> RouteCases() {
  const auto H = model::Kind::kHTTPRoute;
  const std::string gw = "{name: gw, namespace: default";
  const char grant[] = R"(
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-a, namespace: b}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: a}]
  to: [{group: "", kind: Service, name: web}]
)";
  const char grant_other_name[] = R"(
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-a, namespace: b}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: a}]
  to: [{group: "", kind: Service, name: other}]
)";
  const char grant_other_kind[] = R"(
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-a, namespace: b}
spec:
  from: [{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: a}]
  to: [{group: "", kind: Service}]
)";
  return {
      {"Accepted", HttpRoute("a", gw + ", sectionName: web}"), H, "a", "True/Accepted",
       "True/ResolvedRefs"},
      {"AcceptedWholeGateway", HttpRoute("a", gw + "}"), H, "a", "True/Accepted",
       "True/ResolvedRefs"},
      {"AcceptedByPort", HttpRoute("a", gw + ", port: 80}"), H, "a", "True/Accepted",
       "True/ResolvedRefs"},
      {"NoMatchingParentSection", HttpRoute("a", gw + ", sectionName: nope}"), H, "a",
       "False/NoMatchingParent", "True/ResolvedRefs"},
      {"NoMatchingParentPort", HttpRoute("a", gw + ", port: 9999}"), H, "a",
       "False/NoMatchingParent", "True/ResolvedRefs"},
      {"NoMatchingParentSectionAndPort", HttpRoute("a", gw + ", sectionName: web, port: 8080}"), H,
       "a", "False/NoMatchingParent", "True/ResolvedRefs"},
      {"NotAllowedSameNamespace", HttpRoute("a", gw + ", sectionName: same}"), H, "a",
       "False/NotAllowedByListeners", "True/ResolvedRefs"},
      {"AllowedSameNamespace",
       HttpRoute("default", gw + ", sectionName: same}", "{name: web, namespace: a, port: 80}"), H,
       "default", "True/Accepted", "False/RefNotPermitted"},
      {"AllowedBySelector", HttpRoute("a", gw + ", sectionName: team}"), H, "a", "True/Accepted",
       "True/ResolvedRefs"},
      {"NotAllowedBySelector", HttpRoute("b", gw + ", sectionName: team}"), H, "b",
       "False/NotAllowedByListeners", "True/ResolvedRefs"},
      {"NotAllowedKind",
       "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: r, "
       "namespace: a}\nspec:\n  parentRefs: [" +
           gw + ", sectionName: web}]\n  rules:\n  - backendRefs: [{name: web, port: 80}]\n",
       model::Kind::kTCPRoute, "a", "False/NotAllowedByListeners", "True/ResolvedRefs"},
      {"NoMatchingListenerHostname",
       HttpRoute("a", gw + ", sectionName: web}", "{name: web, port: 80}",
                 "  hostnames: [foo.example.org]\n"),
       H, "a", "False/NoMatchingListenerHostname", "True/ResolvedRefs"},
      {"HostnameIntersects",
       HttpRoute("a", gw + ", sectionName: web}", "{name: web, port: 80}",
                 "  hostnames: [foo.example.org, a.b.example.com]\n"),
       H, "a", "True/Accepted", "True/ResolvedRefs"},
      {"UnsupportedValueRegex",
       "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: "
       "a, generation: 4}\nspec:\n  parentRefs: [" +
           gw +
           "}]\n  rules:\n  - matches: [{path: {type: RegularExpression, value: \"/(unclosed\"}}]\n"
           "    backendRefs: [{name: web, port: 80}]\n",
       H, "a", "False/UnsupportedValue", "True/ResolvedRefs"},
      {"BackendNotFound", HttpRoute("a", gw + "}", "{name: nope, port: 80}"), H, "a",
       "True/Accepted", "False/BackendNotFound"},
      {"BackendPortNotFound", HttpRoute("a", gw + "}", "{name: web, port: 81}"), H, "a",
       "True/Accepted", "False/BackendNotFound"},
      {"InvalidKind", HttpRoute("a", gw + "}", "{kind: ConfigMap, name: web, port: 80}"), H, "a",
       "True/Accepted", "False/InvalidKind"},
      {"InvalidGroup",
       HttpRoute("a", gw + "}", "{group: example.com, kind: Service, name: web, port: 80}"), H, "a",
       "True/Accepted", "False/InvalidKind"},
      {"RefNotPermitted", HttpRoute("a", gw + "}", "{name: web, namespace: b, port: 80}"), H, "a",
       "True/Accepted", "False/RefNotPermitted"},
      {"RefPermittedByGrant", HttpRoute("a", gw + "}", "{name: web, namespace: b, port: 80}"), H,
       "a", "True/Accepted", "True/ResolvedRefs", grant},
      {"GrantForAnotherName", HttpRoute("a", gw + "}", "{name: web, namespace: b, port: 80}"), H,
       "a", "True/Accepted", "False/RefNotPermitted", grant_other_name},
      {"GrantForAnotherKind", HttpRoute("a", gw + "}", "{name: web, namespace: b, port: 80}"), H,
       "a", "True/Accepted", "False/RefNotPermitted", grant_other_kind},
      {"UnsupportedProtocol", HttpRoute("a", gw + "}", "{name: dns, port: 53}"), H, "a",
       "True/Accepted", "False/UnsupportedProtocol"},
      {"UdpRouteToUdpService",
       "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: UDPRoute\nmetadata: {name: r, "
       "namespace: a}\nspec:\n  parentRefs: [" +
           gw + ", sectionName: dns}]\n  rules:\n  - backendRefs: [{name: dns, port: 53}]\n",
       model::Kind::kUDPRoute, "a", "True/Accepted", "True/ResolvedRefs"},
      {"MirrorBackendNotFound",
       "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: "
       "a, generation: 4}\nspec:\n  parentRefs: [" +
           gw +
           "}]\n  rules:\n  - filters:\n    - {type: RequestMirror, requestMirror: {backendRef: "
           "{name: gone, port: 80}}}\n    backendRefs: [{name: web, port: 80}]\n",
       H, "a", "True/Accepted", "False/BackendNotFound"},
  };
}

INSTANTIATE_TEST_SUITE_P(All, RouteConditions, ::testing::ValuesIn(RouteCases()),
                         [](const auto& info) { return info.param.name; });

// The loader refuses RequestRedirect with URLRewrite (as the CRD does); the Store is edited
// by hand to reach the binder's own check.
TEST(RouteStatus, IncompatibleFilters) {
  auto b = BindYaml({kBase, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: a}
spec:
  parentRefs: [{name: gw, namespace: default}]
  rules:
  - filters:
    - {type: RequestRedirect, requestRedirect: {scheme: https}}
)"});
  auto& rule = b->loaded.store.http_routes.Mutable({"a", "r"}).rules.at(0);
  model::HTTPRouteFilter rewrite;
  rewrite.type = model::HTTPFilterType::kURLRewrite;
  rewrite.url_rewrite.hostname = "x.example.com";
  rule.filters.push_back(rewrite);
  b->Rebind();
  const auto* s = b->Route(model::Kind::kHTTPRoute, "a", "r");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Cond(s->parents.at(0).conditions, "Accepted"), "False/IncompatibleFilters");
  EXPECT_EQ(b->Listener("default", "gw", "web")->attached_routes, 0);
}

TEST(RouteStatus, ParentsNotOursGetNoEntry) {
  auto b = BindYaml({kBase, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: foreign, namespace: default}
spec:
  gatewayClassName: theirs
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: foreign}, {name: missing}, {name: gw}]
  rules: [{backendRefs: [{name: web, namespace: a, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: lonely, namespace: default}
spec:
  parentRefs: [{name: foreign}]
)"});
  const auto* s = b->Route(model::Kind::kHTTPRoute, "default", "r");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->parents.size(), 1u);
  EXPECT_EQ(s->parents[0].parent_ref.name, "gw");
  EXPECT_EQ(b->Route(model::Kind::kHTTPRoute, "default", "lonely"), nullptr);
}

TEST(RouteBinding, AttachedRoutesCountsAcceptedRoutes) {
  auto b = BindYaml({kBase, HttpRoute("a", "{name: gw, namespace: default}"), R"(
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r2, namespace: b}
spec:
  parentRefs: [{name: gw, namespace: default, sectionName: web}, {name: gw, namespace: default, sectionName: same}]
  hostnames: [x.example.com]
)"});
  // r attaches to web (All) and team (a is team=a); r2 to web only (same is Same-namespace).
  EXPECT_EQ(b->Listener("default", "gw", "web")->attached_routes, 2);
  EXPECT_EQ(b->Listener("default", "gw", "team")->attached_routes, 1);
  EXPECT_EQ(b->Listener("default", "gw", "same")->attached_routes, 0);
  EXPECT_EQ(b->Listener("default", "gw", "pg")->attached_routes, 0);
  const auto* r2 = b->Route(model::Kind::kHTTPRoute, "b", "r2");
  ASSERT_EQ(r2->parents.size(), 2u);
  EXPECT_EQ(Cond(r2->parents[0].conditions, "Accepted"), "True/Accepted");
  EXPECT_EQ(Cond(r2->parents[1].conditions, "Accepted"), "False/NotAllowedByListeners");
  const auto* web = b->BoundListener("default", "gw", "web");
  ASSERT_EQ(web->routes.size(), 2u);
  EXPECT_EQ(web->routes[1].hostnames, std::vector<std::string>{"x.example.com"});
  EXPECT_EQ(web->routes[0].hostnames, std::vector<std::string>{"*.example.com"});
}

TEST(RouteBinding, SeveralL4RoutesAllAccepted) {
  // Gateway API v1.6 (TCPRouteMultipleRoutesAttachment): every route is accepted; the
  // compiler forwards for the oldest only.
  auto b = BindYaml({kBase, R"(
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: one, namespace: a}
spec:
  parentRefs: [{name: gw, namespace: default, sectionName: pg}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: two, namespace: a}
spec:
  parentRefs: [{name: gw, namespace: default, sectionName: pg}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
)"});
  EXPECT_EQ(b->Listener("default", "gw", "pg")->attached_routes, 2);
}

TEST(BackendResolution, EndpointsFromSlicesByPortName) {
  auto b = BindYaml({kBase, HttpRoute("a", "{name: gw, namespace: default, sectionName: web}")});
  const auto* web = b->BoundListener("default", "gw", "web");
  ASSERT_EQ(web->routes.size(), 1u);
  const auto& backend = web->routes[0].backends->rule_backends.at(0).at(0);
  EXPECT_EQ(backend.invalid_reason, "");
  EXPECT_EQ(backend.ClusterName(), "a/web:80");
  EXPECT_EQ(backend.protocol, "TCP");
  // Ready endpoints only (unset counts as ready), the port number from the slice's "http".
  ASSERT_EQ(backend.endpoints.size(), 2u);
  EXPECT_EQ(backend.endpoints[0].address, "198.18.1.1");
  EXPECT_EQ(backend.endpoints[0].port, 8080);
  EXPECT_EQ(backend.endpoints[1].address, "198.18.1.2");
}

TEST(BackendResolution, ServiceWithoutEndpointsIsValid) {
  auto b = BindYaml({kBase,
                     HttpRoute("a", "{name: gw, namespace: default, sectionName: web}",
                               "{name: web, namespace: b, port: 80}"),
                     R"(
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: b}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: a}]
  to: [{group: "", kind: Service}]
)"});
  const auto& backend =
      b->BoundListener("default", "gw", "web")->routes.at(0).backends->rule_backends.at(0).at(0);
  EXPECT_EQ(backend.invalid_reason, "");
  EXPECT_TRUE(backend.endpoints.empty());
}

TEST(V1alpha1Binding, SelectorAttachesLabelledRoutes) {
  std::string dir = SharedDir() + "/examples/seed-v1alpha1/";
  auto ours =
      BindYaml({"apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n"
                "metadata: {name: acme-lb}\nspec: {controllerName: xgate.dev/node-agent}\n",
                ReadFile(dir + "gateway.yaml"), ReadFile(dir + "foo-route.yaml"),
                ReadFile(dir + "bar-route.yaml"), R"(
apiVersion: networking.x-k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: unlabelled, namespace: foo}
spec:
  rules: [{forwardTo: [{serviceName: x, port: 80}]}]
)"});
  const auto* g = ours->Gateway("default", "prod-web");
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(g->listeners.size(), 1u);
  EXPECT_EQ(g->listeners[0].attached_routes, 2);
  for (const char* ns : {"foo", "bar"}) {
    std::string name = std::string(ns) + "-route";
    const auto* s = ours->Route(model::Kind::kHTTPRoute, ns, name);
    ASSERT_NE(s, nullptr) << name;
    ASSERT_EQ(s->parents.size(), 1u);
    EXPECT_EQ(s->parents[0].parent_ref.name, "prod-web");
    EXPECT_EQ(Cond(s->parents[0].conditions, "Accepted"), "True/Accepted");
  }
  EXPECT_EQ(ours->Route(model::Kind::kHTTPRoute, "foo", "unlabelled"), nullptr);
}

// A route's condition keeps its lastTransitionTime from BindOptions::previous while its status
// is the same and takes `now` when it changes; a route the memo binds as it was keeps the very
// status object it had, times included.
TEST(RouteTransitionTimes, CarriedFromThePreviousStatusesAndSharedByTheMemo) {
  const std::string parent = "{name: gw, namespace: default}";
  auto first = BindYaml({kBase, HttpRoute("a", parent)});  // at 2026-01-01T00:00:00Z
  binder::BindOptions later = first->options;
  later.now = "2026-02-02T00:00:00Z";
  later.previous = &first->result.statuses;
  // The backend gone: ResolvedRefs changes, Accepted does not.
  auto second = BindYaml({kBase, HttpRoute("a", parent, "{name: gone, port: 80}")}, later);
  const auto& conditions =
      second->Route(model::Kind::kHTTPRoute, "a", "r")->parents.at(0).conditions;
  EXPECT_EQ(Cond(conditions, "ResolvedRefs"), "False/BackendNotFound");
  EXPECT_EQ(FindCondition(conditions, "ResolvedRefs")->last_transition_time, later.now);
  EXPECT_EQ(FindCondition(conditions, "Accepted")->last_transition_time, "2026-01-01T00:00:00Z");

  binder::BindMemo memo;
  binder::BindResult bound = binder::Bind(second->loaded.store, later, &memo);
  binder::BindOptions again = later;
  again.now = "2026-03-03T00:00:00Z";
  again.previous = &bound.statuses;
  binder::BindResult rebound = binder::Bind(second->loaded.store, again, &memo);
  EXPECT_EQ(memo.reused, 1u);
  model::ObjectKey r{model::Kind::kHTTPRoute, "a", "r"};
  EXPECT_EQ(rebound.statuses.routes.at(r), bound.statuses.routes.at(r));
  EXPECT_EQ(FindCondition(rebound.statuses.routes.at(r)->parents.at(0).conditions, "ResolvedRefs")
                ->last_transition_time,
            later.now);
}

// A route the memo binds as it was is bound afresh when its Service or one of that Service's
// EndpointSlices is another object than at the last bind, and only then.
TEST(BindMemo, ARouteIsBoundAgainWhenItsBackendsChange) {
  auto b = BindYaml({kBase, HttpRoute("a", "{name: gw, namespace: default}")});
  model::Store store = b->loaded.store;  // the same objects, shared
  binder::BindMemo memo;
  model::ObjectKey r{model::Kind::kHTTPRoute, "a", "r"};
  auto endpoints = [&](const binder::BindResult& result) {
    std::string out;
    for (const auto& l : result.listeners) {
      for (const auto& route : l.routes) {
        for (const auto& e : route.backends->rule_backends.at(0).at(0).endpoints) {
          out += e.address + " ";
        }
        return out;
      }
    }
    return out;
  };
  binder::Bind(store, b->options, &memo);
  EXPECT_EQ(endpoints(binder::Bind(store, b->options, &memo)), "198.18.1.1 198.18.1.2 ");
  EXPECT_EQ(memo.reused, 1u);

  store.endpoint_slices.Mutable({"a", "web-1"}).endpoints.at(0).addresses = {"198.18.1.9"};
  EXPECT_EQ(endpoints(binder::Bind(store, b->options, &memo)), "198.18.1.1 198.18.1.9 ");
  EXPECT_EQ(memo.reused, 0u);

  store.services.Mutable({"b", "web"}).meta.generation = 7;  // not the route's
  binder::Bind(store, b->options, &memo);
  EXPECT_EQ(memo.reused, 1u);

  store.services.erase({"a", "web"});
  binder::BindResult gone = binder::Bind(store, b->options, &memo);
  EXPECT_EQ(memo.reused, 0u);
  EXPECT_EQ(Cond(gone.statuses.routes.at(r)->parents.at(0).conditions, "ResolvedRefs"),
            "False/BackendNotFound");
}

}  // namespace
}  // namespace xgate::testing

// Each networking.x-k8s.io/v1alpha1 conversion rule.
#include <gtest/gtest.h>

#include "agent/model/loader.h"
#include "tests/model/test_util.h"

namespace xgate::model {
namespace {

using testing::Errors;
using testing::Load;

TEST(V1alpha1, GatewayClassControllerBecomesControllerName) {
  LoadResult r = Load(R"(
apiVersion: networking.x-k8s.io/v1alpha1
kind: GatewayClass
metadata: {name: acme-lb}
spec:
  controller: xgate.dev/node-agent
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const auto& gc = r.store.gateway_classes.at({"", "acme-lb"});
  EXPECT_EQ(gc.controller_name, "xgate.dev/node-agent");
  EXPECT_EQ(gc.raw["spec"]["controllerName"], "xgate.dev/node-agent");
  EXPECT_FALSE(gc.raw["spec"].contains("controller"));
}

constexpr char kGateway[] = R"(
kind: Gateway
apiVersion: networking.x-k8s.io/v1alpha1
metadata:
  name: gw
spec:
  gatewayClassName: acme-lb
  addresses:
  - type: IPAddress
    value: 198.18.0.1
  listeners:
  - protocol: HTTPS
    port: 443
    hostname: "*.example.com"
    routes:
      kind: HTTPRoute
      namespaces:
        from: Selector
        selector:
          matchLabels: {team: web}
    tls:
      mode: Terminate
      routeOverride:
        certificate: Allow
      certificateRef:
        name: cert
        namespace: certs
  - protocol: HTTP
    port: 80
    routes:
      kind: HTTPRoute
      group: ""
  - protocol: TCP
    port: 5432
    routes:
      kind: TCPRoute
      group: networking.x-k8s.io
      selector:
        matchExpressions:
        - {key: app, operator: In, values: [pg]}
)";

TEST(V1alpha1, GatewayListenersConvert) {
  LoadResult r = Load(kGateway);
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const Gateway& gw = r.store.gateways.at({"default", "gw"});
  EXPECT_EQ(gw.meta.ns, "default");
  EXPECT_EQ(gw.raw["metadata"]["namespace"], "default");
  ASSERT_EQ(gw.addresses.size(), 1u);
  EXPECT_EQ(gw.addresses[0].type, "IPAddress");
  EXPECT_EQ(gw.addresses[0].value, "198.18.0.1");
  ASSERT_EQ(gw.listeners.size(), 3u);

  const Listener& https = gw.listeners[0];
  EXPECT_EQ(https.name, "https-443");
  EXPECT_EQ(https.hostname, "*.example.com");
  ASSERT_TRUE(https.tls.has_value());
  EXPECT_EQ(https.tls->mode, GatewayTLSConfig::Mode::kTerminate);
  ASSERT_EQ(https.tls->certificate_refs.size(), 1u);
  EXPECT_EQ(https.tls->certificate_refs[0].group, "");
  EXPECT_EQ(https.tls->certificate_refs[0].kind, "Secret");
  EXPECT_EQ(https.tls->certificate_refs[0].name, "cert");
  EXPECT_EQ(https.tls->certificate_refs[0].ns, "certs");
  EXPECT_FALSE(gw.raw["spec"]["listeners"][0]["tls"].contains("routeOverride"));
  EXPECT_FALSE(gw.raw["spec"]["listeners"][0]["tls"].contains("certificateRef"));
  EXPECT_EQ(https.allowed_routes.from, AllowedRoutes::From::kSelector);
  EXPECT_EQ(https.allowed_routes.selector.match_labels.at("team"), "web");
  ASSERT_EQ(https.allowed_routes.kinds.size(), 1u);
  EXPECT_EQ(https.allowed_routes.kinds[0].kind, "HTTPRoute");
  // No routes.selector: every route of an admitted namespace is selected.
  ASSERT_TRUE(https.route_selector.has_value());
  EXPECT_TRUE(https.route_selector->match_labels.empty());
  EXPECT_TRUE(https.route_selector->match_expressions.empty());

  const Listener& http = gw.listeners[1];
  EXPECT_EQ(http.name, "http-80");
  EXPECT_EQ(http.allowed_routes.from, AllowedRoutes::From::kSame);  // v1alpha1 default too
  EXPECT_EQ(http.allowed_routes.kinds[0].group, kGatewayGroup);     // "" meant networking.x-k8s.io

  const Listener& tcp = gw.listeners[2];
  EXPECT_EQ(tcp.allowed_routes.kinds[0].group, kGatewayGroup);
  EXPECT_EQ(tcp.allowed_routes.kinds[0].kind, "TCPRoute");
  ASSERT_TRUE(tcp.route_selector.has_value());
  ASSERT_EQ(tcp.route_selector->match_expressions.size(), 1u);
  EXPECT_TRUE(tcp.route_selector->Matches({{"app", "pg"}}));
  EXPECT_FALSE(tcp.route_selector->Matches({{"app", "web"}}));
}

TEST(V1alpha1, HTTPRouteMatchesConvert) {
  LoadResult r = Load(R"(
apiVersion: networking.x-k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: r, namespace: web}
spec:
  rules:
  - matches:
    - path: {type: Prefix, value: /a}
    - path: {type: Exact, value: /b}
    - path: {type: RegularExpression, value: "/c/[0-9]+"}
    - path: {type: ImplementationSpecific, value: "/d.*"}
    - headers:
        type: RegularExpression
        values:
          x-one: "1.*"
          x-two: two
      queryParams:
        values: {q: v}
    forwardTo:
    - serviceName: svc
      port: 80
    - backendRef: {group: example.com, kind: Bucket, name: b}
      weight: 3
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const HTTPRoute& route = r.store.http_routes.at({"web", "r"});
  ASSERT_EQ(route.rules.size(), 1u);
  const auto& m = route.rules[0].matches;
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0].path.type, PathMatchType::kPathPrefix);
  EXPECT_EQ(m[0].path.value, "/a");
  EXPECT_EQ(m[1].path.type, PathMatchType::kExact);
  EXPECT_EQ(m[2].path.type, PathMatchType::kRegularExpression);
  EXPECT_EQ(m[3].path.type, PathMatchType::kRegularExpression);
  EXPECT_EQ(m[3].path.value, "/d.*");
  // A match with only headers gets the default path, PathPrefix "/".
  EXPECT_EQ(m[4].path.type, PathMatchType::kPathPrefix);
  EXPECT_EQ(m[4].path.value, "/");
  ASSERT_EQ(m[4].headers.size(), 2u);
  EXPECT_EQ(m[4].headers[0].name, "x-one");
  EXPECT_EQ(m[4].headers[0].value, "1.*");
  EXPECT_EQ(m[4].headers[0].type, StringMatchType::kRegularExpression);
  EXPECT_EQ(m[4].headers[1].name, "x-two");
  EXPECT_EQ(m[4].headers[1].type, StringMatchType::kRegularExpression);
  ASSERT_EQ(m[4].query_params.size(), 1u);
  EXPECT_EQ(m[4].query_params[0].name, "q");
  EXPECT_EQ(m[4].query_params[0].type, StringMatchType::kExact);

  const auto& b = route.rules[0].backend_refs;
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].ref.kind, "Service");
  EXPECT_EQ(b[0].ref.group, "");
  EXPECT_EQ(b[0].ref.name, "svc");
  EXPECT_EQ(b[0].ref.port, 80);
  EXPECT_EQ(b[0].weight, 1);
  EXPECT_EQ(b[1].ref.group, "example.com");
  EXPECT_EQ(b[1].ref.kind, "Bucket");
  EXPECT_EQ(b[1].weight, 3);
  EXPECT_FALSE(route.raw["spec"]["rules"][0].contains("forwardTo"));
  EXPECT_TRUE(route.v1alpha1_selector_binding);
}

TEST(V1alpha1, HTTPRouteFiltersConvert) {
  LoadResult r = Load(R"(
apiVersion: networking.x-k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: {x-set: s}
        add: {x-add: a}
        remove: [x-gone]
    - type: RequestMirror
      requestMirror: {serviceName: shadow, port: 8080}
    forwardTo:
    - serviceName: svc
      port: 80
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const auto& f = r.store.http_routes.at({"default", "r"}).rules[0].filters;
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].type, HTTPFilterType::kRequestHeaderModifier);
  ASSERT_EQ(f[0].request_header_modifier.set.size(), 1u);
  EXPECT_EQ(f[0].request_header_modifier.set[0].name, "x-set");
  EXPECT_EQ(f[0].request_header_modifier.add[0].value, "a");
  EXPECT_EQ(f[0].request_header_modifier.remove[0], "x-gone");
  EXPECT_EQ(f[1].type, HTTPFilterType::kRequestMirror);
  EXPECT_EQ(f[1].request_mirror.backend_ref.name, "shadow");
  EXPECT_EQ(f[1].request_mirror.backend_ref.port, 8080);
  EXPECT_FALSE(f[1].request_mirror.numerator.has_value());
}

TEST(V1alpha1, EarlyFilterNamesAndPortlessBackends) {
  LoadResult r = Load(R"(
apiVersion: networking.x-k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - filters:
    - type: ModifyRequestHeader
      modifyRequestHeader:
        add: {x-add: a}
    - type: MirrorRequest
      mirrorRequest: {serviceName: shadow}
    forwardTo:
    - serviceName: svc
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const HTTPRoute& route = r.store.http_routes.at({"default", "r"});
  const auto& f = route.rules[0].filters;
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].type, HTTPFilterType::kRequestHeaderModifier);
  EXPECT_EQ(f[0].request_header_modifier.add[0].name, "x-add");
  EXPECT_EQ(f[1].type, HTTPFilterType::kRequestMirror);
  EXPECT_FALSE(f[1].request_mirror.backend_ref.port.has_value());
  // No port: v1alpha1 used the Service's only port; the binder resolves it.
  EXPECT_FALSE(route.rules[0].backend_refs[0].ref.port.has_value());
  EXPECT_EQ(route.raw.dump().find("x-v1alpha1"), std::string::npos) << route.raw.dump();
}

TEST(V1alpha1, RouteGatewaysConvert) {
  LoadResult r = Load(R"(
apiVersion: networking.x-k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: listed, namespace: web}
spec:
  gateways:
    allow: FromList
    gatewayRefs:
    - {name: gw, namespace: infra}
  rules:
  - forwardTo: [{serviceName: svc, port: 80}]
---
apiVersion: networking.x-k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: same, namespace: web}
spec:
  gateways: {allow: SameNamespace}
  rules:
  - forwardTo: [{serviceName: svc, port: 80}]
---
apiVersion: networking.x-k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: all, namespace: web}
spec:
  gateways: {allow: All}
  rules:
  - forwardTo: [{serviceName: svc, port: 80}]
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const HTTPRoute& listed = r.store.http_routes.at({"web", "listed"});
  EXPECT_FALSE(listed.v1alpha1_selector_binding);
  ASSERT_EQ(listed.parent_refs.size(), 1u);
  EXPECT_EQ(listed.parent_refs[0].name, "gw");
  EXPECT_EQ(listed.parent_refs[0].ns, "infra");
  EXPECT_EQ(listed.parent_refs[0].kind, "Gateway");
  EXPECT_FALSE(listed.raw["spec"].contains("gateways"));
  const HTTPRoute& same = r.store.http_routes.at({"web", "same"});
  EXPECT_TRUE(same.v1alpha1_selector_binding);
  EXPECT_TRUE(same.v1alpha1_same_namespace_only);
  const HTTPRoute& all = r.store.http_routes.at({"web", "all"});
  EXPECT_TRUE(all.v1alpha1_selector_binding);
  EXPECT_FALSE(all.v1alpha1_same_namespace_only);
}

TEST(V1alpha1, L4RoutesConvert) {
  LoadResult r = Load(R"(
apiVersion: networking.x-k8s.io/v1alpha1
kind: TCPRoute
metadata: {name: pg}
spec:
  rules:
  - forwardTo:
    - {serviceName: pg-a, port: 5432, weight: 80}
    - {serviceName: pg-b, port: 5432, weight: 20}
---
apiVersion: networking.x-k8s.io/v1alpha1
kind: UDPRoute
metadata: {name: dns}
spec:
  rules:
  - forwardTo: [{serviceName: dns, port: 53}]
---
apiVersion: networking.x-k8s.io/v1alpha1
kind: TLSRoute
metadata: {name: tls}
spec:
  rules:
  - matches:
    - snis: [a.example.com, "*.b.example.com"]
    forwardTo: [{serviceName: backend, port: 443}]
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const TCPRoute& pg = r.store.tcp_routes.at({"default", "pg"});
  ASSERT_EQ(pg.rules[0].backend_refs.size(), 2u);
  EXPECT_EQ(pg.rules[0].backend_refs[1].weight, 20);
  EXPECT_TRUE(pg.v1alpha1_selector_binding);
  EXPECT_EQ(r.store.udp_routes.at({"default", "dns"}).rules[0].backend_refs[0].ref.name, "dns");
  const TLSRoute& tls = r.store.tls_routes.at({"default", "tls"});
  EXPECT_EQ(tls.hostnames, (std::vector<std::string>{"*.b.example.com", "a.example.com"}));
  EXPECT_EQ(tls.rules[0].backend_refs[0].ref.port, 443);
}

TEST(V1alpha1, WhatV1CannotExpressIsRefused) {
  LoadResult r = Load(R"(apiVersion: networking.x-k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: listed}
spec:
  gateways:
    allow: FromList
---
apiVersion: networking.x-k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: ext}
spec:
  rules:
  - matches:
    - extensionRef: {group: acme.io, kind: Matcher, name: m}
---
apiVersion: networking.x-k8s.io/v1alpha1
kind: TLSRoute
metadata: {name: split}
spec:
  rules:
  - matches: [{snis: [a.example.com]}]
    forwardTo: [{serviceName: a, port: 443}]
  - matches: [{snis: [b.example.com]}]
    forwardTo: [{serviceName: b, port: 443}]
---
apiVersion: networking.x-k8s.io/v1alpha1
kind: ReferenceGrant
metadata: {name: g}
---
apiVersion: networking.x-k8s.io/v1alpha2
kind: HTTPRoute
metadata: {name: r}
)",
                      "old.yaml");
  // (ReferenceGrant never existed in networking.x-k8s.io: not ours, skipped.)
  ASSERT_EQ(r.errors.size(), 4u) << Errors(r);
  EXPECT_EQ(r.errors[0].field, "spec.gateways.gatewayRefs");
  EXPECT_EQ(r.errors[0].pos.line, 5);
  EXPECT_EQ(r.errors[1].field, "spec.rules[0].matches[0].extensionRef");
  EXPECT_EQ(r.errors[1].pos.line, 14);
  EXPECT_EQ(r.errors[2].field, "spec.rules[1].matches");
  EXPECT_EQ(r.errors[2].pos.line, 23);
  EXPECT_EQ(r.errors[3].field, "apiVersion");
  EXPECT_NE(r.errors[3].message.find("networking.x-k8s.io/v1alpha2"), std::string::npos);
  EXPECT_EQ(r.store.Size(), 0u);
}

TEST(V1alpha1, ErrorsPointAtTheWrittenLine) {
  LoadResult r = Load(R"(apiVersion: networking.x-k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - forwardTo:
    - serviceName: svc
      port: 80
      weight: 2000000
)",
                      "old.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "spec.rules[0].backendRefs[0].weight");
  EXPECT_EQ(r.errors[0].pos.line, 9);
  EXPECT_EQ(r.errors[0].object, "HTTPRoute default/r");
  EXPECT_NE(r.errors[0].ToString().find("old.yaml:9: HTTPRoute default/r: "), std::string::npos)
      << r.errors[0].ToString();
}

}  // namespace
}  // namespace xgate::model

// GRPCRoute binding: the kinds HTTP and HTTPS listeners support, route status (Accepted,
// ResolvedRefs with the spec's reasons), ReferenceGrant, and the spec's rule that of an
// HTTPRoute and a GRPCRoute sharing a hostname on a listener only the older is accepted.
#include <gtest/gtest.h>

#include "tests/binder/testing.h"

namespace xgate::testing {
namespace {

const char kBase[] = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ours}
spec: {controllerName: xgate.dev/node-agent}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: ours
  addresses: [{value: 198.18.100.1}]
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - name: http-only
    port: 8080
    protocol: HTTP
    allowedRoutes: {kinds: [{kind: HTTPRoute}]}
  - {name: tcp, port: 5432, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: grpc, namespace: default}
spec:
  ports: [{name: grpc, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: grpc, namespace: other}
spec:
  ports: [{name: grpc, port: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: ws, namespace: default}
spec:
  ports: [{name: ws, port: 80, protocol: TCP, appProtocol: kubernetes.io/ws}]
)";

std::string GrpcRoute(const std::string& name, const std::string& section,
                      const std::string& hostnames = "[]",
                      const std::string& backend = "{name: grpc, port: 8080}",
                      const std::string& timestamp = "") {
  std::string meta = "{name: " + name + ", namespace: default" +
                     (timestamp.empty() ? "" : ", creationTimestamp: \"" + timestamp + "\"") + "}";
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: " + meta +
         "\nspec:\n  parentRefs: [{name: gw, sectionName: " + section +
         "}]\n  hostnames: " + hostnames + "\n  rules:\n  - backendRefs: [" + backend + "]\n";
}

std::string HttpRoute(const std::string& name, const std::string& hostnames,
                      const std::string& timestamp) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " + name +
         ", namespace: default, creationTimestamp: \"" + timestamp +
         "\"}\nspec:\n  parentRefs: [{name: gw, sectionName: http}]\n  hostnames: " + hostnames +
         "\n  rules:\n  - backendRefs: [{name: grpc, port: 8080}]\n";
}

std::string Parent(const Bound& b, model::Kind kind, const std::string& name,
                   const std::string& type) {
  const auto* s = b.Route(kind, "default", name);
  if (s == nullptr || s->parents.size() != 1) return "no single parent";
  return Cond(s->parents[0].conditions, type);
}

TEST(GRPCRouteBinding, HttpListenersSupportGRPCRouteByDefault) {
  auto b = BindYaml({kBase});
  std::vector<std::string> kinds;
  for (const auto& k : b->Listener("default", "gw", "http")->supported_kinds)
    kinds.push_back(k.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"HTTPRoute", "GRPCRoute"}));
  ASSERT_EQ(b->Listener("default", "gw", "http-only")->supported_kinds.size(), 1u);
  ASSERT_EQ(b->Listener("default", "gw", "tcp")->supported_kinds.size(), 1u);
  EXPECT_EQ(b->Listener("default", "gw", "tcp")->supported_kinds[0].kind, "TCPRoute");
}

TEST(GRPCRouteBinding, AcceptedAndResolvedOnAnHttpListener) {
  auto b = BindYaml({kBase, GrpcRoute("r", "http", "[grpc.example.com]")});
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "r", "Accepted"), "True/Accepted");
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "r", "ResolvedRefs"), "True/ResolvedRefs");
  EXPECT_EQ(b->Listener("default", "gw", "http")->attached_routes, 1);
  const auto* bl = b->BoundListener("default", "gw", "http");
  ASSERT_EQ(bl->routes.size(), 1u);
  EXPECT_EQ(bl->routes[0].hostnames, std::vector<std::string>{"grpc.example.com"});
}

TEST(GRPCRouteBinding, RefusedWhereTheListenerDoesNotAllowTheKind) {
  auto b = BindYaml({kBase, GrpcRoute("r", "http-only"), GrpcRoute("t", "tcp")});
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "r", "Accepted"), "False/NotAllowedByListeners");
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "t", "Accepted"), "False/NotAllowedByListeners");
}

TEST(GRPCRouteBinding, ResolvedRefsReasons) {
  auto b = BindYaml({kBase, GrpcRoute("missing", "http", "[]", "{name: nope, port: 8080}"),
                     GrpcRoute("cross", "http", "[]", "{name: grpc, namespace: other, port: 8080}"),
                     GrpcRoute("kind", "http", "[]", "{name: grpc, kind: Pod, port: 8080}"),
                     GrpcRoute("ws", "http", "[]", "{name: ws, port: 80}")});
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "missing", "ResolvedRefs"),
            "False/BackendNotFound");
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "cross", "ResolvedRefs"), "False/RefNotPermitted");
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "kind", "ResolvedRefs"), "False/InvalidKind");
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "ws", "ResolvedRefs"), "False/UnsupportedProtocol");
  // Still accepted: requests to an invalid backend get an error, the rest is served.
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "missing", "Accepted"), "True/Accepted");
}

TEST(GRPCRouteBinding, ReferenceGrantForGRPCRouteAllowsTheCrossNamespaceBackend) {
  const char grant[] = R"(
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: GRPCRoute, namespace: default}]
  to: [{group: "", kind: Service}]
)";
  auto b =
      BindYaml({kBase, grant,
                GrpcRoute("cross", "http", "[]", "{name: grpc, namespace: other, port: 8080}")});
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "cross", "ResolvedRefs"), "True/ResolvedRefs");
}

TEST(GRPCRouteBinding, InvalidRegularExpressionIsUnsupportedValue) {
  std::string route = GrpcRoute("r", "http");
  route.replace(route.find("  - backendRefs"), 0,
                "  - matches: [{method: {type: RegularExpression, service: \"a(\"}}]\n"
                "    backendRefs: [{name: grpc, port: 8080}]\n");
  auto b = BindYaml({kBase, route});
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "r", "Accepted"), "False/UnsupportedValue");
}

TEST(GRPCRouteBinding, OfAnHttpRouteAndAGrpcRouteSharingAHostnameTheOlderIsAccepted) {
  // The GRPCRoute is older: the HTTPRoute on an intersecting hostname is refused.
  auto b = BindYaml({kBase, HttpRoute("web", "[\"*.example.com\"]", "2026-01-02T00:00:00Z"),
                     GrpcRoute("rpc", "http", "[a.example.com]", "{name: grpc, port: 8080}",
                               "2026-01-01T00:00:00Z"),
                     HttpRoute("other", "[other.test]", "2026-01-03T00:00:00Z")});
  EXPECT_EQ(Parent(*b, model::Kind::kGRPCRoute, "rpc", "Accepted"), "True/Accepted");
  EXPECT_EQ(Parent(*b, model::Kind::kHTTPRoute, "web", "Accepted"), "False/NotAllowedByListeners");
  const auto* s = b->Route(model::Kind::kHTTPRoute, "default", "web");
  EXPECT_NE(
      FindCondition(s->parents[0].conditions, "Accepted")->message.find("GRPCRoute default/rpc"),
      std::string::npos);
  // Disjoint hostnames do not conflict.
  EXPECT_EQ(Parent(*b, model::Kind::kHTTPRoute, "other", "Accepted"), "True/Accepted");
  EXPECT_EQ(b->Listener("default", "gw", "http")->attached_routes, 2);

  // The HTTPRoute older: the GRPCRoute is refused.
  auto c = BindYaml({kBase, HttpRoute("web", "[\"*.example.com\"]", "2025-01-01T00:00:00Z"),
                     GrpcRoute("rpc", "http", "[a.example.com]", "{name: grpc, port: 8080}",
                               "2026-01-01T00:00:00Z")});
  EXPECT_EQ(Parent(*c, model::Kind::kHTTPRoute, "web", "Accepted"), "True/Accepted");
  EXPECT_EQ(Parent(*c, model::Kind::kGRPCRoute, "rpc", "Accepted"), "False/NotAllowedByListeners");

  // Equal timestamps: "{namespace}/{name}" decides ("default/a-web" before "default/rpc").
  auto d = BindYaml(
      {kBase, HttpRoute("a-web", "[]", "2026-01-01T00:00:00Z"),
       GrpcRoute("rpc", "http", "[]", "{name: grpc, port: 8080}", "2026-01-01T00:00:00Z")});
  EXPECT_EQ(Parent(*d, model::Kind::kHTTPRoute, "a-web", "Accepted"), "True/Accepted");
  EXPECT_EQ(Parent(*d, model::Kind::kGRPCRoute, "rpc", "Accepted"), "False/NotAllowedByListeners");
}

}  // namespace
}  // namespace xgate::testing

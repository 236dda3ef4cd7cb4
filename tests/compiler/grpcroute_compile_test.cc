// GRPCRoute compiled to the proxy's route table: the method match as a path match, POST
// only, the GRPCRoute precedence (service characters, method characters, header matches),
// backends forced to HTTP/2; checked through the proxy's own RouteTable.
#include <gtest/gtest.h>

#include "agent/compiler/compiler.h"
#include "agent/compiler/grpc_match.h"
#include "tests/binder/testing.h"
#include "userspace-proxy/routing/router.h"

namespace xgate::testing {
namespace {

model::GRPCRouteMatch Method(model::GRPCMethodMatchType type, const std::string& service,
                             const std::string& method) {
  model::GRPCRouteMatch m;
  m.method = model::GRPCMethodMatch{type, service, method};
  return m;
}

TEST(GRPCMatch, MethodMatchBecomesAPathMatch) {
  using T = model::GRPCMethodMatchType;
  auto exact = compiler::GRPCToHTTPMatch(Method(T::kExact, "pkg.Svc", "Echo"));
  EXPECT_EQ(exact.path.type, model::PathMatchType::kExact);
  EXPECT_EQ(exact.path.value, "/pkg.Svc/Echo");
  EXPECT_EQ(exact.method, "POST");

  auto service = compiler::GRPCToHTTPMatch(Method(T::kExact, "pkg.Svc", ""));
  EXPECT_EQ(service.path.type, model::PathMatchType::kPathPrefix);
  EXPECT_EQ(service.path.value, "/pkg.Svc/");

  auto method = compiler::GRPCToHTTPMatch(Method(T::kExact, "", "Echo"));
  EXPECT_EQ(method.path.type, model::PathMatchType::kRegularExpression);
  EXPECT_EQ(method.path.value, "/[^/]+/Echo");

  auto regex = compiler::GRPCToHTTPMatch(Method(T::kRegularExpression, "pkg\\..*", "Echo.*"));
  EXPECT_EQ(regex.path.type, model::PathMatchType::kRegularExpression);
  EXPECT_EQ(regex.path.value, "/(?:pkg\\..*)/(?:Echo.*)");

  model::GRPCRouteMatch any;
  any.headers.push_back({model::StringMatchType::kExact, "version", "two"});
  auto all = compiler::GRPCToHTTPMatch(any);
  EXPECT_EQ(all.path.type, model::PathMatchType::kPathPrefix);
  EXPECT_EQ(all.path.value, "/");
  ASSERT_EQ(all.headers.size(), 1u);
  EXPECT_EQ(all.headers[0].name, "version");
}

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
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec:
  ports:
  - {name: a, port: 1, protocol: TCP}
  - {name: b, port: 2, protocol: TCP}
  - {name: c, port: 3, protocol: TCP}
  - {name: d, port: 4, protocol: TCP, appProtocol: kubernetes.io/h2c}
  - {name: e, port: 5, protocol: TCP}
  - {name: f, port: 6, protocol: TCP}
---
# The older route: its rules are less specific, so they rank after the newer route's.
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: old, namespace: default, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{method: {service: pkg.Svc}}]
    backendRefs: [{name: s, port: 1}]
  - matches: [{method: {method: Echo}}]
    backendRefs: [{name: s, port: 2}]
  - backendRefs: [{name: s, port: 6}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: new, namespace: default, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{method: {service: pkg.Svc, method: Echo}}]
    backendRefs: [{name: s, port: 3}]
  - matches: [{method: {service: pkg.Svc, method: Echo}, headers: [{name: v, value: "2"}]}]
    backendRefs: [{name: s, port: 4}]
  - matches: [{method: {type: RegularExpression, service: "other\\..*", method: "Get.*"}}]
    backendRefs: [{name: s, port: 5}]
)";

class GRPCCompile : public ::testing::Test {
 protected:
  void SetUp() override {
    bound_ = BindYaml({kBase});
    snapshot_ = compiler::Compile(bound_->result, 1);
    auto table = routing::RouteTable::Build(snapshot_->l7);
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = *table;
  }

  // The Service port the request lands on ("" when unrouted).
  std::string Route(const std::string& path, const std::string& method = "POST",
                    const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http::RequestHead head;
    head.method = method;
    head.path = path;
    head.host = "198.18.100.1";
    for (const auto& [n, v] : headers) head.headers.Add(n, v);
    routing::MatchInput in;
    in.local_address = "198.18.100.1";
    in.local_port = 80;
    in.request = &head;
    routing::RouteDecision d = table_->Match(in);
    if (d.outcome != routing::RouteDecision::Outcome::kRouted) return "";
    return d.route->route->backends(0).cluster();
  }

  std::unique_ptr<Bound> bound_;
  std::shared_ptr<const compiler::Snapshot> snapshot_;
  std::shared_ptr<const routing::RouteTable> table_;
};

TEST_F(GRPCCompile, RequestsLandByTheGRPCRoutePrecedence) {
  EXPECT_EQ(Route("/pkg.Svc/Echo", "POST", {{"v", "2"}}), "default/s:4");
  EXPECT_EQ(Route("/pkg.Svc/Echo"), "default/s:3+h2c");
  EXPECT_EQ(Route("/pkg.Svc/Other"), "default/s:1+h2c");
  EXPECT_EQ(Route("/x.Y/Echo"), "default/s:2+h2c");
  EXPECT_EQ(Route("/other.Z/GetThing"), "default/s:5+h2c");
  EXPECT_EQ(Route("/other.Z/Put"), "default/s:6+h2c");
  EXPECT_EQ(Route("/pkg.Svc/Echo", "GET"), "") << "gRPC is POST only";
}

TEST_F(GRPCCompile, BackendsSpeakHttp2) {
  std::map<std::string, api::UpstreamProtocol> protocols;
  for (const auto& c : snapshot_->l7.clusters()) protocols[c.name()] = c.protocol();
  ASSERT_EQ(protocols.size(), 6u);
  for (const auto& [name, protocol] : protocols) EXPECT_EQ(protocol, api::H2C) << name;
  EXPECT_TRUE(protocols.contains("default/s:4")) << "appProtocol h2c keeps the port's own cluster";
}

}  // namespace
}  // namespace xgate::testing

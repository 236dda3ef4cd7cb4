// ListenerSet entries in the data plane: they join their Gateway's port (one port, one set of
// listeners to pick a virtual host from), each under a name unique on that port even when
// two ListenerSets name their entries alike; L4 entries are L4 listeners of the Gateway.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <set>

#include "agent/compiler/compiler.h"
#include "tests/binder/testing.h"

namespace xgate::testing {
namespace {

const char kManifests[] = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ours}
spec: {controllerName: xgate.dev/node-agent}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: ours
  allowedListeners: {namespaces: {from: All}}
  listeners: [{name: web, port: 80, protocol: HTTP, hostname: gw.example.com}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: a, namespace: apps}
spec:
  parentRef: {name: gw, namespace: infra}
  listeners:
  - {name: web, port: 80, protocol: HTTP, hostname: a.example.com}
  - {name: db, port: 5432, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: b, namespace: apps}
spec:
  parentRef: {name: gw, namespace: infra}
  listeners: [{name: web, port: 80, protocol: HTTP, hostname: b.example.com}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: apps}
spec:
  parentRefs: [{kind: ListenerSet, name: a}, {kind: ListenerSet, name: b}]
  rules: [{backendRefs: [{name: s, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: t, namespace: apps}
spec:
  parentRefs: [{kind: ListenerSet, name: a, sectionName: db}]
  rules: [{backendRefs: [{name: s, port: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: apps}
spec: {ports: [{port: 80}]}
)";

TEST(ListenerSetCompile, EntriesJoinTheGatewaysPortUnderDistinctNames) {
  auto b = BindYaml({kManifests});
  ASSERT_TRUE(binder::AllAccepted(b->result));
  auto snapshot = compiler::Compile(b->result, 1);
  ASSERT_EQ(snapshot->l7.ports_size(), 1);
  const api::Port& port = snapshot->l7.ports(0);
  EXPECT_EQ(port.port(), 80u);
  std::set<std::string> names;
  std::map<std::string, std::string> host_of;
  for (const auto& l : port.listeners()) {
    EXPECT_EQ(l.gateway_namespace(), "infra");
    EXPECT_EQ(l.gateway_name(), "gw");
    names.insert(l.name());
    host_of[l.name()] = l.hostname();
    // The route reaches the entries of both sets, not the Gateway's own listener.
    EXPECT_EQ(l.virtual_hosts_size(), l.name() == "web" ? 0 : 1) << l.name();
  }
  EXPECT_EQ(names, (std::set<std::string>{"web", "apps/a/web", "apps/b/web"}));
  EXPECT_EQ(host_of["apps/a/web"], "a.example.com");
  EXPECT_EQ(host_of["apps/b/web"], "b.example.com");

  ASSERT_EQ(snapshot->l4.size(), 1u);
  EXPECT_EQ(snapshot->l4[0].gateway, "infra/gw");
  EXPECT_EQ(snapshot->l4[0].listener, "apps/a/db");
  EXPECT_EQ(snapshot->l4[0].port, 5432);
  EXPECT_EQ(snapshot->l4[0].protocol, IPPROTO_TCP);
  EXPECT_EQ(snapshot->l4[0].route, "TCPRoute apps/t");
}

TEST(ListenerSetCompile, AConflictedEntryIsNotServed) {
  std::string yaml = kManifests;
  // b's entry now claims the Gateway's own hostname: it loses, a's stays.
  yaml.replace(yaml.find("b.example.com"), 13, "gw.example.com");
  auto b = BindYaml({yaml});
  auto snapshot = compiler::Compile(b->result, 1);
  ASSERT_EQ(snapshot->l7.ports_size(), 1);
  std::set<std::string> names;
  for (const auto& l : snapshot->l7.ports(0).listeners()) names.insert(l.name());
  EXPECT_EQ(names, (std::set<std::string>{"web", "apps/a/web"}));
}

}  // namespace
}  // namespace xgate::testing

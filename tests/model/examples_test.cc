// The shared examples load verbatim, and the 2021 seed converts to the same routing as the
// v1 seed.
#include <gtest/gtest.h>

#include "agent/model/loader.h"
#include "tests/model/test_util.h"

namespace xgate::model {
namespace {

using testing::Errors;

const std::filesystem::path kExamples = std::filesystem::path(XGATE_SHARED_DIR) / "examples";

LoadResult LoadExample(const std::string& dir) {
  auto r = LoadDirectory(kExamples / dir);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : LoadResult{};
}

TEST(Examples, SeedV1LoadsWithoutErrors) {
  LoadResult r = LoadExample("seed-v1");
  EXPECT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.store.gateway_classes.size(), 1u);
  EXPECT_EQ(r.store.gateways.size(), 1u);
  EXPECT_EQ(r.store.http_routes.size(), 2u);
  EXPECT_EQ(r.store.services.size(), 5u);
  EXPECT_EQ(r.store.endpoint_slices.size(), 5u);
  const auto& gc = r.store.gateway_classes.at({"", "acme-lb"});
  EXPECT_EQ(gc.controller_name, kControllerName);
  const auto& slice = r.store.endpoint_slices.at({"bar", "bar-v1-1"});
  EXPECT_EQ(slice.service_name, "bar-v1");
  ASSERT_EQ(slice.endpoints.size(), 2u);
  EXPECT_EQ(slice.endpoints[1].addresses[0], "198.18.2.12");
  EXPECT_TRUE(slice.endpoints[1].ready);
}

TEST(Examples, SeedV1alpha1LoadsWithoutErrors) {
  LoadResult r = LoadExample("seed-v1alpha1");
  EXPECT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.store.gateways.size(), 1u);
  EXPECT_EQ(r.store.http_routes.size(), 2u);
  const Gateway& gw = r.store.gateways.at({"default", "prod-web"});
  EXPECT_EQ(gw.api_version, "networking.x-k8s.io/v1alpha1");
  EXPECT_EQ(gw.raw["apiVersion"], "gateway.networking.k8s.io/v1");
  ASSERT_EQ(gw.listeners.size(), 1u);
  const Listener& l = gw.listeners[0];
  ASSERT_TRUE(l.route_selector.has_value());
  EXPECT_EQ(l.route_selector->match_labels.at("gateway"), "external-https-prod");
  EXPECT_FALSE(gw.raw["spec"]["listeners"][0].contains("x-v1alpha1RouteSelector"));
  for (const auto& [key, route] : r.store.http_routes) {
    EXPECT_TRUE(route.v1alpha1_selector_binding) << key.second;
    EXPECT_FALSE(route.v1alpha1_same_namespace_only) << key.second;
    EXPECT_TRUE(route.parent_refs.empty());
  }
}

TEST(Examples, L4LoadsWithoutErrors) {
  LoadResult r = LoadExample("l4");
  EXPECT_TRUE(r.errors.empty()) << Errors(r);
  const TCPRoute& pg = r.store.tcp_routes.at({"default", "pg"});
  ASSERT_EQ(pg.rules.size(), 1u);
  ASSERT_EQ(pg.rules[0].backend_refs.size(), 2u);
  EXPECT_EQ(pg.rules[0].backend_refs[0].weight, 80);
  EXPECT_EQ(pg.rules[0].backend_refs[1].weight, 20);
  EXPECT_EQ(pg.parent_refs[0].section_name, "pg");
  const UDPRoute& dns = r.store.udp_routes.at({"default", "dns"});
  EXPECT_EQ(dns.rules[0].backend_refs[0].weight, 1);
  EXPECT_EQ(dns.rules[0].backend_refs[0].ref.port, 53);
  const Gateway& edge = r.store.gateways.at({"default", "edge"});
  ASSERT_EQ(edge.addresses.size(), 1u);
  EXPECT_EQ(edge.addresses[0].value, "198.18.100.10");
  EXPECT_EQ(edge.listeners[1].protocol, "UDP");
  EXPECT_EQ(r.store.endpoint_slices.at({"default", "dns-1"}).endpoints.size(), 3u);
}

// The parts of a route that decide where a request goes.
std::string Routing(const HTTPRoute& route) {
  nlohmann::json out;
  out["hostnames"] = route.hostnames;
  for (const auto& rule : route.rules) {
    nlohmann::json r;
    for (const auto& m : rule.matches) {
      nlohmann::json mj = {{"path", {static_cast<int>(m.path.type), m.path.value}}};
      for (const auto& h : m.headers) {
        mj["headers"].push_back({static_cast<int>(h.type), h.name, h.value});
      }
      r["matches"].push_back(mj);
    }
    for (const auto& b : rule.backend_refs) {
      r["backends"].push_back({b.ref.group, b.ref.kind, b.ref.ns.value_or(route.meta.ns),
                               b.ref.name, b.ref.port.value_or(0), b.weight});
    }
    r["filters"] = rule.filters.size();
    out["rules"].push_back(r);
  }
  return out.dump();
}

TEST(Examples, SeedV1alpha1RoutesLikeSeedV1) {
  LoadResult old = LoadExample("seed-v1alpha1");
  LoadResult now = LoadExample("seed-v1");
  ASSERT_EQ(old.store.http_routes.size(), now.store.http_routes.size());
  for (const auto& [key, route] : now.store.http_routes) {
    ASSERT_TRUE(old.store.http_routes.count(key)) << key.second;
    EXPECT_EQ(Routing(old.store.http_routes.at(key)), Routing(route)) << key.second;
    EXPECT_EQ(old.store.http_routes.at(key).raw["spec"]["rules"], route.raw["spec"]["rules"]);
  }
  const Gateway& a = old.store.gateways.at({"default", "prod-web"});
  const Gateway& b = now.store.gateways.at({"default", "prod-web"});
  ASSERT_EQ(a.listeners.size(), b.listeners.size());
  EXPECT_EQ(a.listeners[0].port, b.listeners[0].port);
  EXPECT_EQ(a.listeners[0].protocol, b.listeners[0].protocol);
  EXPECT_EQ(a.listeners[0].allowed_routes.from, AllowedRoutes::From::kAll);
  EXPECT_EQ(a.listeners[0].allowed_routes.from, b.listeners[0].allowed_routes.from);
  ASSERT_EQ(a.listeners[0].allowed_routes.kinds.size(), 1u);
  EXPECT_EQ(a.listeners[0].allowed_routes.kinds[0].kind, "HTTPRoute");
  EXPECT_EQ(a.listeners[0].allowed_routes.kinds[0].group, kGatewayGroup);
  EXPECT_EQ(a.raw["spec"]["listeners"][0]["tls"], b.raw["spec"]["listeners"][0]["tls"]);
  EXPECT_EQ(a.raw["spec"]["listeners"][0]["allowedRoutes"],
            b.raw["spec"]["listeners"][0]["allowedRoutes"]);
}

TEST(Examples, CreationIndexFollowsPathThenDocumentOrder) {
  LoadResult r = LoadExample("seed-v1");
  // bar.yaml < foo.yaml < gateway.yaml; within bar.yaml the route comes first.
  int64_t bar_route = r.store.http_routes.at({"bar", "bar-route"}).meta.creation_index;
  int64_t bar_v1 = r.store.services.at({"bar", "bar-v1"}).meta.creation_index;
  int64_t foo_route = r.store.http_routes.at({"foo", "foo-route"}).meta.creation_index;
  int64_t gw = r.store.gateways.at({"default", "prod-web"}).meta.creation_index;
  EXPECT_LT(bar_route, bar_v1);
  EXPECT_LT(bar_v1, foo_route);
  EXPECT_LT(foo_route, gw);
  const auto& src = r.store.http_routes.at({"foo", "foo-route"}).meta.source;
  EXPECT_EQ(src.file, (kExamples / "seed-v1" / "foo.yaml").string());
  EXPECT_EQ(src.line, 1);
  EXPECT_EQ(r.store.services.at({"foo", "foo-auth"}).meta.source.line, 35);
}

TEST(Examples, MissingFolderIsAnError) {
  auto r = LoadDirectory(kExamples / "no-such-folder");
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace xgate::model

// The compiler on the seed scenario (v1 and v1alpha1), the L4 example, route precedence,
// and determinism.
#include "agent/compiler/compiler.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <map>
#include <set>

#include "tests/binder/testing.h"

namespace xgate::testing {
namespace {

const char kAcmeLb[] =
    "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: acme-lb}\n"
    "spec: {controllerName: xgate.dev/node-agent}\n";

// A Gateway "gw" with one HTTP listener for *.example.com, and a Service "s" on port 80.
const char kGatewayAndService[] = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: acme-lb
  listeners: [{name: http, port: 80, protocol: HTTP, hostname: "*.example.com"}]
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec: {ports: [{port: 80}]}
)";

std::string Example(const std::string& path) { return ReadFile(SharedDir() + "/examples/" + path); }

std::vector<std::string> SeedV1() {
  return {Example("seed-v1/gateway.yaml"), Example("seed-v1/foo.yaml"), Example("seed-v1/bar.yaml"),
          TlsSecretYaml("default", "admin-controlled-cert", SelfSignedCert("*.example.com"))};
}

// The v1alpha1 manifests verbatim, plus what the article leaves out: the class, the
// Secret, and the Services and EndpointSlices of the v1 set (without its routes).
std::vector<std::string> SeedV1alpha1() {
  auto without_routes = [](std::string yaml) {
    size_t end = yaml.find("\n---\n");
    return yaml.substr(end + 5);  // each v1 file starts with its HTTPRoute
  };
  return {kAcmeLb,
          Example("seed-v1alpha1/gateway.yaml"),
          Example("seed-v1alpha1/foo-route.yaml"),
          Example("seed-v1alpha1/bar-route.yaml"),
          without_routes(Example("seed-v1/foo.yaml")),
          without_routes(Example("seed-v1/bar.yaml")),
          TlsSecretYaml("default", "admin-controlled-cert", SelfSignedCert("*.example.com"))};
}

const api::VirtualHost* FindVhost(const api::Listener& l, const std::string& host) {
  for (const auto& vh : l.virtual_hosts()) {
    if (vh.hostname() == host) return &vh;
  }
  return nullptr;
}

void ExpectSeed(const Bound& b, const compiler::Snapshot& snap) {
  // Both routes accepted on the https listener.
  for (const char* ns : {"foo", "bar"}) {
    const auto* s = b.Route(model::Kind::kHTTPRoute, ns, std::string(ns) + "-route");
    ASSERT_NE(s, nullptr) << ns;
    ASSERT_EQ(s->parents.size(), 1u);
    EXPECT_EQ(Cond(s->parents[0].conditions, "Accepted"), "True/Accepted") << ns;
    EXPECT_EQ(Cond(s->parents[0].conditions, "ResolvedRefs"), "True/ResolvedRefs") << ns;
  }
  const auto* gw = b.Gateway("default", "prod-web");
  ASSERT_NE(gw, nullptr);
  ASSERT_EQ(gw->listeners.size(), 1u);
  EXPECT_EQ(gw->listeners[0].attached_routes, 2);
  EXPECT_EQ(Cond(gw->listeners[0].conditions, "Programmed"), "True/Programmed");
  EXPECT_TRUE(binder::AllAccepted(b.result));

  ASSERT_EQ(snap.l7.ports_size(), 1);
  const auto& port = snap.l7.ports(0);
  EXPECT_EQ(port.port(), 443u);
  EXPECT_EQ(port.protocol(), api::Port::HTTPS);
  ASSERT_EQ(port.addresses_size(), 1);
  EXPECT_EQ(port.addresses(0), "198.18.0.1");
  ASSERT_EQ(port.listeners_size(), 1);
  const auto& listener = port.listeners(0);
  ASSERT_EQ(listener.certificates_size(), 1);
  EXPECT_EQ(listener.certificates(0), "default/admin-controlled-cert");
  ASSERT_EQ(snap.l7.certificates_size(), 1);
  EXPECT_NE(snap.l7.certificates(0).cert_pem().find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(snap.l7.certificates(0).key_pem().find("PRIVATE KEY"), std::string::npos);
  ASSERT_EQ(listener.virtual_hosts_size(), 2);
  EXPECT_EQ(listener.virtual_hosts(0).hostname(), "bar.example.com");
  EXPECT_EQ(listener.virtual_hosts(1).hostname(), "foo.example.com");

  const auto* foo = FindVhost(listener, "foo.example.com");
  ASSERT_NE(foo, nullptr);
  ASSERT_EQ(foo->routes_size(), 3);
  const std::pair<const char*, const char*> want[] = {
      {"/login", "foo/foo-auth:8080"}, {"/home", "foo/foo-home:8080"}, {"/", "foo/foo-404:8080"}};
  for (int i = 0; i < 3; ++i) {
    const auto& r = foo->routes(i);
    EXPECT_EQ(r.match().path().type(), api::PathMatch::PATH_PREFIX);
    EXPECT_EQ(r.match().path().value(), want[i].first);
    ASSERT_EQ(r.backends_size(), 1);
    EXPECT_EQ(r.backends(0).cluster(), want[i].second);
  }

  const auto* bar = FindVhost(listener, "bar.example.com");
  ASSERT_NE(bar, nullptr);
  ASSERT_EQ(bar->routes_size(), 2);
  // The env: canary rule (one header match) before the catch-all.
  const auto& canary = bar->routes(0);
  EXPECT_EQ(canary.rule_index(), 1u);
  ASSERT_EQ(canary.match().headers_size(), 1);
  EXPECT_EQ(canary.match().headers(0).name(), "env");
  EXPECT_EQ(canary.match().headers(0).value(), "canary");
  ASSERT_EQ(canary.backends_size(), 1);
  EXPECT_EQ(canary.backends(0).cluster(), "bar/bar-v2:8080");
  const auto& split = bar->routes(1);
  EXPECT_EQ(split.rule_index(), 0u);
  ASSERT_EQ(split.backends_size(), 2);
  EXPECT_EQ(split.backends(0).cluster(), "bar/bar-v1:8080");
  EXPECT_EQ(split.backends(0).weight(), 90u);
  EXPECT_EQ(split.backends(1).cluster(), "bar/bar-v2:8080");
  EXPECT_EQ(split.backends(1).weight(), 10u);

  // Clusters carry the EndpointSlice endpoints.
  std::map<std::string, int> endpoints;
  for (const auto& c : snap.l7.clusters()) endpoints[c.name()] = c.endpoints_size();
  EXPECT_EQ(endpoints, (std::map<std::string, int>{{"bar/bar-v1:8080", 2},
                                                   {"bar/bar-v2:8080", 1},
                                                   {"foo/foo-404:8080", 1},
                                                   {"foo/foo-auth:8080", 1},
                                                   {"foo/foo-home:8080", 1}}));
  ASSERT_EQ(snap.punt.size(), 1u);
  EXPECT_EQ(snap.punt[0].address, "198.18.0.1");
  EXPECT_EQ(snap.punt[0].port, 443);
  EXPECT_TRUE(snap.l4.empty());
  EXPECT_EQ(snap.Summary(),
            std::vector<std::string>{"L7 198.18.0.1:443 https: 1 listeners, 5 routes"});
}

TEST(Seed, V1) {
  auto b = BindYaml(SeedV1());
  auto snap = compiler::Compile(b->result, 1);
  ExpectSeed(*b, *snap);
}

TEST(Seed, V1alpha1) {
  auto b = BindYaml(SeedV1alpha1());
  auto snap = compiler::Compile(b->result, 1);
  ExpectSeed(*b, *snap);
}

TEST(L4Example, WeightsInPartsPerMillion) {
  auto b = BindYaml({kAcmeLb, Example("l4/l4.yaml")});
  auto snap = compiler::Compile(b->result, 9);
  EXPECT_EQ(snap->generation, 9u);
  ASSERT_EQ(snap->l4.size(), 2u);
  EXPECT_TRUE(snap->punt.empty());
  EXPECT_EQ(snap->l7.ports_size(), 0);

  const auto& pg = snap->l4[0];
  EXPECT_EQ(pg.gateway, "default/edge");
  EXPECT_EQ(pg.listener, "pg");
  EXPECT_EQ(pg.route, "TCPRoute default/pg");
  EXPECT_EQ(pg.address, "198.18.100.10");
  EXPECT_EQ(pg.port, 5432);
  EXPECT_EQ(pg.protocol, IPPROTO_TCP);
  ASSERT_EQ(pg.backends.size(), 2u);
  EXPECT_EQ(pg.backends[0].address, "198.18.3.11");
  EXPECT_EQ(pg.backends[0].port, 5432);
  EXPECT_EQ(pg.backends[0].weight, 800000u);
  EXPECT_EQ(pg.backends[0].service, "default/pg-primary");
  EXPECT_EQ(pg.backends[1].address, "198.18.3.21");
  EXPECT_EQ(pg.backends[1].weight, 200000u);

  const auto& dns = snap->l4[1];
  EXPECT_EQ(dns.listener, "dns");
  EXPECT_EQ(dns.port, 53);
  EXPECT_EQ(dns.protocol, IPPROTO_UDP);
  ASSERT_EQ(dns.backends.size(), 3u);
  uint32_t total = 0;
  for (const auto& be : dns.backends) {
    EXPECT_NEAR(be.weight, 333333, 1);
    total += be.weight;
  }
  EXPECT_NEAR(total, 1000000, 3);
  EXPECT_EQ(snap->Summary(), (std::vector<std::string>{"L4 198.18.100.10:5432/tcp -> 2 backends",
                                                       "L4 198.18.100.10:53/udp -> 3 backends"}));
}

TEST(L4, OldestRouteWinsAndInvalidShareIsDropped) {
  auto b = BindYaml({kAcmeLb, Example("l4/l4.yaml"), R"(
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: aaa-second, namespace: default}
spec:
  parentRefs: [{name: edge, sectionName: pg}]
  rules: [{backendRefs: [{name: pg-replica, port: 5432}]}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: aaa-oldest, namespace: default, creationTimestamp: "2000-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: edge, sectionName: dns}]
  rules:
  - backendRefs:
    - {name: dns, port: 53, weight: 1}
    - {name: missing, port: 53, weight: 1}
    - {name: dns, port: 53, weight: 0}
)"});
  auto snap = compiler::Compile(b->result, 1);
  ASSERT_EQ(snap->l4.size(), 2u);
  EXPECT_EQ(snap->l4[0].route, "TCPRoute default/pg");
  EXPECT_EQ(snap->l4[1].route, "UDPRoute default/aaa-oldest");
  // Half the weight is on a missing Service: its share is not handed to the others.
  ASSERT_EQ(snap->l4[1].backends.size(), 3u);
  for (const auto& be : snap->l4[1].backends) EXPECT_EQ(be.weight, 166666u);
}

// Gateway gw (class acme-lb) with one HTTP listener on port 80.
const char kHttpGateway[] = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: acme-lb
  listeners: [{name: http, port: 80, protocol: HTTP}])";

// Routes on one listener in deliberately scrambled order; the compiler must sort them.
const char kPrecedence[] = R"(
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: young, namespace: default, creationTimestamp: "2025-06-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /tie}}]
    backendRefs: [{name: s, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: zzz, namespace: default, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches:
    - {path: {type: PathPrefix, value: /tie}}
    - {path: {type: RegularExpression, value: "/re.*"}}
    - {path: {type: PathPrefix, value: /a}}
    - {path: {type: PathPrefix, value: /a}, headers: [{name: x, value: "1"}, {name: y, value: "2"}]}
    - {path: {type: PathPrefix, value: /a}, headers: [{name: x, value: "1"}]}
    - {path: {type: PathPrefix, value: /a}, queryParams: [{name: q, value: "1"}]}
    - {path: {type: PathPrefix, value: /a}, headers: [{name: x, value: "1"}], queryParams: [{name: q, value: "1"}]}
    - {path: {type: PathPrefix, value: /a}, method: GET}
    - {path: {type: Exact, value: /a}}
    - {path: {type: PathPrefix, value: /abcd}}
    backendRefs: [{name: s, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: aaa, namespace: default, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /tie}}]
    backendRefs: [{name: s, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /tie}}]
    backendRefs: [{name: s, port: 80}]
)";

TEST(Precedence, GatewayApiOrder) {
  auto b = BindYaml({kAcmeLb, kHttpGateway, kPrecedence});
  auto snap = compiler::Compile(b->result, 1);
  ASSERT_EQ(snap->l7.ports_size(), 1);
  const auto& vh = snap->l7.ports(0).listeners(0).virtual_hosts(0);
  EXPECT_EQ(vh.hostname(), "");
  std::vector<std::string> got;
  for (const auto& r : vh.routes()) {
    got.push_back(r.route_name() + "/" + std::to_string(r.rule_index()) + "/" +
                  std::to_string(r.match_index()));
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "zzz/0/8",    // Exact /a
                     "zzz/0/9",    // PathPrefix /abcd: the longest prefix
                     "aaa/0/0",    // /tie: zzz and aaa are as old: the spec breaks the
                     "aaa/1/0",    //   tie by namespace/name, then rule order
                     "zzz/0/0",    //   (not by which one the manifest lists first)
                     "young/0/0",  //   the youngest route last
                     "zzz/0/7",    // /a with a method
                     "zzz/0/3",    // /a with 2 headers
                     "zzz/0/6",    // /a with 1 header and 1 query param
                     "zzz/0/4",    // /a with 1 header
                     "zzz/0/5",    // /a with 1 query param
                     "zzz/0/2",    // /a alone
                     "zzz/0/1",    // regular expression after every prefix
                 }));
}

TEST(Precedence, NameBreaksTiesOfEqualAge) {
  // The loader gives every object its own creation index; equal ages (as two objects
  // created in the same second of a cluster would have) are made by hand.
  auto b = BindYaml({kAcmeLb, kHttpGateway, kPrecedence});
  for (const auto& [key, unused] : b->loaded.store.http_routes) {
    auto& route = b->loaded.store.http_routes.Mutable(key);
    route.meta.creation_timestamp = "2025-01-01T00:00:00Z";
    route.meta.creation_index = 0;
  }
  b->Rebind();
  auto snap = compiler::Compile(b->result, 1);
  std::vector<std::string> tie;
  for (const auto& r : snap->l7.ports(0).listeners(0).virtual_hosts(0).routes()) {
    if (r.match().path().value() == "/tie")
      tie.push_back(r.route_name() + "/" + std::to_string(r.rule_index()));
  }
  EXPECT_EQ(tie, (std::vector<std::string>{"aaa/0", "aaa/1", "young/0", "zzz/0"}));
}

TEST(Precedence, FiltersTimeoutsAndInvalidBackends) {
  auto b = BindYaml({kAcmeLb, kGatewayAndService, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [a.example.com, "*.example.com"]
  rules:
  - filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x, value: "1"}], remove: [y]}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: s, port: 80}}}
    - {type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}
    backendRefs:
    - name: s
      port: 80
      weight: 3
      filters: [{type: RequestMirror, requestMirror: {backendRef: {name: s, port: 80}, percent: 25}}]
    - {name: gone, port: 80, weight: 1}
    timeouts: {request: 10s, backendRequest: 2s}
    retry: {codes: [500, 503], attempts: 3, backoff: 100ms}
  - matches: [{path: {type: Exact, value: /old}}]
    filters:
    - {type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}
)"});
  auto snap = compiler::Compile(b->result, 1);
  const auto& l = snap->l7.ports(0).listeners(0);
  ASSERT_EQ(l.virtual_hosts_size(), 2);
  EXPECT_EQ(l.virtual_hosts(0).hostname(), "a.example.com");
  EXPECT_EQ(l.virtual_hosts(1).hostname(), "*.example.com");
  const auto& routes = l.virtual_hosts(0).routes();
  ASSERT_EQ(routes.size(), 2);
  const auto& redirect = routes[0];
  EXPECT_EQ(redirect.match().path().type(), api::PathMatch::EXACT);
  ASSERT_EQ(redirect.filters_size(), 1);
  EXPECT_EQ(redirect.filters(0).request_redirect().scheme(), "https");
  EXPECT_EQ(redirect.filters(0).request_redirect().status_code(), 301u);
  EXPECT_EQ(redirect.backends_size(), 0);
  const auto& main = routes[1];
  ASSERT_EQ(main.filters_size(), 3);
  EXPECT_EQ(main.filters(0).request_header_modifier().set(0).name(), "x");
  EXPECT_EQ(main.filters(0).request_header_modifier().remove(0), "y");
  EXPECT_EQ(main.filters(1).request_mirror().cluster(), "default/s:80");
  EXPECT_EQ(main.filters(2).url_rewrite().path().type(), api::PathModifier::REPLACE_PREFIX_MATCH);
  EXPECT_EQ(main.filters(2).url_rewrite().path().value(), "/new");
  ASSERT_EQ(main.backends_size(), 2);
  EXPECT_EQ(main.backends(0).cluster(), "default/s:80");
  EXPECT_EQ(main.backends(0).weight(), 3u);
  ASSERT_EQ(main.backends(0).filters_size(), 1);
  EXPECT_EQ(main.backends(0).filters(0).request_mirror().cluster(), "default/s:80");
  EXPECT_EQ(main.backends(0).filters(0).request_mirror().numerator(), 25u);
  EXPECT_EQ(main.backends(0).filters(0).request_mirror().denominator(), 100u);
  EXPECT_EQ(main.filters(1).request_mirror().numerator(), 100u);  // no percent: every request
  EXPECT_EQ(main.backends(1).cluster(), "");                      // invalid: its share answers 500
  EXPECT_EQ(main.backends(1).service(), "default/gone");
  EXPECT_EQ(main.request_timeout_ms(), 10000u);
  EXPECT_EQ(main.backend_request_timeout_ms(), 2000u);
  ASSERT_TRUE(main.has_retry());
  EXPECT_EQ(main.retry().attempts(), 3u);
  EXPECT_EQ(main.retry().backoff_ms(), 100u);
  ASSERT_EQ(main.retry().codes_size(), 2);
  EXPECT_EQ(main.retry().codes(1), 503u);
  EXPECT_FALSE(redirect.has_retry());
  ASSERT_EQ(snap->l7.clusters_size(), 1);
}

// sessionPersistence on HTTPRoute and GRPCRoute rules: the name given, or one made per rule
// (stable, distinct between rules); the type, timeouts and cookie lifetime.
TEST(L7, SessionPersistence) {
  auto b = BindYaml({kAcmeLb, kGatewayAndService, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [web.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /cookie}}]
    backendRefs: [{name: s, port: 80}]
    sessionPersistence:
      sessionName: sid
      absoluteTimeout: 1h
      cookieConfig: {lifetimeType: Permanent}
  - matches: [{path: {type: PathPrefix, value: /header}}]
    backendRefs: [{name: s, port: 80}]
    sessionPersistence: {type: Header, idleTimeout: 30s}
  - matches: [{path: {type: PathPrefix, value: /default}}]
    backendRefs: [{name: s, port: 80}]
    sessionPersistence: {}
  - matches: [{path: {type: PathPrefix, value: /none}}]
    backendRefs: [{name: s, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /main-cookie}}]
    backendRefs: [{name: s, port: 80}]
    sessionPersistence:
      absoluteTimeout: 1h
      cookie: {name: shop-sid, path: /shop, lifetimeType: Permanent}
  - matches: [{path: {type: PathPrefix, value: /main-header}}]
    backendRefs: [{name: s, port: 80}]
    sessionPersistence: {type: Header, header: {name: x-shop-session}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [grpc.example.com]
  rules:
  - backendRefs: [{name: s, port: 80}]
    sessionPersistence: {sessionName: grpc-session, type: Header}
)"});
  auto by_path = [&b](uint64_t generation) {
    std::map<std::string, api::Route> out;  // by kind and path
    auto snap = compiler::Compile(b->result, generation);
    for (const auto& vhost : snap->l7.ports(0).listeners(0).virtual_hosts()) {
      for (const auto& route : vhost.routes()) {
        out[route.route_kind() + route.match().path().value()] = route;
      }
    }
    return out;
  }(1);
  std::string keys;
  for (const auto& [key, route] : by_path) keys += key + " ";
  for (const char* key : {"HTTPRoute/cookie", "HTTPRoute/header", "HTTPRoute/default",
                          "HTTPRoute/none", "GRPCRoute/"}) {
    ASSERT_TRUE(by_path.contains(key)) << key << " not among " << keys;
  }
  const api::SessionPersistence& cookie = by_path.at("HTTPRoute/cookie").session_persistence();
  EXPECT_EQ(cookie.type(), api::SessionPersistence::COOKIE);
  EXPECT_EQ(cookie.name(), "sid");
  EXPECT_EQ(cookie.absolute_timeout_ms(), 3600000u);
  EXPECT_EQ(cookie.idle_timeout_ms(), 0u);
  EXPECT_TRUE(cookie.permanent());
  const api::SessionPersistence& header = by_path.at("HTTPRoute/header").session_persistence();
  EXPECT_EQ(header.type(), api::SessionPersistence::HEADER);
  EXPECT_EQ(header.idle_timeout_ms(), 30000u);
  EXPECT_FALSE(header.permanent());
  const api::SessionPersistence& made = by_path.at("HTTPRoute/default").session_persistence();
  EXPECT_EQ(made.type(), api::SessionPersistence::COOKIE);
  EXPECT_EQ(made.name().rfind("xgate-session-", 0), 0u) << made.name();
  EXPECT_NE(made.name(), header.name()) << "each rule its own name";
  EXPECT_FALSE(by_path.at("HTTPRoute/none").has_session_persistence());
  EXPECT_EQ(made.cookie_path(), "");  // "/" by default
  // The shape on Gateway API's main branch.
  const api::SessionPersistence& main_cookie =
      by_path.at("HTTPRoute/main-cookie").session_persistence();
  EXPECT_EQ(main_cookie.type(), api::SessionPersistence::COOKIE);
  EXPECT_EQ(main_cookie.name(), "shop-sid");
  EXPECT_EQ(main_cookie.cookie_path(), "/shop");
  EXPECT_TRUE(main_cookie.permanent());
  const api::SessionPersistence& main_header =
      by_path.at("HTTPRoute/main-header").session_persistence();
  EXPECT_EQ(main_header.type(), api::SessionPersistence::HEADER);
  EXPECT_EQ(main_header.name(), "x-shop-session");
  const api::SessionPersistence& grpc = by_path.at("GRPCRoute/").session_persistence();
  EXPECT_EQ(grpc.type(), api::SessionPersistence::HEADER);
  EXPECT_EQ(grpc.name(), "grpc-session");
}

TEST(L7, ListenersBySpecificityAndTlsPassthrough) {
  auto b = BindYaml({kAcmeLb, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: acme-lb
  addresses: [{value: 198.18.100.1}, {value: "fd00::1"}]
  listeners:
  - {name: any, port: 80, protocol: HTTP}
  - {name: wide, port: 80, protocol: HTTP, hostname: "*.example.com"}
  - {name: exact, port: 80, protocol: HTTP, hostname: a.example.com}
  - {name: narrow, port: 80, protocol: HTTP, hostname: "*.foo.example.com"}
  - {name: tls, port: 443, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec: {ports: [{port: 443}]}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: t, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: tls}]
  hostnames: [db.example.com]
  rules: [{backendRefs: [{name: s, port: 443}]}]
)"});
  auto snap = compiler::Compile(b->result, 1);
  ASSERT_EQ(snap->l7.ports_size(), 2);
  const auto& http = snap->l7.ports(0);
  EXPECT_EQ(http.port(), 80u);
  std::vector<std::string> order;
  for (const auto& l : http.listeners()) order.push_back(l.name());
  EXPECT_EQ(order, (std::vector<std::string>{"exact", "narrow", "wide", "any"}));
  const auto& tls = snap->l7.ports(1);
  EXPECT_EQ(tls.protocol(), api::Port::TLS_PASSTHROUGH);
  ASSERT_EQ(tls.listeners_size(), 1);
  ASSERT_EQ(tls.listeners(0).virtual_hosts_size(), 1);
  const auto& vh = tls.listeners(0).virtual_hosts(0);
  EXPECT_EQ(vh.hostname(), "db.example.com");
  ASSERT_EQ(vh.routes_size(), 1);
  EXPECT_EQ(vh.routes(0).route_kind(), "TLSRoute");
  EXPECT_EQ(vh.routes(0).backends(0).cluster(), "default/s:443");
  // Every L7 (address, port) is punted to the proxy.
  std::vector<std::string> punt;
  for (const auto& p : snap->punt) punt.push_back(p.address + " " + std::to_string(p.port));
  EXPECT_EQ(punt, (std::vector<std::string>{"198.18.100.1 80", "fd00::1 80", "198.18.100.1 443",
                                            "fd00::1 443"}));
  EXPECT_EQ(snap->Summary(), (std::vector<std::string>{
                                 "L7 198.18.100.1:80,[fd00::1]:80 http: 4 listeners, 0 routes",
                                 "L7 198.18.100.1:443,[fd00::1]:443 tls: 1 listeners, 1 routes"}));
}

// With steering (an agent run with --attach), the punted addresses the node does not have
// are steered: the steer program hands them to the proxy, which binds nothing on them.
TEST(L7, AddressesTheNodeDoesNotHaveAreSteered) {
  auto b = BindYaml({kAcmeLb, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: acme-lb
  addresses: [{value: 198.18.100.1}, {value: "fd00:0::1"}, {value: 198.18.0.1}]
  listeners: [{name: http, port: 80, protocol: HTTP}]
)"});
  auto plain = compiler::Compile(b->result, 1);
  for (const auto& p : plain->punt) EXPECT_FALSE(p.steered) << p.address;
  EXPECT_EQ(plain->l7.ports(0).steered_addresses_size(), 0);
  EXPECT_EQ(plain->l7.steer_socket_map(), "");

  compiler::CompileOptions options;
  options.steer_socket_map = "/sys/fs/bpf/xgate/xg_steer_socks";
  options.node_owned = {"198.18.0.1", "fd00::1", "127.0.0.1"};  // canonical, as inet_ntop
  auto snap = compiler::Compile(b->result, 1, options);
  std::vector<std::string> punt;
  for (const auto& p : snap->punt) punt.push_back(p.address + (p.steered ? " steered" : ""));
  EXPECT_EQ(punt, (std::vector<std::string>{"198.18.100.1 steered", "fd00:0::1", "198.18.0.1"}));
  const auto& port = snap->l7.ports(0);
  EXPECT_EQ(
      std::vector<std::string>(port.steered_addresses().begin(), port.steered_addresses().end()),
      std::vector<std::string>{"198.18.100.1"});
  EXPECT_EQ(snap->l7.steer_socket_map(), "/sys/fs/bpf/xgate/xg_steer_socks");
}

// A TCPRoute r on the Gateway gw's port 9000 to the Service s (both in default).
constexpr const char* kTcpRouteToS = R"(
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: s, port: 9000}]}]
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec: {ports: [{port: 9000}]}
)";

TEST(L4, EndpointsOfTheAddressFamily) {
  auto b = BindYaml({kAcmeLb, kTcpRouteToS, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: acme-lb
  addresses: [{value: 198.18.100.1}, {value: "fd00::1"}]
  listeners: [{name: tcp, port: 9000, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s-v4, namespace: default, labels: {kubernetes.io/service-name: s}}
addressType: IPv4
ports: [{port: 9001}]
endpoints: [{addresses: [198.18.5.1]}, {addresses: [198.18.5.2]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s-v6, namespace: default, labels: {kubernetes.io/service-name: s}}
addressType: IPv6
ports: [{port: 9001}]
endpoints: [{addresses: ["fd00::5:1"]}]
)"});
  auto snap = compiler::Compile(b->result, 1);
  ASSERT_EQ(snap->l4.size(), 2u);
  EXPECT_EQ(snap->l4[0].address, "198.18.100.1");
  ASSERT_EQ(snap->l4[0].backends.size(), 2u);
  EXPECT_EQ(snap->l4[0].backends[0].port, 9001);  // the slice's port, not the Service's
  EXPECT_EQ(snap->l4[0].backends[0].weight, 500000u);
  EXPECT_EQ(snap->l4[1].address, "fd00::1");
  ASSERT_EQ(snap->l4[1].backends.size(), 1u);
  EXPECT_EQ(snap->l4[1].backends[0].address, "fd00::5:1");
  EXPECT_EQ(snap->l4[1].backends[0].weight, 1000000u);
  EXPECT_EQ(snap->Summary()[1], "L4 [fd00::1]:9000/tcp -> 1 backend");
}

// Once xgate-cni is in use (local_pods set), an endpoint on this node by nodeName is local when
// a record has its address, left out when none has (its pod is gone), and kept when the
// address is the node's own (a hostNetwork pod, which xgate-cni never records).
TEST(L4, LocalEndpointsFollowTheRecords) {
  auto b = BindYaml({kAcmeLb, kTcpRouteToS, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: acme-lb
  addresses: [{value: 198.18.100.1}]
  listeners: [{name: tcp, port: 9000, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s-v4, namespace: default, labels: {kubernetes.io/service-name: s}}
addressType: IPv4
ports: [{port: 9000}]
endpoints:
- {addresses: [198.18.5.1], nodeName: here}
- {addresses: [198.18.5.2], nodeName: here}
- {addresses: [198.18.0.1], nodeName: here}
- {addresses: [198.18.6.1], nodeName: there}
)"});
  compiler::CompileOptions options;
  options.node_name = "here";
  options.node_owned = {"198.18.0.1"};
  options.local_pods = std::set<std::string>{"198.18.5.1"};
  auto snap = compiler::Compile(b->result, 1, options);
  ASSERT_EQ(snap->l4.size(), 1u);
  std::map<std::string, bool> local;
  for (const auto& be : snap->l4[0].backends) local[be.address] = be.local;
  EXPECT_EQ(local, (std::map<std::string, bool>{
                       {"198.18.5.1", true}, {"198.18.0.1", true}, {"198.18.6.1", false}}));
}

TEST(L7, WiderHostnamesFollowInEachVirtualHost) {
  auto b = BindYaml({kAcmeLb, kHttpGateway, R"(
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: exact, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [foo.example.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /a}}], backendRefs: [{name: s, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wild, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: ["*.example.com"]
  rules: [{matches: [{path: {type: PathPrefix, value: /abc}}], backendRefs: [{name: s, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: any, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: s, port: 80}]}]
)"});
  auto snap = compiler::Compile(b->result, 1);
  const auto& l = snap->l7.ports(0).listeners(0);
  auto routes = [&](int i) {
    std::vector<std::string> out;
    for (const auto& r : l.virtual_hosts(i).routes()) out.push_back(r.route_name());
    return out;
  };
  ASSERT_EQ(l.virtual_hosts_size(), 3);
  EXPECT_EQ(l.virtual_hosts(0).hostname(), "foo.example.com");
  // The exact host's own route first even though /abc is longer: hostname ranks first.
  EXPECT_EQ(routes(0), (std::vector<std::string>{"exact", "wild", "any"}));
  EXPECT_EQ(l.virtual_hosts(1).hostname(), "*.example.com");
  EXPECT_EQ(routes(1), (std::vector<std::string>{"wild", "any"}));
  EXPECT_EQ(l.virtual_hosts(2).hostname(), "");
  EXPECT_EQ(routes(2), (std::vector<std::string>{"any"}));
}

TEST(L7, AppProtocolH2cMakesAnH2cCluster) {
  auto b = BindYaml({kAcmeLb, kHttpGateway, R"(
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec:
  ports:
  - {name: grpc, port: 80, appProtocol: kubernetes.io/h2c}
  - {name: web, port: 81}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /g}}]
    backendRefs: [{name: s, port: 80}]
  - backendRefs: [{name: s, port: 81}]
)"});
  auto snap = compiler::Compile(b->result, 1);
  std::map<std::string, api::UpstreamProtocol> protocols;
  for (const auto& c : snap->l7.clusters()) protocols[c.name()] = c.protocol();
  EXPECT_EQ(protocols["default/s:80"], api::H2C);
  EXPECT_EQ(protocols["default/s:81"], api::HTTP1);
  EXPECT_EQ(protocols.size(), 2u);
}

TEST(Determinism, SameInputSameSnapshot) {
  std::vector<std::string> docs = SeedV1();  // its gateway.yaml defines class acme-lb
  docs.push_back(Example("l4/l4.yaml"));
  auto b1 = BindYaml(docs);
  auto b2 = BindYaml(docs);
  auto s1 = compiler::Compile(b1->result, 5);
  auto s2 = compiler::Compile(b2->result, 5);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(s1->l7, s2->l7));
  EXPECT_EQ(s1->Summary(), s2->Summary());
  ASSERT_EQ(s1->l4.size(), s2->l4.size());
  for (size_t i = 0; i < s1->l4.size(); ++i) {
    ASSERT_EQ(s1->l4[i].backends.size(), s2->l4[i].backends.size());
    for (size_t j = 0; j < s1->l4[i].backends.size(); ++j) {
      EXPECT_EQ(s1->l4[i].backends[j].address, s2->l4[i].backends[j].address);
      EXPECT_EQ(s1->l4[i].backends[j].weight, s2->l4[i].backends[j].weight);
    }
  }
}

}  // namespace
}  // namespace xgate::testing

// Every request of the Gateway API conformance cases that exercise matching, hostnames,
// rewrites and redirects (../shared/conformance/cases/*.yaml), run against the L7Config the
// compiler produces for them (routes in precedence order).
#include <gtest/gtest.h>

#include "tests/routing/harness.h"

namespace xgate::routing::testing {
namespace {

std::shared_ptr<const RouteTable> Build(const api::L7Config& config) {
  auto table = RouteTable::Build(config);
  EXPECT_TRUE(table.ok()) << table.status();
  return *table;
}

std::string Prefix(const std::string& p) { return "path { type: PATH_PREFIX value: '" + p + "' }"; }
std::string ExactPath(const std::string& p) { return "path { type: EXACT value: '" + p + "' }"; }
std::string Header(const std::string& n, const std::string& v) {
  return "headers { type: EXACT name: '" + n + "' value: '" + v + "' }";
}
std::string Query(const std::string& n, const std::string& v) {
  return "query_params { type: EXACT name: '" + n + "' value: '" + v + "' }";
}
std::string Method(const std::string& m) { return "method: '" + m + "'"; }

struct Expect {
  Request request;
  int status;
  std::string backend;  // "" when not 200
};

void RunAll(const RouteTable& table, const std::vector<Expect>& expects) {
  for (const Expect& e : expects) {
    Result r = Simulate(table, e.request);
    std::string what = e.request.method + " " + e.request.host + e.request.path;
    for (const auto& [k, v] : e.request.headers) what += " " + k + "=" + v;
    EXPECT_EQ(r.status, e.status) << what;
    if (e.status == 200) {
      EXPECT_EQ(r.cluster, Cluster(e.backend)) << what;
    }
  }
}

Request Get(const std::string& path, std::map<std::string, std::string> headers = {}) {
  Request r;
  r.path = path;
  r.headers = std::move(headers);
  return r;
}

Request With(const std::string& method, const std::string& path,
             std::map<std::string, std::string> headers = {}) {
  Request r = Get(path, std::move(headers));
  r.method = method;
  return r;
}

TEST(Conformance, HTTPRouteMatching) {
  // Precedence: /v2 (longest prefix), then "/" with one header (rule order), then "/".
  auto table = Build(SingleHostConfig({
      Route("matching", 1, 0, Prefix("/v2"), "infra-backend-v2"),
      Route("matching", 0, 1, Prefix("/") + Header("version", "one"), "infra-backend-v1"),
      Route("matching", 1, 1, Prefix("/") + Header("version", "two"), "infra-backend-v2"),
      Route("matching", 0, 0, Prefix("/"), "infra-backend-v1"),
  }));
  RunAll(*table, {
                     {Get("/"), 200, "infra-backend-v1"},
                     {Get("/example"), 200, "infra-backend-v1"},
                     {Get("/", {{"Version", "one"}}), 200, "infra-backend-v1"},
                     {Get("/v2"), 200, "infra-backend-v2"},
                     {Get("/v2/example"), 200, "infra-backend-v2"},
                     {Get("/", {{"Version", "two"}}), 200, "infra-backend-v2"},
                     {Get("/v2/"), 200, "infra-backend-v2"},
                     {Get("/v2example"), 200, "infra-backend-v1"},
                     {Get("/foo/v2/example"), 200, "infra-backend-v1"},
                 });
}

TEST(Conformance, HTTPRouteExactPathMatching) {
  auto table = Build(SingleHostConfig({
      Route("exact-matching", 0, 0, ExactPath("/one"), "infra-backend-v1"),
      Route("exact-matching", 1, 0, ExactPath("/two"), "infra-backend-v2"),
  }));
  RunAll(*table, {
                     {Get("/one"), 200, "infra-backend-v1"},
                     {Get("/two"), 200, "infra-backend-v2"},
                     {Get("/"), 404, ""},
                     {Get("/one/example"), 404, ""},
                     {Get("/two/"), 404, ""},
                     {Get("/Two"), 404, ""},
                 });
}

TEST(Conformance, HTTPRouteQueryParamMatching) {
  const std::string n = "query-param-matching";
  auto table = Build(SingleHostConfig({
      // Prefixes of 6 characters: more headers first, then more query params, then rules.
      Route(n, 5, 0, Prefix("/path2") + Header("version", "two") + Query("animal", "whale"),
            "infra-backend-v3"),
      Route(n, 6, 1, Prefix("/path4") + Header("version", "three") + Query("animal", "kraken"),
            "infra-backend-v1"),
      Route(n, 3, 0, Prefix("/path1") + Query("animal", "whale"), "infra-backend-v1"),
      Route(n, 6, 0, Prefix("/path3") + Query("animal", "shark"), "infra-backend-v1"),
      Route(n, 7, 0, Prefix("/path5"), "infra-backend-v1"),
      // "/": headers, then query count, then rule order.
      Route(n, 4, 0, Prefix("/") + Header("version", "one") + Query("animal", "whale"),
            "infra-backend-v2"),
      Route(n, 9, 0, Prefix("/") + Header("version", "four"), "infra-backend-v3"),
      Route(n, 2, 0, Prefix("/") + Query("animal", "dolphin") + Query("color", "blue"),
            "infra-backend-v3"),
      Route(n, 0, 0, Prefix("/") + Query("animal", "whale"), "infra-backend-v1"),
      Route(n, 1, 0, Prefix("/") + Query("animal", "dolphin"), "infra-backend-v2"),
      Route(n, 2, 1, Prefix("/") + Query("ANIMAL", "Whale"), "infra-backend-v3"),
      Route(n, 8, 0, Prefix("/") + Query("animal", "hydra"), "infra-backend-v2"),
  }));
  RunAll(*table, {
                     {Get("/?animal=whale"), 200, "infra-backend-v1"},
                     {Get("/?animal=dolphin"), 200, "infra-backend-v2"},
                     {Get("/?animal=dolphin&color=blue"), 200, "infra-backend-v3"},
                     {Get("/?ANIMAL=Whale"), 200, "infra-backend-v3"},
                     {Get("/?animal=whale&otherparam=irrelevant"), 200, "infra-backend-v1"},
                     {Get("/?animal=dolphin&color=yellow"), 200, "infra-backend-v2"},
                     {Get("/?color=blue"), 404, ""},
                     {Get("/?animal=dog"), 404, ""},
                     {Get("/?animal=whaledolphin"), 404, ""},
                     {Get("/"), 404, ""},
                     {Get("/path1?animal=whale"), 200, "infra-backend-v1"},
                     {Get("/?animal=whale", {{"version", "one"}}), 200, "infra-backend-v2"},
                     {Get("/path2?animal=whale", {{"version", "two"}}), 200, "infra-backend-v3"},
                     {Get("/path3?animal=shark"), 200, "infra-backend-v1"},
                     {Get("/path4?animal=kraken", {{"version", "three"}}), 200, "infra-backend-v1"},
                     {Get("/?animal=shark"), 404, ""},
                     {Get("/path4?animal=kraken"), 404, ""},
                     {Get("/path5?animal=hydra"), 200, "infra-backend-v1"},
                     {Get("/?animal=hydra", {{"version", "four"}}), 200, "infra-backend-v3"},
                 });
}

TEST(Conformance, HTTPRouteMethodMatching) {
  const std::string n = "method-matching";
  auto table = Build(SingleHostConfig({
      Route(n, 4, 0, Prefix("/path2") + Header("version", "two") + Method("POST"),
            "infra-backend-v3"),
      Route(n, 5, 1, Prefix("/path4") + Header("version", "three") + Method("DELETE"),
            "infra-backend-v1"),
      Route(n, 2, 0, Prefix("/path1") + Method("GET"), "infra-backend-v1"),
      Route(n, 5, 0, Prefix("/path3") + Method("PATCH"), "infra-backend-v1"),
      Route(n, 6, 0, Prefix("/path5"), "infra-backend-v1"),
      Route(n, 3, 0, Prefix("/") + Header("version", "one") + Method("PUT"), "infra-backend-v2"),
      Route(n, 0, 0, Prefix("/") + Method("POST"), "infra-backend-v1"),
      Route(n, 1, 0, Prefix("/") + Method("GET"), "infra-backend-v2"),
      Route(n, 7, 0, Prefix("/") + Method("PATCH"), "infra-backend-v2"),
      Route(n, 8, 0, Prefix("/") + Header("version", "four"), "infra-backend-v3"),
  }));
  RunAll(*table, {
                     {With("POST", "/"), 200, "infra-backend-v1"},
                     {With("GET", "/"), 200, "infra-backend-v2"},
                     {With("HEAD", "/"), 404, ""},
                     {With("GET", "/path1"), 200, "infra-backend-v1"},
                     {With("PUT", "/", {{"version", "one"}}), 200, "infra-backend-v2"},
                     {With("POST", "/path2", {{"version", "two"}}), 200, "infra-backend-v3"},
                     {With("PATCH", "/path3"), 200, "infra-backend-v1"},
                     {With("DELETE", "/path4", {{"version", "three"}}), 200, "infra-backend-v1"},
                     {With("PUT", "/"), 404, ""},
                     {With("DELETE", "/path4"), 404, ""},
                     {With("PATCH", "/path5"), 200, "infra-backend-v1"},
                     {With("PATCH", "/", {{"version", "four"}}), 200, "infra-backend-v2"},
                 });
}

TEST(Conformance, HTTPRouteHostnameIntersection) {
  auto vhost = [](const std::string& hostname, const std::string& route, const std::string& prefix,
                  const std::string& backend) {
    return "virtual_hosts { hostname: '" + hostname + "' routes { " +
           Route(route, 0, 0, Prefix(prefix), backend) + " } } ";
  };
  const std::string s1 = "specific-host-matches-listener-specific-host";
  const std::string s2 = "specific-host-matches-listener-wildcard-host";
  const std::string s3 = "wildcard-host-matches-listener-specific-host";
  const std::string s4 = "wildcard-host-matches-listener-wildcard-host";
  // What the compiler makes of the intersections: listener-1 gets very.specific.com from
  // s1 and s3, listener-2 the names of s2 under *.wildcard.io, listener-3 s4's wildcard;
  // no-intersecting-hosts gets nothing. The -all gateway has no listener hostname.
  std::string very_specific = "virtual_hosts { hostname: 'very.specific.com' routes { " +
                              Route(s1, 0, 0, Prefix("/s1"), "infra-backend-v1") + " } routes { " +
                              Route(s3, 0, 0, Prefix("/s3"), "infra-backend-v3") + " } } ";
  std::string text =
      "ports { port: 80 addresses: '198.18.100.20' "
      "listeners { gateway_name: 'httproute-hostname-intersection' name: 'listener-1' "
      "hostname: 'very.specific.com' " +
      very_specific +
      "} "
      "listeners { gateway_name: 'httproute-hostname-intersection' name: 'listener-2' "
      "hostname: '*.wildcard.io' " +
      vhost("foo.bar.wildcard.io", s2, "/s2", "infra-backend-v2") +
      vhost("foo.wildcard.io", s2, "/s2", "infra-backend-v2") +
      vhost("bar.wildcard.io", s2, "/s2", "infra-backend-v2") +
      "} "
      "listeners { gateway_name: 'httproute-hostname-intersection' name: 'listener-3' "
      "hostname: '*.anotherwildcard.io' " +
      vhost("*.anotherwildcard.io", s4, "/s4", "infra-backend-v1") +
      "} } "
      "ports { port: 80 addresses: '198.18.100.21' "
      "listeners { gateway_name: 'httproute-hostname-intersection-all' name: 'listener-1' " +
      vhost("first.com", "httproute-hostname-intersection-all", "/", "infra-backend-v2") +
      vhost("second.com", "httproute-hostname-intersection-all", "/", "infra-backend-v2") +
      vhost("sub.first.com", "httproute-hostname-intersection-all", "/", "infra-backend-v2") +
      vhost("sub.second.com", "httproute-hostname-intersection-all", "/", "infra-backend-v2") +
      "} }";
  auto table = Build(ParseConfig(text));
  auto at = [](const std::string& address, const std::string& host, const std::string& path) {
    Request r;
    r.address = address;
    r.host = host;
    r.path = path;
    return r;
  };
  const std::string g = "198.18.100.20", all = "198.18.100.21";
  RunAll(*table, {
                     {at(g, "very.specific.com", "/s1"), 200, "infra-backend-v1"},
                     {at(g, "very.specific.com:1234", "/s1"), 200, "infra-backend-v1"},
                     {at(g, "non.matching.com", "/s1"), 404, ""},
                     {at(g, "foo.nonmatchingwildcard.io", "/s1"), 404, ""},
                     {at(g, "foo.wildcard.io", "/s1"), 404, ""},
                     {at(g, "very.specific.com", "/non-matching-prefix"), 404, ""},
                     {at(g, "foo.wildcard.io", "/s2"), 200, "infra-backend-v2"},
                     {at(g, "bar.wildcard.io", "/s2"), 200, "infra-backend-v2"},
                     {at(g, "foo.bar.wildcard.io", "/s2"), 200, "infra-backend-v2"},
                     {at(g, "non.matching.com", "/s2"), 404, ""},
                     {at(g, "wildcard.io", "/s2"), 404, ""},
                     {at(g, "very.specific.com", "/s2"), 404, ""},
                     {at(g, "foo.wildcard.io", "/non-matching-prefix"), 404, ""},
                     {at(g, "very.specific.com", "/s3"), 200, "infra-backend-v3"},
                     {at(g, "non.matching.com", "/s3"), 404, ""},
                     {at(g, "foo.specific.com", "/s3"), 404, ""},
                     {at(g, "foo.wildcard.io", "/s3"), 404, ""},
                     {at(g, "very.specific.com", "/non-matching-prefix"), 404, ""},
                     {at(g, "foo.anotherwildcard.io", "/s4"), 200, "infra-backend-v1"},
                     {at(g, "bar.anotherwildcard.io", "/s4"), 200, "infra-backend-v1"},
                     {at(g, "foo.bar.anotherwildcard.io", "/s4"), 200, "infra-backend-v1"},
                     {at(g, "anotherwildcard.io", "/s4"), 404, ""},
                     {at(g, "foo.wildcard.io", "/s4"), 404, ""},
                     {at(g, "very.specific.com", "/s4"), 404, ""},
                     {at(g, "foo.anotherwildcard.io", "/non-matching-prefix"), 404, ""},
                     {at(g, "specific.but.wrong.com", "/s5"), 404, ""},
                     {at(g, "wildcard.io", "/s5"), 404, ""},
                     {at(all, "first.com", "/"), 200, "infra-backend-v2"},
                     {at(all, "sub.first.com", "/"), 200, "infra-backend-v2"},
                     {at(all, "second.com", "/"), 200, "infra-backend-v2"},
                     {at(all, "sub.second.com", "/"), 200, "infra-backend-v2"},
                     {at(all, "third.com", "/"), 404, ""},
                     {at(all, "sub.third.com", "/"), 404, ""},
                 });
}

// Rewrites: the forwarded path and headers.
TEST(Conformance, HTTPRouteRewritePath) {
  const std::string n = "rewrite-path";
  const std::string modify =
      "filters { request_header_modifier { set { name: 'X-Header-Set' value: "
      "'set-overwrites-values' } add { name: 'X-Header-Add' value: 'header-val-1' } add { name: "
      "'X-Header-Add-Append' value: 'header-val-2' } remove: 'X-Header-Remove' } } ";
  auto rewrite = [](const std::string& type, const std::string& value) {
    return "filters { url_rewrite { path { type: " + type + " value: '" + value + "' } } } ";
  };
  auto table = Build(SingleHostConfig({
      Route(n, 4, 0, Prefix("/prefix/rewrite-path-and-modify-headers"), "infra-backend-v1",
            rewrite("REPLACE_PREFIX_MATCH", "/prefix") + modify),
      Route(n, 3, 0, Prefix("/full/rewrite-path-and-modify-headers"), "infra-backend-v1",
            rewrite("REPLACE_FULL_PATH", "/test") + modify),
      Route(n, 0, 0, Prefix("/prefix/one"), "infra-backend-v1",
            rewrite("REPLACE_PREFIX_MATCH", "/one")),
      Route(n, 1, 0, Prefix("/strip-prefix"), "infra-backend-v1",
            rewrite("REPLACE_PREFIX_MATCH", "/")),
      Route(n, 2, 0, Prefix("/full/one"), "infra-backend-v1", rewrite("REPLACE_FULL_PATH", "/one")),
  }));
  struct Case {
    std::string path;
    std::string forwarded;
  };
  for (const Case& c : std::vector<Case>{{"/prefix/one/two", "/one/two"},
                                         {"/strip-prefix/three", "/three"},
                                         {"/strip-prefix", "/"},
                                         {"/full/one/two", "/one"}}) {
    Result r = Simulate(*table, Get(c.path));
    EXPECT_EQ(r.status, 200) << c.path;
    EXPECT_EQ(r.cluster, Cluster("infra-backend-v1"));
    EXPECT_EQ(r.forwarded.path, c.forwarded) << c.path;
  }
  const std::map<std::string, std::string> sent = {{"X-Header-Remove", "remove-val"},
                                                   {"X-Header-Add-Append", "append-val-1"},
                                                   {"X-Header-Set", "set-val"}};
  for (const Case& c :
       std::vector<Case>{{"/full/rewrite-path-and-modify-headers/test", "/test"},
                         {"/prefix/rewrite-path-and-modify-headers/one", "/prefix/one"}}) {
    Result r = Simulate(*table, Get(c.path, sent));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.forwarded.path, c.forwarded) << c.path;
    const http::HeaderMap& h = r.forwarded.headers;
    EXPECT_EQ(*h.GetJoined("X-Header-Add"), "header-val-1");
    EXPECT_EQ(*h.GetJoined("x-header-add-append"), "append-val-1, header-val-2");
    EXPECT_EQ(*h.GetJoined("X-Header-Set"), "set-overwrites-values");
    EXPECT_FALSE(h.Has("X-Header-Remove"));
  }
}

std::string RedirectFilter(const std::string& fields) {
  return "filters { request_redirect { " + fields + " } } ";
}

struct RedirectCase {
  std::string path;
  int status;
  std::string location;
};

void RunRedirects(const RouteTable& table, const std::vector<RedirectCase>& cases) {
  for (const RedirectCase& c : cases) {
    Result r = Simulate(table, Get(c.path));
    EXPECT_EQ(r.status, c.status) << c.path;
    EXPECT_EQ(r.location, c.location) << c.path;
  }
}

TEST(Conformance, HTTPRouteRedirectPath) {
  const std::string n = "redirect-path";
  const std::string prefix_repl =
      "path { type: REPLACE_PREFIX_MATCH value: '/replacement-prefix' }";
  auto table = Build(SingleHostConfig({
      Route(n, 0, 0, Prefix("/original-prefix"), "", RedirectFilter(prefix_repl)),
      Route(n, 4, 0, Prefix("/full-path-and-host"), "",
            RedirectFilter("hostname: 'example.org' path { type: REPLACE_FULL_PATH value: "
                           "'/replacement-full' }")),
      Route(n, 5, 0, Prefix("/full-path-and-status"), "",
            RedirectFilter("path { type: REPLACE_FULL_PATH value: '/replacement-full' } "
                           "status_code: 301")),
      Route(n, 3, 0, Prefix("/path-and-status"), "",
            RedirectFilter(prefix_repl + " status_code: 301")),
      Route(n, 2, 0, Prefix("/path-and-host"), "",
            RedirectFilter("hostname: 'example.org' " + prefix_repl)),
      Route(n, 1, 0, Prefix("/full"), "",
            RedirectFilter("path { type: REPLACE_FULL_PATH value: '/full-path-replacement' }")),
  }));
  RunRedirects(*table,
               {
                   {"/original-prefix/lemon", 302, "http://198.18.100.1/replacement-prefix/lemon"},
                   {"/full/path/original", 302, "http://198.18.100.1/full-path-replacement"},
                   {"/path-and-host", 302, "http://example.org/replacement-prefix"},
                   {"/path-and-status", 301, "http://198.18.100.1/replacement-prefix"},
                   {"/full-path-and-host", 302, "http://example.org/replacement-full"},
                   {"/full-path-and-status", 301, "http://198.18.100.1/replacement-full"},
               });
}

TEST(Conformance, HTTPRouteRedirectPort) {
  const std::string n = "redirect-port";
  auto table = Build(SingleHostConfig({
      Route(n, 3, 0, Prefix("/port-and-host-and-status"), "",
            RedirectFilter("port: 8083 hostname: 'example.org' status_code: 302")),
      Route(n, 2, 0, Prefix("/port-and-status"), "", RedirectFilter("port: 8083 status_code: 301")),
      Route(n, 1, 0, Prefix("/port-and-host"), "",
            RedirectFilter("hostname: 'example.org' port: 8083")),
      Route(n, 0, 0, Prefix("/port"), "", RedirectFilter("port: 8083")),
  }));
  RunRedirects(*table, {
                           {"/port", 302, "http://198.18.100.1:8083/port"},
                           {"/port-and-host", 302, "http://example.org:8083/port-and-host"},
                           {"/port-and-status", 301, "http://198.18.100.1:8083/port-and-status"},
                           {"/port-and-host-and-status", 302,
                            "http://example.org:8083/port-and-host-and-status"},
                       });
}

TEST(Conformance, HTTPRouteRedirectScheme) {
  const std::string n = "redirect-scheme";
  auto table = Build(SingleHostConfig({
      Route(n, 3, 0, Prefix("/scheme-and-host-and-status"), "",
            RedirectFilter("scheme: 'https' status_code: 302 hostname: 'example.org'")),
      Route(n, 2, 0, Prefix("/scheme-and-status"), "",
            RedirectFilter("scheme: 'https' status_code: 301")),
      Route(n, 1, 0, Prefix("/scheme-and-host"), "",
            RedirectFilter("hostname: 'example.org' scheme: 'https'")),
      Route(n, 0, 0, Prefix("/scheme"), "", RedirectFilter("scheme: 'https'")),
  }));
  RunRedirects(*table, {
                           {"/scheme", 302, "https://198.18.100.1/scheme"},
                           {"/scheme-and-host", 302, "https://example.org/scheme-and-host"},
                           {"/scheme-and-status", 301, "https://198.18.100.1/scheme-and-status"},
                           {"/scheme-and-host-and-status", 302,
                            "https://example.org/scheme-and-host-and-status"},
                       });
}

}  // namespace
}  // namespace xgate::routing::testing

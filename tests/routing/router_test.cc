#include "userspace-proxy/routing/router.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/routing/harness.h"

namespace xgate::routing::testing {
namespace {

std::shared_ptr<const RouteTable> Build(const api::L7Config& config) {
  auto table = RouteTable::Build(config);
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *table : nullptr;
}

TEST(Hostnames, NormalizeAndMatch) {
  EXPECT_EQ(NormalizeHost("Foo.Example.COM:8080"), "foo.example.com");
  EXPECT_EQ(NormalizeHost("foo.example.com."), "foo.example.com");
  EXPECT_EQ(NormalizeHost("foo.example.com.:80"), "foo.example.com");
  EXPECT_EQ(NormalizeHost("[fd00::1]:443"), "[fd00::1]");
  EXPECT_TRUE(HostnameMatches("", "anything"));
  EXPECT_TRUE(HostnameMatches("foo.example.com", "FOO.example.com"));
  EXPECT_TRUE(HostnameMatches("*.example.com", "a.example.com"));
  EXPECT_TRUE(HostnameMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(HostnameMatches("*.example.com", "example.com"));
  EXPECT_FALSE(HostnameMatches("*.example.com", ".example.com"));
  EXPECT_FALSE(HostnameMatches("*.example.com", "aexample.com"));
  EXPECT_FALSE(HostnameMatches("foo.example.com", "bar.example.com"));
}

// Listener choice on one port: exact name, then most specific wildcard, then no hostname.
TEST(Router, ListenerAndVirtualHostPrecedence) {
  auto listener = [](const std::string& name, const std::string& hostname,
                     const std::string& vhosts) {
    return "listeners { gateway_name: 'gw' name: '" + name + "' hostname: '" + hostname + "' " +
           vhosts + " } ";
  };
  auto vhost = [](const std::string& hostname, const std::string& backend) {
    return "virtual_hosts { hostname: '" + hostname + "' routes { " +
           Route("r-" + backend, 0, 0, "path { type: PATH_PREFIX value: '/' }", backend) + " } } ";
  };
  std::string text =
      "ports { port: 80 " +
      listener("exact", "a.b.example.com", vhost("a.b.example.com", "exact")) +
      listener("wide", "*.example.com",
               vhost("x.example.com", "wide-exact") + vhost("*.deep.example.com", "wide-deep") +
                   vhost("*.example.com", "wide-wild") + vhost("", "wide-any")) +
      listener("narrow", "*.b.example.com", vhost("", "narrow")) +
      listener("any", "", vhost("*.org", "any-org") + vhost("", "any")) + "}";
  auto table = Build(ParseConfig(text));
  ASSERT_NE(table, nullptr);
  struct Case {
    std::string host;
    std::string backend;
  };
  const Case cases[] = {
      {"a.b.example.com", "exact"},
      {"A.B.Example.Com.:80", "exact"},
      {"c.b.example.com", "narrow"},        // *.b.example.com is more specific than *.example.com
      {"x.example.com", "wide-exact"},      // exact vhost inside the wildcard listener
      {"q.deep.example.com", "wide-deep"},  // longest wildcard vhost
      {"y.example.com", "wide-wild"},
      {"example.com", "any"},  // no wildcard matches the bare domain
      {"site.org", "any-org"},
      {"", "any"},
  };
  for (const Case& c : cases) {
    Request r;
    r.host = c.host;
    r.address = "198.18.0.1";
    Result res = Simulate(*table, r);
    EXPECT_EQ(res.status, 200) << c.host;
    EXPECT_EQ(res.cluster, Cluster(c.backend)) << c.host;
  }
}

TEST(Router, SniChoosesTheListenerAndHostTheVirtualHost) {
  std::string text =
      "ports { port: 443 protocol: HTTPS "
      "listeners { name: 'a' hostname: 'a.example.com' virtual_hosts { hostname: 'a.example.com' "
      "routes { " +
      Route("ra", 0, 0, "", "backend-a") +
      " } } } "
      "listeners { name: 'b' hostname: 'b.example.com' virtual_hosts { hostname: 'b.example.com' "
      "routes { " +
      Route("rb", 0, 0, "", "backend-b") + " } } } }";
  auto table = Build(ParseConfig(text));
  http::RequestHead head;
  head.method = "GET";
  head.path = "/";
  head.host = "a.example.com";
  MatchInput in{"198.18.0.1", 443, "a.example.com", &head};
  EXPECT_EQ(table->Match(in).outcome, RouteDecision::Outcome::kRouted);
  // A Host that the SNI-chosen listener does not serve finds no virtual host there.
  head.host = "b.example.com";
  RouteDecision d = table->Match(in);
  EXPECT_EQ(d.outcome, RouteDecision::Outcome::kNotFound);
  EXPECT_EQ(d.status, 404);
  EXPECT_EQ(d.listener->listener->name(), "a");
}

TEST(Router, PortByAddressThenWildcardAddress) {
  std::string text =
      "ports { port: 80 addresses: '198.18.0.1' addresses: 'fd00::0001' listeners { name: 'a' "
      "virtual_hosts { routes { " +
      Route("ra", 0, 0, "", "backend-a") +
      " } } } } "
      "ports { port: 80 listeners { name: 'any' virtual_hosts { routes { " +
      Route("rany", 0, 0, "", "backend-any") +
      " } } } } "
      "ports { port: 8080 addresses: '198.18.0.1' listeners { name: 'b' virtual_hosts { routes { " +
      Route("rb", 0, 0, "", "backend-b") + " } } } }";
  auto table = Build(ParseConfig(text));
  auto cluster_for = [&](const std::string& address, uint16_t port) {
    Request r;
    r.address = address;
    r.port = port;
    Result res = Simulate(*table, r);
    return res.status == 200 ? res.cluster : std::to_string(res.status);
  };
  EXPECT_EQ(cluster_for("198.18.0.1", 80), Cluster("backend-a"));
  EXPECT_EQ(cluster_for("fd00::1", 80), Cluster("backend-a"));
  EXPECT_EQ(cluster_for("198.18.0.2", 80), Cluster("backend-any"));
  EXPECT_EQ(cluster_for("198.18.0.1", 8080), Cluster("backend-b"));
  Request none;
  none.address = "198.18.0.2";
  none.port = 8080;
  EXPECT_EQ(Simulate(*table, none).decision.outcome, RouteDecision::Outcome::kNoPort);
}

TEST(Router, ListenerWithoutMatchingHostname) {
  std::string text =
      "ports { port: 80 listeners { name: 'a' hostname: 'a.example.com' "
      "virtual_hosts { hostname: 'a.example.com' routes { " +
      Route("ra", 0, 0, "", "backend-a") + " } } } }";
  auto table = Build(ParseConfig(text));
  Request r;
  r.host = "other.example.com";
  Result res = Simulate(*table, r);
  EXPECT_EQ(res.decision.outcome, RouteDecision::Outcome::kNoListener);
  EXPECT_EQ(res.status, 404);
}

TEST(Router, PathPrefixOnSegmentBoundaries) {
  auto table = Build(SingleHostConfig({
      Route("r", 0, 0, "path { type: PATH_PREFIX value: '/foo/' }", "trailing"),
      Route("r", 1, 0, "path { type: PATH_PREFIX value: '/bar' }", "bar"),
  }));
  auto status_of = [&](const std::string& path) {
    Result res = Simulate(*table, [&] {
      Request r;
      r.path = path;
      return r;
    }());
    return res.status == 200 ? res.cluster : std::to_string(res.status);
  };
  // A trailing slash in the prefix is ignored: "/foo/" matches "/foo".
  EXPECT_EQ(status_of("/foo"), Cluster("trailing"));
  EXPECT_EQ(status_of("/foo/"), Cluster("trailing"));
  EXPECT_EQ(status_of("/foo/x?y=1"), Cluster("trailing"));
  EXPECT_EQ(status_of("/foobar"), "404");
  EXPECT_EQ(status_of("/bar"), Cluster("bar"));
  EXPECT_EQ(status_of("/bar/baz"), Cluster("bar"));
  EXPECT_EQ(status_of("/barn"), "404");
  EXPECT_EQ(status_of("/Bar"), "404");
}

TEST(Router, RegularExpressionsAreFullMatches) {
  auto table = Build(SingleHostConfig({
      Route("r", 0, 0, "path { type: REGULAR_EXPRESSION value: '/v[0-9]+/.*' }", "path-re"),
      Route("r", 1, 0,
            "path { type: PATH_PREFIX value: '/' } headers { type: REGULAR_EXPRESSION name: "
            "'X-Env' value: 'prod|staging' }",
            "header-re"),
      Route("r", 2, 0,
            "path { type: PATH_PREFIX value: '/' } query_params { type: REGULAR_EXPRESSION name: "
            "'id' value: '[0-9]{3}' }",
            "query-re"),
  }));
  auto cluster_of = [&](const std::string& path, std::map<std::string, std::string> headers = {}) {
    Request r;
    r.path = path;
    r.headers = std::move(headers);
    Result res = Simulate(*table, r);
    return res.status == 200 ? res.cluster : std::to_string(res.status);
  };
  EXPECT_EQ(cluster_of("/v12/users"), Cluster("path-re"));
  EXPECT_EQ(cluster_of("/x/v12/users"), "404");  // full match, not search
  EXPECT_EQ(cluster_of("/", {{"x-env", "prod"}}), Cluster("header-re"));
  EXPECT_EQ(cluster_of("/", {{"x-env", "production"}}), "404");
  EXPECT_EQ(cluster_of("/?id=123"), Cluster("query-re"));
  EXPECT_EQ(cluster_of("/?id=1234"), "404");
}

TEST(Router, InvalidRegularExpressionFailsTheBuild) {
  api::L7Config config = SingleHostConfig(
      {Route("bad-route", 2, 1, "path { type: REGULAR_EXPRESSION value: '/(unclosed' }", "b")});
  auto table = RouteTable::Build(config);
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.status().message().find("HTTPRoute gateway-conformance-infra/bad-route rule 2 "
                                          "match 1"),
            std::string::npos)
      << table.status();
}

TEST(Router, RepeatedHeaderValuesAreJoined) {
  auto table = Build(SingleHostConfig({
      Route("r", 0, 0, "headers { name: 'X-Multi' value: 'a, b' }", "joined"),
  }));
  http::RequestHead head;
  head.method = "GET";
  head.path = "/";
  head.host = "h";
  head.headers.Add("x-multi", "a");
  head.headers.Add("X-MULTI", "b");
  MatchInput in{kGatewayAddress, 80, "", &head};
  EXPECT_EQ(table->Match(in).outcome, RouteDecision::Outcome::kRouted);
}

TEST(Router, OnlyTheFirstMatchPerHeaderNameCounts) {
  auto table = Build(SingleHostConfig({
      Route("r", 0, 0, "headers { name: 'X-A' value: '1' } headers { name: 'x-a' value: '2' }",
            "first"),
  }));
  Request r;
  r.headers = {{"X-A", "1"}};
  EXPECT_EQ(Simulate(*table, r).status, 200);
}

TEST(Router, UnusableBackendsAnswer500) {
  api::L7Config config = SingleHostConfig({
      "route_name: 'empty' match { path { type: EXACT value: '/empty' } }",
      "route_name: 'zero' match { path { type: EXACT value: '/zero' } } backends { cluster: 'c' "
      "weight: 0 }",
      "route_name: 'invalid' match { path { type: EXACT value: '/invalid' } } backends { cluster: "
      "'' weight: 1 }",
      "route_name: 'half' match { path { type: EXACT value: '/half' } } backends { cluster: '' "
      "weight: 1 } backends { cluster: 'good' weight: 1 }",
  });
  auto table = Build(config);
  for (const std::string path : {"/empty", "/zero", "/invalid"}) {
    Request r;
    r.path = path;
    Result res = Simulate(*table, r);
    EXPECT_EQ(res.decision.outcome, RouteDecision::Outcome::kNoBackend) << path;
    EXPECT_EQ(res.status, 500) << path;
  }
  // Half the weight lands on an invalid backend: those requests get 500, the rest proxy.
  int ok = 0, failed = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Request r;
    r.path = "/half";
    Result res = Simulate(*table, r, seed);
    if (res.status == 200) {
      EXPECT_EQ(res.cluster, "good");
      ++ok;
    } else {
      EXPECT_EQ(res.status, 500);
      ++failed;
    }
  }
  EXPECT_GT(ok, 50);
  EXPECT_GT(failed, 50);
}

TEST(Router, WeightedBackendChoice) {
  api::L7Config config = SingleHostConfig({
      "route_name: 'w' match { path { type: PATH_PREFIX value: '/' } } "
      "backends { cluster: 'ninety' weight: 90 } backends { cluster: 'never' weight: 0 } "
      "backends { cluster: 'ten' weight: 10 }",
  });
  auto table = Build(config);
  const CompiledRoute& route = table->ports()[0].listeners[0].vhosts[0]->routes[0];
  EXPECT_EQ(route.total_weight, 100u);
  std::mt19937_64 rng(42);
  std::map<std::string, int> counts;
  for (int i = 0; i < 10000; ++i) ++counts[PickBackend(route, rng)->cluster()];
  EXPECT_EQ(counts.count("never"), 0u);
  // 9000 expected; the bounds are 10 standard deviations (30) wide, the seed is fixed.
  EXPECT_NEAR(counts["ninety"], 9000, 300);
  EXPECT_NEAR(counts["ten"], 1000, 300);
}

TEST(Router, ExplainSaysWhyEachEarlierCandidateFailed) {
  std::string text =
      "ports { port: 80 listeners { gateway_namespace: 'ns' gateway_name: 'gw' name: 'http' "
      "hostname: '*.example.com' virtual_hosts { hostname: 'api.example.com' "
      "routes { " +
      Route("by-path", 0, 0, "path { type: PATH_PREFIX value: '/v2' }", "a") + " } routes { " +
      Route("by-method", 0, 0, "path { type: PATH_PREFIX value: '/' } method: 'POST'", "b") +
      " } routes { " +
      Route("by-header", 0, 0,
            "path { type: PATH_PREFIX value: '/' } headers { name: 'X-Env' "
            "value: 'prod' }",
            "c") +
      " } routes { " +
      Route("by-query", 0, 0,
            "path { type: PATH_PREFIX value: '/' } query_params { name: 'q' "
            "value: '1' }",
            "d") +
      " } routes { " + Route("catch-all", 0, 0, "path { type: PATH_PREFIX value: '/' }", "e") +
      " } } } }";
  auto table = Build(ParseConfig(text));
  http::RequestHead head;
  head.method = "GET";
  head.path = "/v1?q=2";
  head.host = "api.example.com";
  head.headers.Add("X-Env", "dev");
  MatchTrace trace;
  RouteDecision d = table->Match(MatchInput{"198.18.0.1", 80, "", &head}, &trace);
  ASSERT_EQ(d.outcome, RouteDecision::Outcome::kRouted);
  EXPECT_EQ(d.route->route->route_name(), "catch-all");
  std::string text_out = trace.ToString();
  EXPECT_NE(text_out.find("listener: listener ns/gw/http: matched"), std::string::npos) << text_out;
  EXPECT_NE(text_out.find("path /v1 does not match PathPrefix /v2"), std::string::npos) << text_out;
  EXPECT_NE(text_out.find("method GET is not POST"), std::string::npos) << text_out;
  EXPECT_NE(text_out.find("header X-Env value \"dev\" does not match \"prod\""), std::string::npos)
      << text_out;
  EXPECT_NE(text_out.find("query q value \"2\" does not match \"1\""), std::string::npos)
      << text_out;
  EXPECT_NE(text_out.find("catch-all rule 0 match 0: matched"), std::string::npos) << text_out;
  // The proxy's path (no trace) decides the same way.
  EXPECT_EQ(table->Match(MatchInput{"198.18.0.1", 80, "", &head}).route, d.route);
}

TEST(Router, TableOwnsItsConfig) {
  std::shared_ptr<const RouteTable> table;
  {
    api::L7Config config = SingleHostConfig({Route("r", 0, 0, "", "kept")});
    config.add_clusters()->set_name(Cluster("kept"));
    table = Build(config);
  }  // the config the table was built from is gone
  Request r;
  Result res = Simulate(*table, r);
  EXPECT_EQ(res.cluster, Cluster("kept"));
  ASSERT_NE(table->FindCluster(Cluster("kept")), nullptr);
  EXPECT_EQ(table->FindCluster("missing"), nullptr);
}

}  // namespace
}  // namespace xgate::routing::testing

namespace xgate::routing::testing {
namespace {

TEST(Router, HostHeaderMatchAndMatchedPrefix) {
  auto table = Build(SingleHostConfig({
      Route("r", 0, 0,
            "path { type: PATH_PREFIX value: '/api/' } headers { name: 'Host' value: "
            "'api.example' }",
            "by-host"),
      Route("r", 1, 0, "path { type: EXACT value: '/exact' }", "exact"),
      Route("r", 2, 0, "", "no-path"),
  }));
  Request r;
  r.host = "api.example";
  r.path = "/api/x";
  Result res = Simulate(*table, r);
  ASSERT_EQ(res.cluster, Cluster("by-host"));
  EXPECT_EQ(MatchedPrefix(*res.decision.route), "/api/");
  r.host = "other.example";
  res = Simulate(*table, r);
  EXPECT_EQ(res.cluster, Cluster("no-path"));  // a match without path matches every path
  EXPECT_EQ(MatchedPrefix(*res.decision.route), "/");
  r.path = "/exact";
  res = Simulate(*table, r);
  EXPECT_EQ(res.cluster, Cluster("exact"));
  EXPECT_EQ(MatchedPrefix(*res.decision.route), "");
}

}  // namespace
}  // namespace xgate::routing::testing

#include "userspace-proxy/routing/filters.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <random>

#include "tests/routing/harness.h"

namespace xgate::routing {
namespace {

api::PathModifier Prefix(const std::string& value) {
  api::PathModifier m;
  m.set_type(api::PathModifier::REPLACE_PREFIX_MATCH);
  m.set_value(value);
  return m;
}

// The ReplacePrefixMatch table of the Gateway API spec (HTTPPathModifier).
TEST(ModifyPath, ReplacePrefixMatchTable) {
  struct Case {
    std::string request, prefix, replacement, expected;
  };
  const Case cases[] = {
      {"/foo/bar", "/foo", "/xyz", "/xyz/bar"},
      {"/foo/bar", "/foo", "/xyz/", "/xyz/bar"},
      {"/foo/bar", "/foo/", "/xyz", "/xyz/bar"},
      {"/foo/bar", "/foo/", "/xyz/", "/xyz/bar"},
      {"/foo", "/foo", "/xyz", "/xyz"},
      {"/foo/", "/foo", "/xyz", "/xyz/"},
      {"/foo/bar", "/foo", "", "/bar"},
      {"/foo/", "/foo", "", "/"},
      {"/foo", "/foo", "", "/"},
      {"/foo/", "/foo", "/", "/"},
      {"/foo", "/foo", "/", "/"},
      {"/foo/bar", "/", "/xyz", "/xyz/foo/bar"},
      {"/", "/", "/xyz", "/xyz/"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ModifyPath(Prefix(c.replacement), c.request, c.prefix), c.expected)
        << c.request << " prefix " << c.prefix << " -> " << c.replacement;
  }
  api::PathModifier full;
  full.set_type(api::PathModifier::REPLACE_FULL_PATH);
  full.set_value("/new");
  EXPECT_EQ(ModifyPath(full, "/any/thing", "/any"), "/new");
}

http::RequestHead Request(const std::string& host, const std::string& path) {
  http::RequestHead r;
  r.method = "GET";
  r.host = host;
  r.path = path;
  return r;
}

TEST(Redirect, PortRules) {
  struct Case {
    std::string redirect_tp;
    std::string listener_scheme;
    uint32_t listener_port;
    std::string location;
  };
  const Case cases[] = {
      // No scheme, no port: the listener's port, omitted when it is the scheme's default.
      {"", "http", 80, "http://h.example/p?q=1"},
      {"", "http", 8080, "http://h.example:8080/p?q=1"},
      {"", "https", 443, "https://h.example/p?q=1"},
      {"", "https", 8443, "https://h.example:8443/p?q=1"},
      // A scheme without port: that scheme's well-known port.
      {"scheme: 'https'", "http", 8080, "https://h.example/p?q=1"},
      {"scheme: 'http'", "https", 8443, "http://h.example/p?q=1"},
      // An explicit port is kept unless it is the default of the Location's scheme.
      {"scheme: 'https' port: 443", "http", 80, "https://h.example/p?q=1"},
      {"scheme: 'https' port: 8443", "http", 80, "https://h.example:8443/p?q=1"},
      {"port: 80", "http", 8080, "http://h.example/p?q=1"},
      {"port: 443", "http", 80, "http://h.example:443/p?q=1"},
      {"hostname: 'other.example' status_code: 301", "http", 80, "http://other.example/p?q=1"},
  };
  for (const Case& c : cases) {
    api::RequestRedirect redirect;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(c.redirect_tp, &redirect));
    RequestContext ctx;
    ctx.scheme = c.listener_scheme;
    ctx.listener_port = c.listener_port;
    Redirect r = BuildRedirect(redirect, Request("h.example:1234", "/p?q=1"), ctx);
    EXPECT_EQ(r.location, c.location)
        << c.redirect_tp << " on " << c.listener_scheme << ":" << c.listener_port;
    EXPECT_EQ(r.status, redirect.status_code() ? static_cast<int>(redirect.status_code()) : 302);
  }
}

TEST(Redirect, PrefixReplacementKeepsQuery) {
  api::RequestRedirect redirect;
  *redirect.mutable_path() = Prefix("/new");
  RequestContext ctx;
  ctx.matched_prefix = "/old";
  EXPECT_EQ(BuildRedirect(redirect, Request("h", "/old/x?a=b"), ctx).location,
            "http://h/new/x?a=b");
}

TEST(UrlRewrite, HostnameAndPath) {
  api::URLRewrite rewrite;
  rewrite.set_hostname("internal.example");
  *rewrite.mutable_path() = Prefix("/api");
  RequestContext ctx;
  ctx.matched_prefix = "/public";
  http::RequestHead r = Request("www.example:80", "/public/items?page=2");
  ApplyUrlRewrite(rewrite, ctx, r);
  EXPECT_EQ(r.host, "internal.example");
  EXPECT_EQ(r.path, "/api/items?page=2");

  api::URLRewrite host_only;
  host_only.set_hostname("h2");
  http::RequestHead r2 = Request("h1", "/keep?x");
  ApplyUrlRewrite(host_only, ctx, r2);
  EXPECT_EQ(r2.host, "h2");
  EXPECT_EQ(r2.path, "/keep?x");
}

TEST(HeaderModifier, SetAddRemoveCaseInsensitive) {
  api::HeaderModifier m;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "set { name: 'x-set' value: 'new' } add { name: 'X-Add' value: 'two' } "
      "remove: 'X-REMOVE' set { name: 'Host' value: 'rewritten.example' }",
      &m));
  http::RequestHead r = Request("orig", "/");
  r.headers.Add("X-Set", "old");
  r.headers.Add("X-SET", "older");
  r.headers.Add("x-add", "one");
  r.headers.Add("x-remove", "gone");
  ApplyRequestHeaderModifier(m, r);
  EXPECT_EQ(*r.headers.GetJoined("X-Set"), "new");
  EXPECT_EQ(*r.headers.GetJoined("X-Add"), "one, two");
  EXPECT_FALSE(r.headers.Has("x-remove"));
  EXPECT_EQ(r.host, "rewritten.example");
  EXPECT_FALSE(r.headers.Has("host"));
}

TEST(Mirror, Sampling) {
  std::mt19937_64 rng(7);
  api::RequestMirror all;
  all.set_cluster("m");
  EXPECT_TRUE(ShouldMirror(all, rng));  // unset fraction: every request
  api::RequestMirror none;
  none.set_numerator(0);
  none.set_denominator(100);
  api::RequestMirror half;
  half.set_numerator(1);
  half.set_denominator(2);
  api::RequestMirror over;
  over.set_numerator(5);
  over.set_denominator(4);
  int halves = 0;
  for (int i = 0; i < 2000; ++i) {
    EXPECT_FALSE(ShouldMirror(none, rng));
    EXPECT_TRUE(ShouldMirror(over, rng));
    halves += ShouldMirror(half, rng) ? 1 : 0;
  }
  EXPECT_NEAR(halves, 1000, 200);  // fixed seed; 9 standard deviations
}

TEST(Forwarded, AppendsClientAndSetsProto) {
  RequestContext ctx;
  ctx.scheme = "https";
  ctx.client_address = "198.18.0.7";
  http::RequestHead fresh = Request("h", "/");
  ApplyForwardedHeaders(ctx, fresh);
  EXPECT_EQ(*fresh.headers.Get("x-forwarded-for"), "198.18.0.7");
  EXPECT_EQ(*fresh.headers.Get("x-forwarded-proto"), "https");

  http::RequestHead proxied = Request("h", "/");
  proxied.headers.Add("X-Forwarded-For", "203.0.113.1");
  proxied.headers.Add("x-forwarded-for", "198.51.100.2");
  proxied.headers.Add("X-Forwarded-Proto", "http");
  ApplyForwardedHeaders(ctx, proxied);
  EXPECT_EQ(*proxied.headers.GetJoined("X-Forwarded-For"), "203.0.113.1, 198.51.100.2, 198.18.0.7");
  EXPECT_EQ(*proxied.headers.GetJoined("X-Forwarded-Proto"), "https");

  http::RequestHead empty = Request("h", "/");  // an empty X-Forwarded-For is replaced
  empty.headers.Add("X-Forwarded-For", "");
  ApplyForwardedHeaders(ctx, empty);
  EXPECT_EQ(*empty.headers.GetJoined("x-forwarded-for"), "198.18.0.7");
  EXPECT_EQ(empty.headers.size(), 2u);
}

TEST(RequestFilters, OutcomeCollectsRedirectMirrorsAndResponseModifiers) {
  google::protobuf::RepeatedPtrField<api::Filter> filters;
  api::L7Config holder;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "ports { listeners { virtual_hosts { routes { "
      "filters { request_mirror { cluster: 'mirror-a' } } "
      "filters { request_mirror { cluster: 'mirror-b' numerator: 0 denominator: 10 } } "
      "filters { response_header_modifier { set { name: 'X-Resp' value: '1' } remove: 'Server' } "
      "} "
      "filters { request_header_modifier { add { name: 'X-Req' value: 'yes' } } } "
      "} } } }",
      &holder));
  const auto& route_filters = holder.ports(0).listeners(0).virtual_hosts(0).routes(0).filters();
  std::mt19937_64 rng(1);
  http::RequestHead r = Request("h", "/");
  RequestContext ctx;
  FilterOutcome out = ApplyRequestFilters(route_filters, ctx, r, rng);
  EXPECT_FALSE(out.redirect.has_value());
  EXPECT_EQ(out.mirror_clusters, std::vector<std::string>{"mirror-a"});
  EXPECT_EQ(*r.headers.Get("X-Req"), "yes");
  http::ResponseHead resp;
  resp.headers.Add("server", "upstream");
  ApplyResponseFilters(out, resp);
  EXPECT_EQ(*resp.headers.Get("x-resp"), "1");
  EXPECT_FALSE(resp.headers.Has("Server"));
}

// Filters of the chosen backendRef apply after the route's (per-backend filters).
TEST(RequestFilters, PerBackendFilters) {
  using testing::Route;
  api::L7Config config = testing::SingleHostConfig({
      "route_name: 'b' match { path { type: PATH_PREFIX value: '/' } } "
      "filters { request_header_modifier { set { name: 'X-Route' value: 'r' } } } "
      "backends { cluster: 'only' weight: 1 filters { request_header_modifier { set { name: "
      "'X-Backend' value: 'b' } set { name: 'X-Route' value: 'overridden' } } } }",
  });
  auto table = RouteTable::Build(config);
  ASSERT_TRUE(table.ok());
  testing::Request req;
  testing::Result res = testing::Simulate(**table, req);
  EXPECT_EQ(res.cluster, "only");
  EXPECT_EQ(*res.forwarded.headers.Get("X-Backend"), "b");
  EXPECT_EQ(*res.forwarded.headers.Get("X-Route"), "overridden");
}

api::Cors Cors(const std::string& text) {
  api::Cors cors;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &cors)) << text;
  return cors;
}

// Origins as the spec's allowOrigins has them: exact, "*", and "*." host wildcards that
// cover any number of labels; scheme and port must agree (default ports implied).
TEST(Cors, OriginMatching) {
  api::Cors cors = Cors(
      "allow_origins: 'https://www.foo.com' allow_origins: 'https://*.bar.com' "
      "allow_origins: 'http://local.test:8080'");
  for (const char* yes :
       {"https://www.foo.com", "HTTPS://WWW.FOO.COM", "https://www.foo.com:443",
        "https://www.bar.com", "https://xpto.www.bar.com", "http://local.test:8080"}) {
    EXPECT_TRUE(CorsOriginAllowed(cors, yes)) << yes;
  }
  for (const char* no : {"http://www.foo.com", "https://www.foo.com:8443", "https://foo.com",
                         "https://bar.com", "https://www.bar.com.evil.org", "https://evilbar.com",
                         "http://local.test", "https://foobar.com", "null", "", "https://",
                         "https://www.foo.com/path", "https://www.foo.com:99999"}) {
    EXPECT_FALSE(CorsOriginAllowed(cors, no)) << no;
  }
  EXPECT_TRUE(CorsOriginAllowed(Cors("allow_origins: '*'"), "https://anything.example:1"));
  EXPECT_TRUE(CorsOriginAllowed(Cors("allow_origins: 'https://*'"), "https://x.y"));
  EXPECT_FALSE(CorsOriginAllowed(Cors("allow_origins: 'https://*'"), "http://x.y"));
}

http::RequestHead Preflight(const std::string& origin, const std::string& method,
                            const std::string& headers = "") {
  http::RequestHead r = Request("h", "/cors");
  r.method = "OPTIONS";
  r.headers.Set("Origin", origin);
  r.headers.Set("Access-Control-Request-Method", method);
  if (!headers.empty()) r.headers.Set("Access-Control-Request-Headers", headers);
  return r;
}

TEST(Cors, PreflightFromAnAllowedOriginIsAnswered) {
  api::Cors cors = Cors(
      "allow_origins: 'https://www.foo.com' allow_credentials: true "
      "allow_methods: 'GET' allow_methods: 'OPTIONS' allow_headers: 'x-header-1' "
      "allow_headers: 'x-header-2' expose_headers: 'x-header-3' max_age_seconds: 3600");
  auto answer = CorsPreflight(cors, Preflight("https://www.foo.com", "GET", "x-header-1"));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(*answer->headers.Get("Access-Control-Allow-Origin"), "https://www.foo.com");
  EXPECT_EQ(*answer->headers.Get("Access-Control-Allow-Methods"), "GET, OPTIONS");
  EXPECT_EQ(*answer->headers.Get("Access-Control-Allow-Headers"), "x-header-1, x-header-2");
  EXPECT_EQ(*answer->headers.Get("Access-Control-Expose-Headers"), "x-header-3");
  EXPECT_EQ(*answer->headers.Get("Access-Control-Max-Age"), "3600");
  EXPECT_EQ(*answer->headers.Get("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(*answer->headers.Get("Vary"), "Origin");

  // Not a preflight (no requested method, or not OPTIONS), or another origin: proxied.
  http::RequestHead plain = Preflight("https://www.foo.com", "GET");
  plain.headers.Remove("Access-Control-Request-Method");
  EXPECT_FALSE(CorsPreflight(cors, plain).has_value());
  http::RequestHead get = Preflight("https://www.foo.com", "GET");
  get.method = "GET";
  EXPECT_FALSE(CorsPreflight(cors, get).has_value());
  EXPECT_FALSE(CorsPreflight(cors, Preflight("https://foobar.com", "GET")).has_value());
}

TEST(Cors, WildcardsEchoWhatWasAsked) {
  api::Cors cors =
      Cors("allow_origins: '*' allow_methods: '*' allow_headers: '*' max_age_seconds: 5");
  auto answer = CorsPreflight(cors, Preflight("https://foobar.com:12345", "PUT", "x-a, x-b"));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(*answer->headers.Get("Access-Control-Allow-Origin"), "https://foobar.com:12345");
  EXPECT_EQ(*answer->headers.Get("Access-Control-Allow-Methods"), "PUT");
  EXPECT_EQ(*answer->headers.Get("Access-Control-Allow-Headers"), "x-a, x-b");
  EXPECT_FALSE(answer->headers.Has("Access-Control-Allow-Credentials"));
  EXPECT_FALSE(answer->headers.Has("Access-Control-Expose-Headers"));
}

// A proxied request from an allowed origin gets the CORS headers on the upstream's response,
// which keeps its own Vary; a preflight through the filter chain is answered locally.
TEST(Cors, ThroughTheFilterChain) {
  api::L7Config holder;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "ports { listeners { virtual_hosts { routes { filters { cors { "
      "allow_origins: 'https://*.bar.com' expose_headers: 'x-e' allow_credentials: true "
      "max_age_seconds: 5 } } } } } }",
      &holder));
  const auto& filters = holder.ports(0).listeners(0).virtual_hosts(0).routes(0).filters();
  std::mt19937_64 rng(1);
  RequestContext ctx;

  http::RequestHead get = Request("h", "/");
  get.headers.Set("Origin", "https://www.bar.com");
  FilterOutcome out = ApplyRequestFilters(filters, ctx, get, rng);
  EXPECT_FALSE(out.local.has_value());
  http::ResponseHead resp;
  resp.headers.Set("Vary", "Accept-Encoding");
  resp.headers.Set("Access-Control-Allow-Origin", "https://upstream.says");
  ApplyResponseFilters(out, resp);
  EXPECT_EQ(*resp.headers.Get("Access-Control-Allow-Origin"), "https://www.bar.com");
  EXPECT_EQ(*resp.headers.Get("Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(*resp.headers.Get("Access-Control-Expose-Headers"), "x-e");
  EXPECT_EQ(*resp.headers.GetJoined("Vary"), "Accept-Encoding, Origin");

  http::RequestHead other = Request("h", "/");
  other.headers.Set("Origin", "https://foobar.com");
  FilterOutcome none = ApplyRequestFilters(filters, ctx, other, rng);
  http::ResponseHead plain;
  ApplyResponseFilters(none, plain);
  EXPECT_FALSE(plain.headers.Has("Access-Control-Allow-Origin"));

  http::RequestHead pre = Preflight("https://a.bar.com", "DELETE");
  FilterOutcome answered = ApplyRequestFilters(filters, ctx, pre, rng);
  ASSERT_TRUE(answered.local.has_value());
  EXPECT_EQ(*answered.local->headers.Get("Access-Control-Allow-Origin"), "https://a.bar.com");
}

}  // namespace
}  // namespace xgate::routing

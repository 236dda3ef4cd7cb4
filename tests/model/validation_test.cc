// Each CRD validation rule refuses the document with file, line, field path and message,
// while the other documents of the file still load.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/model/loader.h"
#include "tests/model/test_util.h"

namespace xgate::model {
namespace {

using testing::Errors;
using testing::Load;

struct Refusal {
  const char* name;
  const char* yaml;     // the line marked "#!" is where the error must point
  const char* field;    // field path
  const char* message;  // part of the message
};

// An HTTPRoute whose rule body is `rule` (indented as the first rule's fields).
std::string Route(const std::string& rule) {
  return absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: web}
spec:
  parentRefs: [{name: gw}]
  rules:
  - )",
                      rule);
}

std::string Gw(const std::string& listeners) {
  return absl::StrCat(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: acme
  listeners:
  - )",
                      listeners);
}

int MarkedLine(const std::string& yaml) {
  int line = 1;
  for (size_t i = 0; i < yaml.size(); ++i) {
    if (yaml.compare(i, 2, "#!") == 0) return line;
    if (yaml[i] == '\n') ++line;
  }
  return -1;
}

void ExpectRefused(const std::string& yaml, const std::string& field, const std::string& message) {
  LoadResult r = Load(yaml, "bad.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << yaml << "\n" << Errors(r);
  const LoadError& e = r.errors[0];
  EXPECT_EQ(e.field, field) << e.ToString();
  EXPECT_NE(e.message.find(message), std::string::npos) << e.ToString();
  EXPECT_EQ(e.pos.file, "bad.yaml");
  int line = MarkedLine(yaml);
  ASSERT_GT(line, 0) << "test case has no #! marker";
  EXPECT_EQ(e.pos.line, line) << e.ToString();
  std::string text = e.ToString();
  EXPECT_EQ(text.find(absl::StrCat("bad.yaml:", line, ": ")), 0u) << text;
  EXPECT_NE(text.find(field), std::string::npos) << text;
  EXPECT_EQ(r.store.Size(), 0u);
}

TEST(Validation, HTTPRouteRules) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {Route("matches:\n    - path: {type: PathPrefix, value: foo}  #!\n"),
       "spec.rules[0].matches[0].path.value", "start with '/'"},
      {Route("matches:\n    - path:\n        value: /a//b  #!\n"),
       "spec.rules[0].matches[0].path.value", "must not contain '//'"},
      {Route("matches:\n    - path: {type: Exact, value: /a/./b}  #!\n"),
       "spec.rules[0].matches[0].path.value", "must not contain '/./'"},
      {Route("matches:\n    - path: {type: Exact, value: \"/a b\"}  #!\n"),
       "spec.rules[0].matches[0].path.value", "valid characters"},
      {Route("matches:\n    - path:\n        type: Prefix  #!\n"),
       "spec.rules[0].matches[0].path.type", "Unsupported value: \"Prefix\""},
      {Route("matches:\n    - headers:\n      - name: \"bad header\"  #!\n        value: x\n"),
       "spec.rules[0].matches[0].headers[0].name", "header name"},
      {Route("matches:\n    - headers:\n      - {name: a, value: x, type: Prefix}  #!\n"),
       "spec.rules[0].matches[0].headers[0].type", "Unsupported value"},
      {Route("matches:\n    - headers:\n      - {name: a, value: x}\n      - {name: A, value: y}  "
             "#!\n"),
       "spec.rules[0].matches[0].headers[1].name", "Duplicate value"},
      {Route("matches:\n    - method: FETCH  #!\n"), "spec.rules[0].matches[0].method",
       "Unsupported value"},
      {Route("backendRefs:\n    - name: svc\n      port: 80\n      weight: 1000001  #!\n"),
       "spec.rules[0].backendRefs[0].weight", "between 0 and 1000000"},
      {Route("backendRefs:\n    - name: svc\n      port: 70000  #!\n"),
       "spec.rules[0].backendRefs[0].port", "between 1 and 65535"},
      {Route("backendRefs:\n    - name: svc  #!\n"), "spec.rules[0].backendRefs[0].port",
       "must have port for Service reference"},
      {Route("backendRefs:\n    - name: svc\n      port: \"80\"  #!\n"),
       "spec.rules[0].backendRefs[0].port", "must be an integer"},
      {Route("filters:\n    - type: Bogus  #!\n"), "spec.rules[0].filters[0].type",
       "Unsupported value: \"Bogus\""},
      {Route("filters:\n    - type: RequestRedirect  #!\n"),
       "spec.rules[0].filters[0].requestRedirect", "must be specified for RequestRedirect"},
      {Route("filters:\n    - type: RequestRedirect\n      requestRedirect: {}\n      "
             "requestHeaderModifier: {}  #!\n"),
       "spec.rules[0].filters[0].requestHeaderModifier", "must be nil"},
      {Route("filters:\n    - type: RequestRedirect\n      requestRedirect:\n        statusCode: "
             "304  #!\n"),
       "spec.rules[0].filters[0].requestRedirect.statusCode", "Unsupported value: 304"},
      {Route("filters:\n    - type: RequestRedirect\n      requestRedirect:\n        scheme: ftp  "
             "#!\n"),
       "spec.rules[0].filters[0].requestRedirect.scheme", "Unsupported value: \"ftp\""},
      {Route("filters:\n    - type: URLRewrite\n      urlRewrite:\n        path:\n          type: "
             "ReplaceFullPath\n          replacePrefixMatch: /x  #!\n"),
       "spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch", "Forbidden"},
      {Route("filters:\n    - type: URLRewrite\n      urlRewrite:\n        path:  #!\n          "
             "type: "
             "ReplacePrefixMatch\n"),
       "spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch", "must be specified"},
      {Route("filters:\n    - type: URLRewrite\n      urlRewrite:\n        path:\n          type: "
             "Rewrite  #!\n"),
       "spec.rules[0].filters[0].urlRewrite.path.type", "Unsupported value"},
      {Route("filters:\n    - type: RequestHeaderModifier\n      requestHeaderModifier: {}\n    - "
             "type: RequestHeaderModifier  #!\n      requestHeaderModifier: {}\n"),
       "spec.rules[0].filters[1].type", "cannot be repeated"},
      {Route("filters:  #!\n    - type: RequestRedirect\n      requestRedirect: {}\n    - "
             "type: URLRewrite\n      urlRewrite: {}\n"),
       "spec.rules[0].filters", "not both"},
      {Route("filters:  #!\n    - type: RequestRedirect\n      requestRedirect: {}\n    "
             "backendRefs: [{name: s, port: 80}]\n"),
       "spec.rules[0].filters", "must not be used together with backendRefs"},
      {Route("matches: [{path: {type: Exact, value: /a}}]\n    filters:  #!\n    - type: "
             "URLRewrite\n      urlRewrite:\n        path: {type: ReplacePrefixMatch, "
             "replacePrefixMatch: /b}\n"),
       "spec.rules[0].filters", "exactly one PathPrefix match"},
      {Route("timeouts:\n      request: 10x  #!\n"), "spec.rules[0].timeouts.request",
       "Gateway API Duration"},
      {Route("timeouts:\n      request: 1s\n      backendRequest: 2s  #!\n"),
       "spec.rules[0].timeouts.backendRequest", "cannot be longer than request"},
      {Route("filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: "
             "{name: m, port: 80}\n        percent: 101  #!\n"),
       "spec.rules[0].filters[0].requestMirror.percent", "between 0 and 100"},
      {Route("filters:\n    - type: CORS\n      cors:\n        allowOrigins: [\"https://a.com\", "
             "\"ftp://b.com\"]  #!\n"),
       "spec.rules[0].filters[0].cors.allowOrigins[1]", "scheme://host[:port]"},
      {Route("filters:\n    - type: CORS\n      cors:\n        allowOrigins: [\"*\", "
             "\"https://a.com\"]  #!\n"),
       "spec.rules[0].filters[0].cors.allowOrigins", "cannot contain '*' alongside other origins"},
      {Route("filters:\n    - type: CORS\n      cors:\n        allowMethods: [GET, FETCH]  #!\n"),
       "spec.rules[0].filters[0].cors.allowMethods[1]", "supported values"},
      {Route("filters:\n    - type: CORS\n      cors:\n        allowHeaders: [\"x a\"]  #!\n"),
       "spec.rules[0].filters[0].cors.allowHeaders[0]", "HTTP header name"},
      {Route("filters:\n    - type: CORS\n      cors:\n        maxAge: 0  #!\n"),
       "spec.rules[0].filters[0].cors.maxAge", ""},
      {Route("filters:\n    - type: CORS  #!\n"), "spec.rules[0].filters[0].cors",
       "must be specified for CORS"},
      {Route("retry:\n      codes: [500, 302]  #!\n"), "spec.rules[0].retry.codes[1]",
       "between 400 and 599"},
      {Route("retry:\n      codes: [\"500\"]  #!\n"), "spec.rules[0].retry.codes[0]",
       "must be an integer"},
      {Route("retry:\n      attempts: -1  #!\n"), "spec.rules[0].retry.attempts",
       "between 0 and 1000"},
      {Route("retry:\n      backoff: 1sec  #!\n"), "spec.rules[0].retry.backoff",
       "Gateway API Duration"},
      {Route("retry: [1]  #!\n"), "spec.rules[0].retry", ""},
      {Route("sessionPersistence:\n      type: Url  #!\n"), "spec.rules[0].sessionPersistence.type",
       "supported values"},
      {Route("sessionPersistence:\n      sessionName: \"a b\"  #!\n"),
       "spec.rules[0].sessionPersistence.sessionName", "HTTP header name"},
      {Route("sessionPersistence:\n      absoluteTimeout: 1d  #!\n"),
       "spec.rules[0].sessionPersistence.absoluteTimeout", "Gateway API Duration"},
      {Route("sessionPersistence:\n      idleTimeout: 0s  #!\n"),
       "spec.rules[0].sessionPersistence.idleTimeout", "longer than 0"},
      {Route("sessionPersistence:\n      type: Header\n      cookieConfig: {}  #!\n"),
       "spec.rules[0].sessionPersistence.cookieConfig", "only be set with type Cookie"},
      {Route("sessionPersistence:\n      cookieConfig: {lifetimeType: Forever}  #!\n"),
       "spec.rules[0].sessionPersistence.cookieConfig.lifetimeType", "supported values"},
      {Route("sessionPersistence:\n      cookieConfig: {lifetimeType: Permanent}  #!\n"),
       "spec.rules[0].sessionPersistence.cookieConfig.lifetimeType",
       "AbsoluteTimeout must be specified when cookie lifetimeType is Permanent"},
      // The shape on Gateway API's main branch: cookie {name, path, lifetimeType}, header.
      {Route("sessionPersistence:\n      cookie: {path: shop}  #!\n"),
       "spec.rules[0].sessionPersistence.cookie.path", "starts with \"/\""},
      {Route("sessionPersistence:\n      cookie: {path: \"/a; Domain=example.org\"}  #!\n"),
       "spec.rules[0].sessionPersistence.cookie.path", "no \";\""},
      {Route("sessionPersistence:\n      type: Header\n      cookie: {}  #!\n"),
       "spec.rules[0].sessionPersistence.cookie", "only be set with type Cookie"},
      {Route("sessionPersistence:\n      header: {name: x-s}  #!\n"),
       "spec.rules[0].sessionPersistence.header", "only be set with type Header"},
      {Route("sessionPersistence:\n      sessionName: a\n      cookie: {name: b}  #!\n"),
       "spec.rules[0].sessionPersistence.cookie.name", "set one"},
      {Route("sessionPersistence:\n      cookieConfig: {}\n      cookie: {}  #!\n"),
       "spec.rules[0].sessionPersistence.cookie", "set one"},
      {Route("sessionPersistence:\n      type: Header\n      header: {name: \"a b\"}  #!\n"),
       "spec.rules[0].sessionPersistence.header.name", "HTTP header name"},
      {Route("sessionPersistence:\n      cookie: {lifetimeType: Permanent}  #!\n"),
       "spec.rules[0].sessionPersistence.cookie.lifetimeType",
       "AbsoluteTimeout must be specified when cookie lifetimeType is Permanent"},
  };
  for (const auto& [yaml, field, message] : cases) {
    SCOPED_TRACE(yaml);
    ExpectRefused(yaml, field, message);
  }
}

TEST(Validation, RouteLevel) {
  std::string many_hosts = "hostnames:  #!\n";
  for (int i = 0; i < 17; ++i) many_hosts += absl::StrCat("  - h", i, ".example.com\n");
  std::string many_rules = "rules:  #!\n";
  for (int i = 0; i < 17; ++i) many_rules += "  - backendRefs: [{name: s, port: 80}]\n";
  std::string head =
      "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\nmetadata: {name: "
      "r}\nspec:\n  ";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {head + many_hosts, "spec.hostnames", "at most 16"},
      {head + many_rules, "spec.rules", "at most 16"},
      {head + "hostnames: [198.18.0.1]  #!\n", "spec.hostnames[0]", "not an IP address"},
      {head + "parentRefs:\n  - {name: gw, sectionName: a}\n  - {name: gw}  #!\n",
       "spec.parentRefs[1]", "references to the same parent"},
      {head + "parentRefs:\n  - {name: gw, sectionName: a}\n  - {name: gw, sectionName: a}  #!\n",
       "spec.parentRefs[1]", "references to the same parent"},
      {head + "hostnames: [Foo.example.com]  #!\n", "spec.hostnames[0]", "RFC 1123"},
      {head + "hostnames: [\"*.*.example.com\"]  #!\n", "spec.hostnames[0]", "RFC 1123"},
      {head + "parentRefs:\n  - name: gw\n    sectionName: Bad_Name  #!\n",
       "spec.parentRefs[0].sectionName", "lower case"},
      {"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: Bad_Name  "
       "#!\n",
       "metadata.name", "RFC 1123 subdomain"},
      {"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:  #!\n  namespace: x\n",
       "metadata.name", "Required value"},
      {"apiVersion: gateway.networking.k8s.io/v9  #!\nkind: HTTPRoute\nmetadata: {name: r}\n",
       "apiVersion", "Unsupported value"},
      {"apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: r}\n"
       "spec:  #!\n  parentRefs: [{name: gw}]\n",
       "spec.rules", "Required value"},
      {"apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: r}\n"
       "spec:\n  rules:\n  - backendRefs:\n    - {name: a, port: 1, weight: -1}  #!\n",
       "spec.rules[0].backendRefs[0].weight", "between 0 and 1000000"},
  };
  for (const auto& [yaml, field, message] : cases) {
    SCOPED_TRACE(yaml);
    ExpectRefused(yaml, field, message);
  }
}

TEST(Validation, Gateways) {
  std::string many = "name: l0\n    port: 1\n    protocol: TCP\n";
  for (int i = 1; i < 65; ++i)
    many += absl::StrCat("  - {name: l", i, ", port: ", i + 1, ", protocol: TCP}\n");
  std::string many_yaml = absl::StrReplaceAll(Gw(many), {{"  listeners:\n", "  listeners:  #!\n"}});
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {many_yaml, "spec.listeners", "at most 64"},
      {Gw("name: a\n    port: 70000  #!\n    protocol: HTTP\n"), "spec.listeners[0].port",
       "between 1 and 65535"},
      {Gw("name: Bad_Name  #!\n    port: 80\n    protocol: HTTP\n"), "spec.listeners[0].name",
       "lower case"},
      {Gw("name: a\n    port: 80\n    protocol: HTTP\n  - name: a  #!\n    port: 81\n    protocol: "
          "HTTP\n"),
       "spec.listeners[1].name", "must be unique within the Gateway"},
      {Gw("name: a\n    port: 80\n    protocol: HTTP\n  - name: b  #!\n    port: 80\n    protocol: "
          "HTTP\n"),
       "spec.listeners[1]", "combination of port, protocol and hostname"},
      {Gw("name: a\n    port: 80\n    protocol: \"not valid!\"  #!\n"),
       "spec.listeners[0].protocol", "protocol name"},
      {Gw("name: a  #!\n    port: 443\n    protocol: HTTPS\n"), "spec.listeners[0].tls",
       "tls must be specified"},
      {Gw("name: a\n    port: 80\n    protocol: HTTP\n    tls: {}  #!\n"), "spec.listeners[0].tls",
       "must not be specified for protocols"},
      {Gw("name: a\n    port: 443\n    protocol: HTTPS\n    tls:\n      mode: Passthrough  #!\n"),
       "spec.listeners[0].tls.mode", "must be Terminate for protocol HTTPS"},
      {Gw("name: a\n    port: 443\n    protocol: TLS\n    tls:\n      mode: Bogus  #!\n"),
       "spec.listeners[0].tls.mode", "Unsupported value"},
      {Gw("name: a\n    port: 443\n    protocol: HTTPS\n    tls:  #!\n      mode: Terminate\n"),
       "spec.listeners[0].tls.certificateRefs", "certificateRefs or options"},
      {Gw("name: a\n    port: 53\n    protocol: UDP\n    hostname: a.example.com  #!\n"),
       "spec.listeners[0].hostname", "must not be specified for protocols ['TCP', 'UDP']"},
      {Gw("name: a\n    port: 80\n    protocol: HTTP\n    hostname: \"*\"  #!\n"),
       "spec.listeners[0].hostname", "RFC 1123"},
      {Gw("name: a\n    port: 80\n    protocol: HTTP\n    allowedRoutes:\n      namespaces:\n"
          "        from: Everywhere  #!\n"),
       "spec.listeners[0].allowedRoutes.namespaces.from", "Unsupported value"},
      {Gw("name: a\n    port: 80\n    protocol: HTTP\n    allowedRoutes:\n      namespaces:  #!\n"
          "        from: Selector\n"),
       "spec.listeners[0].allowedRoutes.namespaces.selector", "Required value"},
      {Gw("name: a\n    port: 80\n    protocol: HTTP\n  addresses:\n  - value: 300.1.1.1  #!\n"),
       "spec.addresses[0].value", "must be an IP address"},
      {"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:  #!\n"
       "  gatewayClassName: acme\n",
       "spec.listeners", "Required value"},
      {"apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: c}\nspec:\n"
       "  controllerName: no-slash  #!\n",
       "spec.controllerName", "domain-prefixed path"},
  };
  for (const auto& [yaml, field, message] : cases) {
    SCOPED_TRACE(yaml);
    ExpectRefused(yaml, field, message);
  }
}

TEST(Validation, CoreAndGrants) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: g}\n"
       "spec:  #!\n  to: [{group: \"\", kind: Service}]\n",
       "spec.from", "Required value"},
      {"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata:  #!\n"
       "  tls.crt: Zm9v\n",
       "data", "tls.key"},
      {"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  a: \"not base64!\"  #!\n",
       "data.a", "base64"},
      {"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - port: 0  #!\n",
       "spec.ports[0].port", "between 1 and 65535"},
      {"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: "
       "IPv4\n"
       "endpoints:\n- addresses: [fd00::1]  #!\n",
       "endpoints[0].addresses[0]", "valid IPv4 address"},
      {"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    team: 7  #!\n",
       "metadata.labels.team", "must be a string"},
      {"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n    team: \"-x\"  #!\n",
       "metadata.labels.team", "label value"},
      {"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a.b  #!\n", "metadata.name",
       "RFC 1123 label"},
      {"apiVersion: v1\nkind: Service\nmetadata:\n  name: 1svc  #!\n", "metadata.name",
       "must start with a letter"},
  };
  for (const auto& [yaml, field, message] : cases) {
    SCOPED_TRACE(yaml);
    ExpectRefused(yaml, field, message);
  }
}

TEST(Validation, AcceptedEdgeValues) {
  LoadResult r = Load(Route(R"(name: main
    matches:
    - path: {type: PathPrefix, value: /api}
    filters:
    - type: URLRewrite
      urlRewrite:
        hostname: internal.example.com
        path: {type: ReplacePrefixMatch, replacePrefixMatch: /}
    backendRefs:
    - {name: s, port: 65535, weight: 1000000}
    - {name: t, port: 1, weight: 0}
    timeouts: {request: 1h2m, backendRequest: 500ms}
    retry: {codes: [503, 504], attempts: 4, backoff: 250ms}
    sessionPersistence:
      sessionName: JSESSIONID
      absoluteTimeout: 1h
      idleTimeout: 10m
      cookieConfig: {lifetimeType: Permanent}
  - filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, statusCode: 308, port: 8443}
  hostnames: ["*.example.com", "a-b.example.com"]
)"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const HTTPRoute& route = r.store.http_routes.at({"web", "r"});
  EXPECT_EQ(route.rules[0].timeouts.request_ms, 3720000);
  EXPECT_EQ(route.rules[0].timeouts.backend_request_ms, 500);
  ASSERT_TRUE(route.rules[0].retry);
  EXPECT_EQ(route.rules[0].retry->codes, std::vector<int>({503, 504}));
  EXPECT_EQ(route.rules[0].retry->attempts, 4);
  EXPECT_EQ(route.rules[0].retry->backoff_ms, 250);
  EXPECT_FALSE(route.rules[1].retry);
  ASSERT_TRUE(route.rules[0].session_persistence);
  const SessionPersistence& session = *route.rules[0].session_persistence;
  EXPECT_EQ(session.type, SessionPersistence::Type::kCookie);  // the CRD's default
  EXPECT_EQ(session.session_name, "JSESSIONID");
  EXPECT_EQ(session.absolute_timeout_ms, 3600000);
  EXPECT_EQ(session.idle_timeout_ms, 600000);
  EXPECT_TRUE(session.permanent_cookie);
  EXPECT_EQ(route.raw["spec"]["rules"][0]["sessionPersistence"]["type"], "Cookie");
  EXPECT_FALSE(route.rules[1].session_persistence);
  EXPECT_EQ(route.rules[0].name, "main");
  EXPECT_EQ(route.rules[0].backend_refs[1].weight, 0);
  EXPECT_EQ(route.rules[1].filters[0].request_redirect.status_code, 308);
  EXPECT_EQ(route.rules[1].filters[0].request_redirect.scheme, "https");
  EXPECT_EQ(route.rules[1].filters[0].request_redirect.port, 8443);
  // The second rule had no matches: the CRD default PathPrefix "/".
  ASSERT_EQ(route.rules[1].matches.size(), 1u);
  EXPECT_EQ(route.rules[1].matches[0].path.type, PathMatchType::kPathPrefix);
  EXPECT_EQ(route.rules[1].matches[0].path.value, "/");
  EXPECT_EQ(route.raw["spec"]["rules"][1]["matches"][0]["path"]["type"], "PathPrefix");
  EXPECT_EQ(route.raw["spec"]["rules"][1]["filters"][0]["requestRedirect"]["statusCode"], 308);
}

TEST(Validation, SameParentTwiceWithDistinctSections) {
  LoadResult r = Load(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw, sectionName: a}, {name: gw, port: 443}, {name: other}]
)");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.store.http_routes.at({"default", "r"}).parent_refs.size(), 3u);
}

}  // namespace
}  // namespace xgate::model

// GRPCRoute v1: decoded fields and the CRD's validation rules (file, line, field).
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "agent/model/loader.h"
#include "tests/model/test_util.h"

namespace xgate::model {
namespace {

using testing::Errors;
using testing::Load;

// A GRPCRoute whose first rule's body is `rule`.
std::string Route(const std::string& rule, const std::string& api = "v1") {
  return absl::StrCat("apiVersion: gateway.networking.k8s.io/", api, R"(
kind: GRPCRoute
metadata: {name: r, namespace: web}
spec:
  parentRefs: [{name: gw}]
  hostnames: [grpc.example.com]
  rules:
  - )",
                      rule);
}

TEST(GRPCRoute, DecodesMatchesFiltersAndBackends) {
  LoadResult r = Load(Route(R"(name: echo
    matches:
    - method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: Echo}
      headers:
      - {name: version, value: two}
      - {name: Version, value: ignored}
    - method: {type: RegularExpression, method: "Echo.*"}
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-a, value: b}]}
    - type: RequestMirror
      requestMirror: {backendRef: {name: mirror, port: 9000}}
    backendRefs:
    - name: grpc-v1
      port: 8080
      weight: 3
      filters:
      - type: ResponseHeaderModifier
        responseHeaderModifier: {add: [{name: x-b, value: c}]}
    - {name: grpc-v2, port: 8080}
)"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  ASSERT_EQ(r.store.grpc_routes.size(), 1u);
  const GRPCRoute& g = r.store.grpc_routes.at({"web", "r"});
  EXPECT_EQ(g.hostnames, std::vector<std::string>{"grpc.example.com"});
  ASSERT_EQ(g.rules.size(), 1u);
  const GRPCRouteRule& rule = g.rules[0];
  EXPECT_EQ(rule.name, "echo");
  ASSERT_EQ(rule.matches.size(), 2u);
  ASSERT_TRUE(rule.matches[0].method);
  EXPECT_EQ(rule.matches[0].method->type, GRPCMethodMatchType::kExact);
  EXPECT_EQ(rule.matches[0].method->service,
            "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho");
  EXPECT_EQ(rule.matches[0].method->method, "Echo");
  ASSERT_EQ(rule.matches[0].headers.size(), 1u) << "the second, same name but for case, is ignored";
  EXPECT_EQ(rule.matches[0].headers[0].value, "two");
  EXPECT_EQ(rule.matches[1].method->type, GRPCMethodMatchType::kRegularExpression);
  EXPECT_EQ(rule.matches[1].method->service, "");
  ASSERT_EQ(rule.filters.size(), 2u);
  EXPECT_EQ(rule.filters[1].type, HTTPFilterType::kRequestMirror);
  ASSERT_EQ(rule.backend_refs.size(), 2u);
  EXPECT_EQ(rule.backend_refs[0].weight, 3);
  ASSERT_EQ(rule.backend_refs[0].filters.size(), 1u);
  EXPECT_EQ(rule.backend_refs[0].filters[0].type, HTTPFilterType::kResponseHeaderModifier);
  EXPECT_EQ(rule.backend_refs[1].weight, 1);
  EXPECT_EQ(g.raw["apiVersion"], "gateway.networking.k8s.io/v1");
  EXPECT_EQ(g.raw["spec"]["rules"][0]["matches"][0]["method"]["type"], "Exact") << "defaulted";
}

TEST(GRPCRoute, RulesAndMatchesMayBeAbsent) {
  LoadResult r = Load(Route("backendRefs: [{name: s, port: 80}]\n", "v1alpha2"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const GRPCRoute& g = r.store.grpc_routes.at({"web", "r"});
  EXPECT_TRUE(g.rules[0].matches.empty());
  EXPECT_EQ(g.api_version, "gateway.networking.k8s.io/v1alpha2");
}

TEST(GRPCRoute, V1beta1IsNotAVersionOfGRPCRoute) {
  LoadResult r = Load(Route("backendRefs: [{name: s, port: 80}]\n", "v1beta1"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "apiVersion");
}

void ExpectRefused(const std::string& rule, const std::string& field, const std::string& message,
                   int line) {
  LoadResult r = Load(Route(rule), "bad.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << rule << "\n" << Errors(r);
  EXPECT_EQ(r.errors[0].field, field) << r.errors[0].ToString();
  EXPECT_NE(r.errors[0].message.find(message), std::string::npos) << r.errors[0].ToString();
  EXPECT_EQ(r.errors[0].pos.file, "bad.yaml");
  EXPECT_EQ(r.errors[0].pos.line, line) << r.errors[0].ToString();
  EXPECT_EQ(r.store.grpc_routes.size(), 0u);
}

TEST(GRPCRoute, ValidationRules) {
  // Line 8 is the rule's first line.
  ExpectRefused("matches:\n    - method: {type: Exact}\n", "spec.rules[0].matches[0].method",
                "One or both of 'service' or 'method'", 9);
  ExpectRefused("matches:\n    - method: {service: \"foo/bar\"}\n",
                "spec.rules[0].matches[0].method.service", "valid characters", 9);
  ExpectRefused("matches:\n    - method: {service: foo, method: \"Ec-ho\"}\n",
                "spec.rules[0].matches[0].method.method", "valid characters", 9);
  ExpectRefused("matches:\n    - method: {type: Prefix, service: foo}\n",
                "spec.rules[0].matches[0].method.type", "Unsupported value: \"Prefix\"", 9);
  ExpectRefused(
      "matches:\n    - headers:\n      - {name: a, value: x}\n      - {name: a, value: y}\n",
      "spec.rules[0].matches[0].headers[1].name", "Duplicate value", 11);
  ExpectRefused("matches:\n    - headers:\n      - {name: a, value: x, type: Prefix}\n",
                "spec.rules[0].matches[0].headers[0].type", "Unsupported value", 10);
  ExpectRefused("filters:\n    - type: RequestRedirect\n      requestRedirect: {}\n",
                "spec.rules[0].filters[0].type", "Unsupported value: \"RequestRedirect\"", 9);
  ExpectRefused("filters:\n    - type: URLRewrite\n      urlRewrite: {}\n",
                "spec.rules[0].filters[0].type", "Unsupported value: \"URLRewrite\"", 9);
  ExpectRefused(
      "filters:\n    - type: RequestHeaderModifier\n      requestHeaderModifier: {}\n"
      "    - type: RequestHeaderModifier\n      requestHeaderModifier: {}\n",
      "spec.rules[0].filters[1].type", "cannot be repeated", 11);
  ExpectRefused("backendRefs:\n    - name: svc\n", "spec.rules[0].backendRefs[0].port",
                "must have port", 9);
  ExpectRefused(
      "backendRefs:\n    - name: svc\n      port: 80\n      filters:\n      - type: CORS\n"
      "        cors: {}\n",
      "spec.rules[0].backendRefs[0].filters[0].type", "Unsupported value: \"CORS\"", 12);
  ExpectRefused("name: a\n  - name: a\n", "spec.rules[1].name", "must be unique", 9);
}

}  // namespace
}  // namespace xgate::model

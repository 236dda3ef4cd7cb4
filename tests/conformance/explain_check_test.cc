#include "tools/conformance/explain_check.h"

#include <gtest/gtest.h>

#include "tools/conformance/client.h"

namespace xgate::conformance {
namespace {

api::RequestExplanation Routed(std::initializer_list<std::pair<const char*, uint32_t>> backends) {
  api::RequestExplanation e;
  e.set_outcome("routed");
  e.set_route("HTTPRoute gateway-conformance-infra/r");
  e.set_rule_index(1);
  for (const auto& [svc, w] : backends) {
    api::ExplainBackend* b = e.add_backends();
    b->set_service(svc);
    b->set_cluster(w > 0 ? std::string(svc) + ":8080" : "");
    b->set_weight(w);
    api::Endpoint* ep = b->add_endpoints();
    ep->set_address("198.19.1.2");
    ep->set_port(3000);
  }
  return e;
}

api::RequestExplanation NotRouted(const char* outcome, uint32_t status) {
  api::RequestExplanation e;
  e.set_outcome(outcome);
  e.set_status(status);
  return e;
}

EchoSeen Echo(const char* ns, const char* svc) {
  EchoSeen s;
  s.ns = ns;
  s.service = svc;
  s.pod = std::string(svc) + "-0";
  return s;
}

Response Status(int code) {
  Response r;
  r.status = code;
  return r;
}

TEST(ProbeForTest, TakesMethodPathHostAndHeadersFromTheBytesSent) {
  Request r;
  r.method = "POST";
  r.path = "/a?b=c";
  r.host = "example.com:8080";
  r.headers = {{"X-Foo", "bar"}};
  std::string raw = BuildHttpRequest(r, "198.18.100.1");
  auto probe = ProbeFor(raw, "198.18.100.1", 8080, "example.com");
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->listener_address(), "198.18.100.1");
  EXPECT_EQ(probe->listener_port(), 8080u);
  EXPECT_EQ(probe->sni(), "example.com");
  EXPECT_EQ(probe->method(), "POST");
  EXPECT_EQ(probe->path(), "/a?b=c");
  EXPECT_EQ(probe->host(), "example.com:8080");
  ASSERT_GE(probe->headers_size(), 1);
  EXPECT_EQ(probe->headers(0).name(), "X-Foo");
  EXPECT_EQ(probe->headers(0).value(), "bar");
  for (const api::Header& h : probe->headers()) EXPECT_NE(h.name(), "Host");
}

TEST(ProbeForTest, RefusesBytesWithoutAHead) {
  EXPECT_FALSE(ProbeFor("GET / HTTP/1.1\r\nHost: a\r\n", "198.18.100.1", 80, "").ok());
  EXPECT_FALSE(ProbeFor("GET /\r\n\r\n", "198.18.100.1", 80, "").ok());
}

TEST(CompareExplanationTest, AgreesWhenTheAnsweringServiceIsAWeightedBackend) {
  auto e = Routed({{"gateway-conformance-infra/infra-backend-v1", 70},
                   {"gateway-conformance-infra/infra-backend-v2", 30}});
  EchoSeen seen = Echo("gateway-conformance-infra", "infra-backend-v2");
  std::string compared;
  EXPECT_EQ(CompareExplanation(e, Status(200), &seen, "198.19.1.2", &compared), "");
  EXPECT_EQ(compared, "backend");
}

TEST(CompareExplanationTest, DiffersWhenAnotherServiceAnswered) {
  auto e = Routed({{"gateway-conformance-infra/infra-backend-v1", 1}});
  EchoSeen seen = Echo("gateway-conformance-infra", "infra-backend-v2");
  std::string d = CompareExplanation(e, Status(200), &seen, "");
  EXPECT_NE(d.find("explain said routed to HTTPRoute gateway-conformance-infra/r rule 1"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("the proxy sent it to gateway-conformance-infra/infra-backend-v2"),
            std::string::npos)
      << d;
}

TEST(CompareExplanationTest, DiffersWhenTheAnsweringServiceHasWeightZero) {
  auto e = Routed({{"gateway-conformance-infra/infra-backend-v1", 1},
                   {"gateway-conformance-infra/infra-backend-v3", 0}});
  EchoSeen seen = Echo("gateway-conformance-infra", "infra-backend-v3");
  EXPECT_NE(CompareExplanation(e, Status(200), &seen, ""), "");
}

TEST(CompareExplanationTest, DiffersWhenThePodIsNotAnEndpointExplainNames) {
  auto e = Routed({{"gateway-conformance-infra/infra-backend-v1", 1}});
  EchoSeen seen = Echo("gateway-conformance-infra", "infra-backend-v1");
  std::string d = CompareExplanation(e, Status(200), &seen, "198.19.7.2");
  EXPECT_NE(d.find("198.19.1.2:3000"), std::string::npos) << d;
  EXPECT_NE(d.find("198.19.7.2"), std::string::npos) << d;
}

TEST(CompareExplanationTest, DiffersWhenABackendAnsweredButExplainFoundNoRoute) {
  EchoSeen seen = Echo("gateway-conformance-infra", "infra-backend-v1");
  std::string d = CompareExplanation(NotRouted("not_found", 404), Status(200), &seen, "");
  EXPECT_NE(d.find("explain said not_found (404)"), std::string::npos) << d;
}

TEST(CompareExplanationTest, A404NeedsNoRoute) {
  EchoSeen none;
  std::string compared;
  EXPECT_EQ(CompareExplanation(NotRouted("not_found", 404), Status(404), &none, "", &compared), "");
  EXPECT_EQ(compared, "404");
  EXPECT_EQ(CompareExplanation(NotRouted("no_listener", 404), Status(404), &none, ""), "");
  auto e = Routed({{"gateway-conformance-infra/infra-backend-v1", 1}});
  std::string d = CompareExplanation(e, Status(404), &none, "");
  EXPECT_NE(d.find("the proxy answered 404 itself"), std::string::npos) << d;
}

TEST(CompareExplanationTest, ARedirectNeedsTheRedirectRule) {
  EchoSeen none;
  auto e = Routed({});
  EXPECT_NE(CompareExplanation(e, Status(302), &none, ""), "");
  e.set_redirect(true);
  EXPECT_EQ(CompareExplanation(e, Status(302), &none, ""), "");
  EchoSeen seen = Echo("gateway-conformance-infra", "infra-backend-v1");
  EXPECT_NE(CompareExplanation(e, Status(200), &seen, ""), "");
}

TEST(CompareExplanationTest, A500NeedsARuleWithoutAValidBackend) {
  EchoSeen none;
  EXPECT_EQ(CompareExplanation(NotRouted("no_backend", 500), Status(500), &none, ""), "");
  api::RequestExplanation invalid = Routed({});
  api::ExplainBackend* b = invalid.add_backends();
  b->set_service("gateway-conformance-infra/nonexistent");
  b->set_weight(1);
  EXPECT_EQ(CompareExplanation(invalid, Status(500), &none, ""), "");
  auto valid = Routed({{"gateway-conformance-infra/infra-backend-v1", 1}});
  EXPECT_NE(CompareExplanation(valid, Status(500), &none, ""), "");
  EXPECT_NE(CompareExplanation(NotRouted("not_found", 404), Status(500), &none, ""), "");
}

TEST(CompareExplanationTest, OtherClientErrorsAreNotCompared) {
  EchoSeen none;
  std::string compared = "x";
  EXPECT_EQ(CompareExplanation(NotRouted("not_found", 404), Status(400), &none, "", &compared), "");
  EXPECT_EQ(compared, "");
}

}  // namespace
}  // namespace xgate::conformance

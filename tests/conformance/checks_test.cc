#include "tools/conformance/checks.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace xgate::conformance {
namespace {

Response Echo(const std::string& svc, const std::string& ns, const std::string& path,
              nlohmann::json headers = nlohmann::json::object(),
              const std::string& method = "GET") {
  nlohmann::json j = {{"path", path},        {"host", "example.com"}, {"method", method},
                      {"proto", "HTTP/1.1"}, {"headers", headers},    {"namespace", ns},
                      {"pod", svc + "-0"}};
  return Response{200, {{"Content-Type", "application/json"}}, j.dump(), ""};
}

Request Req(const std::string& path = "/") {
  Request r;
  r.gateway_ns = "infra";
  r.gateway_name = "gw";
  r.path = path;
  r.expect.status = 200;
  return r;
}

TEST(ConformanceCheckHttpAnswer, BackendNamespaceAndDefaults) {
  Request r = Req("/a?x=1");
  r.expect.backend = "v1";
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v1", "infra", "/a?x=1")), "");
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v2", "infra", "/a?x=1")),
            "answered by infra/v2, want infra/v1");
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v1", "other", "/a?x=1")),
            "answered by other/v1, want infra/v1");
  // request.path defaults to the path sent, with its query; the method to the one sent.
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v1", "infra", "/a")), "the backend saw path /a, want /a?x=1");
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v1", "infra", "/a?x=1", {}, "POST")),
            "the backend saw method POST, want GET");
  r.expect.request.path = "/rewritten";
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v1", "infra", "/rewritten")), "");
  EXPECT_EQ(CheckHttpAnswer(r, Response{404, {}, "not found", ""}), "status 404, want 200");
  EXPECT_EQ(CheckHttpAnswer(r, Response{200, {}, "hello", ""}),
            "the answer (status 200) is not from an echo backend");
}

TEST(ConformanceCheckHttpAnswer, NotFoundMustNotComeFromABackend) {
  Request r = Req();
  r.expect.status = 404;
  EXPECT_EQ(CheckHttpAnswer(r, Response{404, {}, "", ""}), "");
  Response from_backend = Echo("v1", "infra", "/");
  from_backend.status = 404;
  EXPECT_EQ(CheckHttpAnswer(r, from_backend), "answered by backend infra/v1 with status 404");
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v1", "infra", "/")), "status 200 from infra/v1, want 404");
}

TEST(ConformanceCheckHttpAnswer, RequestHeadersJoinedCaseInsensitiveAndBackendPlaceholder) {
  Request r = Req();
  r.expect.request.headers = {{"x-header-add-append", "append-val-1,header-val-2"},
                              {"X-Who", "${backend}"}};
  r.expect.request.absent_headers = {"X-Header-Remove"};
  nlohmann::json h = {{"X-Header-Add-Append", {"append-val-1", "header-val-2"}}, {"X-Who", {"v3"}}};
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v3", "infra", "/", h)), "");
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v1", "infra", "/", h)),
            "request header X-Who is \"v3\", want \"v1\"");
  h["X-Header-Remove"] = {"x"};
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v3", "infra", "/", h)),
            "request header X-Header-Remove is present (\"x\"), want it absent");
  h.erase("X-Header-Remove");
  h["X-Header-Add-Append"] = {"append-val-1, header-val-2"};  // a space is a difference
  EXPECT_NE(CheckHttpAnswer(r, Echo("v3", "infra", "/", h)), "");
  h.erase("X-Header-Add-Append");
  EXPECT_EQ(CheckHttpAnswer(r, Echo("v3", "infra", "/", h)),
            "request header x-header-add-append is missing (want \"append-val-1,header-val-2\")");
}

TEST(ConformanceCheckHttpAnswer, ResponseHeaders) {
  Request r = Req();
  r.expect.headers = {{"X-Header-Add", "some-other-value,add-appends-values"}};
  r.expect.absent_headers = {"x-header-remove"};
  Response resp = Echo("v1", "infra", "/");
  resp.headers.push_back({"x-header-add", "some-other-value"});
  resp.headers.push_back({"X-HEADER-ADD", "add-appends-values"});
  EXPECT_EQ(CheckHttpAnswer(r, resp), "");
  resp.headers.push_back({"X-Header-REMOVE", "v"});
  EXPECT_EQ(CheckHttpAnswer(r, resp),
            "response header x-header-remove is present (\"v\"), want it absent");
}

TEST(ConformanceCheckRedirect, LocationRules) {
  Request r = Req("/port?q=1");
  RedirectExpect want;
  want.port = 8083;
  EXPECT_EQ(CheckRedirect(r, want, "http://example.com:8083/port"), "");
  EXPECT_NE(CheckRedirect(r, want, "http://example.com/port"), "");
  EXPECT_NE(CheckRedirect(r, want, "https://example.com:8083/port"),
            "");  // scheme defaults to the request's
  RedirectExpect none;
  // Without a port: none, or the scheme's default.
  EXPECT_EQ(CheckRedirect(r, none, "http://example.com/port"), "");
  EXPECT_EQ(CheckRedirect(r, none, "http://example.com:80/port"), "");
  EXPECT_EQ(CheckRedirect(r, none, "http://example.com:8080/port"),
            "Location \"http://example.com:8080/port\" has port 8080, want none or 80");
  RedirectExpect https;
  https.scheme = "https";
  https.host = "example.org";
  https.path = "/new";
  EXPECT_EQ(CheckRedirect(r, https, "https://EXAMPLE.org:443/new?q=1"), "");
  EXPECT_EQ(CheckRedirect(r, https, "https://example.org/old"),
            "Location \"https://example.org/old\" has path /old, want /new");
  EXPECT_NE(CheckRedirect(r, https, "https://example.com/new"), "");
  EXPECT_NE(CheckRedirect(r, none, "/port"), "");  // not absolute
  // The answer check finds the Location header.
  r.expect.status = 302;
  r.expect.redirect = want;
  EXPECT_EQ(CheckHttpAnswer(r, Response{302, {{"location", "http://x:8083/port"}}, "", ""}), "");
  EXPECT_EQ(CheckHttpAnswer(r, Response{302, {}, "", ""}), "no Location header in the redirect");
}

TEST(ConformanceCheckShares, WeightsWithinTolerance) {
  std::vector<std::pair<std::string, double>> w = {{"v1", 70}, {"v2", 30}, {"v3", 0}};
  EXPECT_EQ(CheckShares(w, {{"v1", 360}, {"v2", 140}}, 500, 0.05, false, true), "");
  EXPECT_EQ(CheckShares(w, {{"v1", 325}, {"v2", 175}}, 500, 0.05, false, true),
            "");  // 65%, 35%: at the edge
  EXPECT_EQ(CheckShares(w, {{"v1", 320}, {"v2", 180}}, 500, 0.05, false, true),
            "v1 got 64.0% (320 of 500), want 70.0% +- 5.0");
  EXPECT_EQ(CheckShares(w, {{"v1", 349}, {"v2", 150}, {"v3", 1}}, 500, 0.05, false, true),
            "v3 got 1 of 500 samples, want none (weight 0)");
  EXPECT_EQ(CheckShares(w, {{"v1", 350}, {"v2", 140}, {"other/v1", 10}}, 500, 0.05, false, true),
            "other/v1 answered 10 samples but is not in weights");
  // Weights are relative to their sum.
  EXPECT_EQ(CheckShares({{"a", 1}, {"b", 3}}, {{"a", 25}, {"b", 75}}, 100, 0.01, false, true), "");
  // Percents (mirror shares) are of the total, and other Services are not looked at.
  EXPECT_EQ(CheckShares({{"m", 20}}, {{"m", 110}}, 500, 0.05, true, false), "");
  EXPECT_NE(CheckShares({{"m", 20}}, {{"m", 140}}, 500, 0.05, true, false), "");
}

TEST(ConformanceCheckUdpAnswer, BackendAndNamespace) {
  Request r = Req();
  r.scheme = "udp";
  r.expect.status.reset();
  r.expect.backend = "coredns";
  EXPECT_EQ(CheckUdpAnswer(r, R"({"namespace":"infra","pod":"coredns-0"})"), "");
  EXPECT_EQ(CheckUdpAnswer(r, R"({"namespace":"infra","pod":"other-0"})"),
            "answered by infra/other, want infra/coredns");
  EXPECT_NE(CheckUdpAnswer(r, "garbage"), "");
}

TEST(ConformanceClient, HostnameMatchingAsGoDoes) {
  EXPECT_TRUE(MatchHostname("*.org", "second-example.org"));
  EXPECT_TRUE(MatchHostname("*.example.com", "ABC.example.com"));
  EXPECT_TRUE(MatchHostname("abc.example.com", "abc.example.com."));
  EXPECT_FALSE(MatchHostname("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(MatchHostname("*", "example.com"));
  EXPECT_FALSE(MatchHostname("a*.example.com", "ab.example.com"));
  EXPECT_FALSE(MatchHostname("*.example.com", "example.com"));
}

TEST(ConformanceClient, SniIsTheHostWithoutItsPort) {
  EXPECT_EQ(HostWithoutPort("example.com:8080"), "example.com");
  EXPECT_EQ(HostWithoutPort("example.com"), "example.com");
  EXPECT_EQ(HostWithoutPort("[fd00::1]:443"), "fd00::1");
  EXPECT_EQ(HostWithoutPort("fd00::1"), "fd00::1");
}

TEST(ConformanceClient, RequestBytes) {
  Request r = Req("/p?q");
  r.headers = {{"x-Lower", "a"}, {"X-Two", "b"}};
  r.backend_response_headers = {{"X-Set", "1"}, {"x-other", "2"}};
  EXPECT_EQ(BuildHttpRequest(r, "198.18.100.1"),
            "GET /p?q HTTP/1.1\r\nHost: 198.18.100.1\r\nx-Lower: a\r\nX-Two: b\r\n"
            "X-Echo-Set-Header: X-Set:1,x-other:2\r\n\r\n");
  r.port = 8080;
  r.host = "";
  r.method = "POST";
  r.headers.clear();
  r.backend_response_headers.clear();
  EXPECT_EQ(BuildHttpRequest(r, "198.18.100.1"),
            "POST /p?q HTTP/1.1\r\nHost: 198.18.100.1:8080\r\nContent-Length: 0\r\n\r\n");
  r.host = "example.com";
  r.method = "GET";
  EXPECT_EQ(BuildHttpRequest(r, "198.18.100.1"), "GET /p?q HTTP/1.1\r\nHost: example.com\r\n\r\n");
}

TEST(ConformanceParseEcho, ServiceFromPod) {
  EXPECT_EQ(ServiceOfPod("infra-backend-v1-0"), "infra-backend-v1");
  EXPECT_EQ(ServiceOfPod("web-backend-12"), "web-backend");
  EXPECT_EQ(ServiceOfPod("plain"), "plain");
  EXPECT_FALSE(ParseEcho("{}").has_value());
  EXPECT_FALSE(ParseEcho("not json").has_value());
}

TEST(ConformanceCheckClientCertificate, TheLeafMustBeAmongThePeerCertificates) {
  const std::string leaf = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  const std::string other = "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n";
  nlohmann::json answer = {{"pod", "tls-0"},
                           {"namespace", "ns"},
                           {"tls",
                            {{"serverName", "a.example"},
                             {"peerCertificates", {leaf, other}},
                             {"peerCertificateSubject", "CN=client"}}}};
  std::optional<EchoSeen> seen = ParseEcho(answer.dump());
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->sni, "a.example");
  EXPECT_EQ(seen->peer_subject, "CN=client");
  ASSERT_EQ(seen->peer_certificates.size(), 2u);
  // The runner's PEM may differ in its trailing newline.
  EXPECT_EQ(CheckClientCertificate(*seen, "ns/client", leaf.substr(0, leaf.size() - 1)), "");
  EXPECT_EQ(CheckClientCertificate(*seen, "ns/x",
                                   "-----BEGIN CERTIFICATE-----\nCCCC\n-----END CERTIFICATE-----"),
            "the backend received client certificate \"CN=client\", not ns/x");
  answer["tls"].erase("peerCertificates");
  answer["tls"].erase("peerCertificateSubject");
  seen = ParseEcho(answer.dump());
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(CheckClientCertificate(*seen, "ns/client", leaf),
            "the backend received no client certificate, want ns/client");
}

}  // namespace
}  // namespace xgate::conformance

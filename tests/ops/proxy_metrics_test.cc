// The proxy's metrics: their text rendering, then end to end through the real xgate-agent
// (and the xgate-proxy it starts) on an L7 config on loopback: known traffic (200s on a
// route, 404s, a malformed request, TLS handshakes) moves the series scraped from
// --metrics-addr by exactly that much, `xgatectl get counters` shows the same numbers, and a
// proxy that does not answer leaves the agent's metrics served with xgate_proxy_up 0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/admin/metrics.h"
#include "tests/agent/agent_process.h"
#include "tests/agent/prometheus_text.h"
#include "tests/fixtures/fixtures.h"
#include "tests/proxy/test_util.h"

namespace xgate {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;
using testing::ParsePromText;
using testing::PromText;

TEST(ProxyMetricsText, RendersEverySeriesInTheTextFormat) {
  api::ProxyStats s;
  s.set_generation(7);
  s.set_workers(2);
  auto* r = s.add_requests();
  r->set_route("ns/web");
  r->set_backend("ns/we\"b\\:80\n");  // escaped in the label value
  r->set_code(200);
  r->set_count(5);
  auto* l = s.add_route_latency();
  l->set_route("ns/web");
  for (double b : {0.001, 0.01}) l->mutable_duration()->add_bounds(b);
  for (uint64_t n : {2, 0, 1}) l->mutable_duration()->add_bucket_counts(n);
  l->mutable_duration()->set_count(3);
  l->mutable_duration()->set_sum(12.5);
  auto* c = s.add_clusters();
  c->set_cluster("ns/web:80");
  c->set_connections_open(3);
  c->set_connections_idle(2);
  c->set_connections_active(1);
  c->set_connect_errors(4);
  c->set_h2_refused(6);
  c->set_h2_stalled(8);
  auto* t = s.add_tls_handshakes();
  t->set_result("failed");
  t->set_reason("protocol_version");
  t->set_count(1);
  auto* p = s.add_parse_refusals();
  p->set_reason("obs_fold");
  p->set_code(400);
  p->set_count(2);
  auto* d = s.add_downstream();
  d->set_protocol("http");
  d->set_connections_total(9);
  d->set_connections_open(1);
  s.set_h2_streams_total(4);

  std::string text = admin::RenderProxyMetrics(s);
  PromText prom = ParsePromText(text);
  ASSERT_EQ(prom.error, "") << text;
  EXPECT_EQ(prom.types["xgate_proxy_requests_total"], "counter");
  EXPECT_EQ(prom.types["xgate_proxy_request_duration_seconds"], "histogram");
  EXPECT_EQ(prom.types["xgate_proxy_upstream_connections_idle"], "gauge");
  EXPECT_EQ(prom.Sum("xgate_proxy_requests_total",
                     {{"route", "ns/web"}, {"backend", "ns/we\"b\\:80\n"}, {"code", "200"}}),
            5);
  EXPECT_THAT(text, HasSubstr("backend=\"ns/we\\\"b\\\\:80\\n\""));
  // Buckets are cumulative; +Inf equals _count.
  const std::string h = "xgate_proxy_request_duration_seconds";
  EXPECT_EQ(prom.Sum(h + "_bucket", {{"route", "ns/web"}, {"le", "0.001"}}), 2);
  EXPECT_EQ(prom.Sum(h + "_bucket", {{"route", "ns/web"}, {"le", "0.01"}}), 2);
  EXPECT_EQ(prom.Sum(h + "_bucket", {{"route", "ns/web"}, {"le", "+Inf"}}), 3);
  EXPECT_EQ(prom.Sum(h + "_count", {{"route", "ns/web"}}), 3);
  EXPECT_EQ(prom.Sum(h + "_sum", {{"route", "ns/web"}}), 12.5);
  EXPECT_EQ(prom.Sum("xgate_proxy_upstream_connections_open", {{"backend", "ns/web:80"}}), 3);
  EXPECT_EQ(prom.Sum("xgate_proxy_upstream_connect_errors_total"), 4);
  EXPECT_EQ(prom.Sum("xgate_proxy_upstream_h2_refused_total", {{"backend", "ns/web:80"}}), 6);
  EXPECT_EQ(prom.Sum("xgate_proxy_upstream_h2_stalled_total", {{"backend", "ns/web:80"}}), 8);
  EXPECT_EQ(prom.Sum("xgate_proxy_tls_handshakes_total", {{"reason", "protocol_version"}}), 1);
  EXPECT_EQ(prom.Sum("xgate_proxy_parse_refusals_total", {{"reason", "obs_fold"}, {"code", "400"}}),
            2);
  EXPECT_EQ(prom.Sum("xgate_proxy_downstream_connections_total", {{"protocol", "http"}}), 9);
  EXPECT_EQ(prom.Sum("xgate_proxy_h2_streams_total"), 4);
  EXPECT_EQ(prom.Sum("xgate_proxy_config_generation"), 7);
}

// A blocking TLS client on loopback: handshake, optionally one GET.
struct TlsResult {
  bool handshake_ok = false;
  int status = 0;
};
TlsResult TlsGet(uint16_t port, const std::string& host, const std::string& path,
                 int only_version = 0) {
  TlsResult result;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (only_version) {
    SSL_CTX_set_min_proto_version(ctx, only_version);
    SSL_CTX_set_max_proto_version(ctx, only_version);
    SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
  }
  proxy::testing::Client tcp("127.0.0.1", port);
  timeval timeout{5, 0};
  setsockopt(tcp.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, tcp.fd());
  SSL_set_tlsext_host_name(ssl, host.c_str());
  ERR_clear_error();
  result.handshake_ok = SSL_connect(ssl) == 1;
  if (result.handshake_ok && !path.empty()) {
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    char buffer[4096];
    std::string response;
    while (response.find("\r\n\r\n") == std::string::npos) {
      int n = SSL_read(ssl, buffer, sizeof buffer);
      if (n <= 0) break;
      response.append(buffer, static_cast<size_t>(n));
    }
    if (response.rfind("HTTP/1.1 ", 0) == 0) result.status = std::stoi(response.substr(9, 3));
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return result;
}

std::string RunCtl(const std::string& args, int* code) {
  std::string command = std::string(XGATECTL_PATH) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  int status = pclose(pipe);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

class ProxyMetricsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    manifests_ = tmp_.path() / "manifests";
    fs::create_directory(manifests_);
    http_port_ = proxy::testing::FreePort();
    https_port_ = proxy::testing::FreePort();
    metrics_port_ = proxy::testing::FreePort();
    fixtures::WriteFile(manifests_ / "class.yaml", fixtures::AcmeGatewayClassYaml());
    fixtures::WriteFile(manifests_ / "secret.yaml",
                        fixtures::TlsSecretYaml("default", "app-cert", "app.example.com"));
    fixtures::WriteFile(manifests_ / "gateway.yaml",
                        "apiVersion: gateway.networking.k8s.io/v1\n"
                        "kind: Gateway\n"
                        "metadata: {name: edge, namespace: default}\n"
                        "spec:\n"
                        "  gatewayClassName: acme-lb\n"
                        "  addresses: [{type: IPAddress, value: 127.0.0.1}]\n"
                        "  listeners:\n"
                        "  - {name: http, protocol: HTTP, port: " +
                            std::to_string(http_port_) +
                            ", allowedRoutes: {namespaces: {from: All}}}\n"
                            "  - name: https\n"
                            "    protocol: HTTPS\n"
                            "    port: " +
                            std::to_string(https_port_) +
                            "\n"
                            "    hostname: app.example.com\n"
                            "    tls: {mode: Terminate, certificateRefs: [{name: app-cert}]}\n"
                            "    allowedRoutes: {namespaces: {from: All}}\n");
    fixtures::WriteFile(
        manifests_ / "app.yaml",
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: web, namespace: app}\n"
        "spec:\n"
        "  parentRefs: [{name: edge, namespace: default}]\n"
        "  hostnames: [app.example.com]\n"
        "  rules:\n"
        "  - matches: [{path: {type: PathPrefix, value: /app}}]\n"
        "    backendRefs: [{name: web, port: 8080}]\n"
        "---\n" +
            fixtures::ServiceYaml("app", "web", 8080, "127.0.0.1", upstream_.port()));
    admin_socket_ = (tmp_.path() / "admin.sock").string();
    agent_ = std::make_unique<AgentProcess>(
        std::vector<std::string>{"--manifests", manifests_.string(), "--admin-socket",
                                 admin_socket_, "--metrics-addr",
                                 "127.0.0.1:" + std::to_string(metrics_port_), "--detach-on-exit"},
        tmp_.path() / "agent.log");
  }

  void TearDown() override {
    pid_t proxy = ProxyPid();
    if (agent_ && agent_->pid() > 0) {
      kill(agent_->pid(), SIGTERM);
      agent_->WaitForExit();
    }
    // The agent stops its proxy on exit with --detach-on-exit; make sure of it.
    if (proxy > 0 && kill(proxy, 0) == 0) {
      kill(proxy, SIGCONT);
      kill(proxy, SIGKILL);
    }
  }

  pid_t ProxyPid() const {
    std::ifstream in(tmp_.path() / "proxy.sock.proxy-pid");
    pid_t pid = 0;
    in >> pid;
    return pid;
  }

  PromText Scrape() const {
    std::string text = testing::ScrapeLoopback(metrics_port_);
    PromText prom = ParsePromText(text);
    EXPECT_EQ(prom.error, "") << text;
    return prom;
  }

  // Both ports accept connections and the proxy answers scrapes (connections only: no request
  // is counted before the baseline).
  bool WaitReady() const {
    for (auto end = std::chrono::steady_clock::now() + kDeadline;
         std::chrono::steady_clock::now() < end;
         std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
      proxy::testing::Client a("127.0.0.1", http_port_), b("127.0.0.1", https_port_);
      if (!a.connected() || !b.connected()) continue;
      PromText prom = ParsePromText(testing::ScrapeLoopback(metrics_port_));
      if (prom.Sum("xgate_proxy_up") == 1 && prom.Sum("xgate_proxy_config_generation") >= 1) {
        return true;
      }
    }
    return false;
  }

  fixtures::TempDir tmp_;
  fs::path manifests_;
  proxy::testing::TestUpstream upstream_{"web"};
  uint16_t http_port_ = 0, https_port_ = 0, metrics_port_ = 0;
  std::string admin_socket_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(ProxyMetricsE2E, ScrapeAndCountersMoveByTheTrafficSent) {
  ASSERT_TRUE(agent_->WaitForLog("snapshot 1 applied")) << agent_->Log();
  ASSERT_TRUE(WaitReady()) << agent_->Log();
  // Connections that closed before the baseline must be counted closed first.
  PromText before;
  for (auto end = std::chrono::steady_clock::now() + kDeadline;
       std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
    before = Scrape();
    if (before.Sum("xgate_proxy_downstream_connections_open").value_or(1) == 0) break;
  }
  ASSERT_EQ(before.Sum("xgate_proxy_downstream_connections_open"), 0);

  const std::string route = "app/web", backend = "app/web:8080";
  {
    proxy::testing::Client client("127.0.0.1", http_port_);  // 5 on one keep-alive connection
    for (int i = 0; i < 5; ++i) {
      client.Send("GET /app/" + std::to_string(i) + " HTTP/1.1\r\nHost: app.example.com\r\n\r\n");
      ASSERT_EQ(client.Read().status, 200);
    }
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(proxy::testing::Get(http_port_, "app.example.com", "/elsewhere").status, 404);
  }
  proxy::testing::Client bad("127.0.0.1", http_port_);
  bad.Send("GET /app/x HTTP/1.1\r\nHost: app.example.com\r\nX-A: 1\r\n folded\r\n\r\n");
  ASSERT_EQ(bad.Read().status, 400);
  TlsResult tls = TlsGet(https_port_, "app.example.com", "/app/tls");
  ASSERT_TRUE(tls.handshake_ok);
  ASSERT_EQ(tls.status, 200);
  EXPECT_FALSE(TlsGet(https_port_, "app.example.com", "", TLS1_1_VERSION).handshake_ok);
  ASSERT_TRUE(upstream_.WaitRequests(6));

  // The refused handshake and the closes are counted by the proxy's workers just after the
  // client sees them: scrape until the connections are all counted closed.
  PromText after;
  for (auto end = std::chrono::steady_clock::now() + kDeadline;
       std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
    after = Scrape();
    if (after.Sum("xgate_proxy_downstream_connections_open").value_or(1) == 0 &&
        after.Sum("xgate_proxy_tls_handshakes_total", {{"result", "failed"}}).value_or(0) >=
            before.Sum("xgate_proxy_tls_handshakes_total", {{"result", "failed"}}).value_or(0) +
                1) {
      break;
    }
  }
  auto moved = [&](const std::string& name, const std::map<std::string, std::string>& labels) {
    return after.Sum(name, labels).value_or(0) - before.Sum(name, labels).value_or(0);
  };
  const std::string requests = "xgate_proxy_requests_total";
  EXPECT_EQ(moved(requests, {{"route", route}, {"backend", backend}, {"code", "200"}}), 6);
  EXPECT_EQ(moved(requests, {{"route", ""}, {"backend", ""}, {"code", "404"}}), 3);
  EXPECT_EQ(moved(requests, {{"route", ""}, {"backend", ""}, {"code", "400"}}), 1);
  EXPECT_EQ(moved(requests, {}), 10);
  EXPECT_EQ(moved("xgate_proxy_parse_refusals_total", {{"reason", "obs_fold"}, {"code", "400"}}),
            1);
  EXPECT_EQ(moved("xgate_proxy_parse_refusals_total", {}), 1);
  EXPECT_EQ(moved("xgate_proxy_tls_handshakes_total", {{"result", "ok"}}), 1);
  EXPECT_EQ(moved("xgate_proxy_tls_handshakes_total",
                  {{"result", "failed"}, {"reason", "protocol_version"}}),
            1);
  EXPECT_EQ(moved("xgate_proxy_downstream_connections_total", {{"protocol", "http"}}), 5);
  EXPECT_EQ(moved("xgate_proxy_downstream_connections_total", {{"protocol", "https"}}), 2);
  EXPECT_EQ(after.Sum("xgate_proxy_downstream_connections_open"), 0);
  const std::string latency = "xgate_proxy_request_duration_seconds";
  EXPECT_EQ(moved(latency + "_count", {{"route", route}}), 6);
  EXPECT_EQ(moved(latency + "_bucket", {{"route", route}, {"le", "+Inf"}}), 6);
  EXPECT_EQ(moved("xgate_proxy_upstream_duration_seconds_count", {{"backend", backend}}), 6);
  EXPECT_GE(after.Sum("xgate_proxy_upstream_connections_open", {{"backend", backend}}), 1);
  EXPECT_EQ(after.Sum("xgate_proxy_upstream_connections_active", {{"backend", backend}}), 0);
  EXPECT_EQ(moved("xgate_proxy_upstream_connect_errors_total", {{"backend", backend}}), 0);
  EXPECT_EQ(after.Sum("xgate_proxy_up"), 1);
  EXPECT_EQ(after.Sum("xgate_agent_snapshot_generation"), 1);

  // The admin API and xgatectl report the proxy's counters too (no fast path: no --attach).
  int code = 0;
  std::string out = RunCtl("--socket " + admin_socket_ + " get counters -o json", &code);
  ASSERT_EQ(code, 0) << out;
  json counters = json::parse(out);
  EXPECT_EQ(counters["proxyUp"], true);
  EXPECT_THAT(counters["fastpathError"].get<std::string>(), HasSubstr("without --attach"));
  uint64_t ok_requests = 0;
  for (const auto& r : counters["proxy"]["requests"]) {
    if (r["route"] == route && r["code"] == 200)
      ok_requests = std::stoull(r["count"].get<std::string>());
  }
  EXPECT_EQ(ok_requests,
            after.Sum(requests, {{"route", route}, {"backend", backend}, {"code", "200"}}));
  out = RunCtl("--socket " + admin_socket_ + " get counters", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("Fast path: the agent runs without --attach"));
  EXPECT_THAT(out, HasSubstr(route));
  EXPECT_THAT(out, HasSubstr("obs_fold"));

  // A proxy that does not answer: the scrape still serves the agent's metrics, in bounded time.
  pid_t proxy = ProxyPid();
  ASSERT_GT(proxy, 0);
  ASSERT_EQ(kill(proxy, SIGSTOP), 0);
  auto start = std::chrono::steady_clock::now();
  PromText stopped = Scrape();
  auto took = std::chrono::steady_clock::now() - start;
  kill(proxy, SIGCONT);
  EXPECT_EQ(stopped.Sum("xgate_proxy_up"), 0);
  EXPECT_EQ(stopped.Sum("xgate_agent_snapshot_generation"), 1);
  EXPECT_FALSE(stopped.Sum("xgate_proxy_requests_total").has_value());
  EXPECT_LT(took, std::chrono::seconds(5));
}

}  // namespace
}  // namespace xgate

#include "agent/admin/metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/agent/prometheus_text.h"
#include "tests/fixtures/fixtures.h"
#include "tests/fixtures/folder_pipeline.h"

namespace xgate::admin {
namespace {

using ::testing::HasSubstr;

std::string Exchange(int port, const std::string& request) {
  return testing::ExchangeLoopback(port, request);
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixtures::WriteSeedV1(dir_.path());
    pipeline_ = std::make_unique<fixtures::FolderPipeline>(
        dir_.path(), std::vector<std::string>{"198.18.0.1"},
        std::vector<std::unique_ptr<appliers::Applier>>{});
    auto server =
        MetricsServer::Start("127.0.0.1:0", [this] { return RenderAgentMetrics(*pipeline_); });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  fixtures::TempDir dir_;
  std::unique_ptr<fixtures::FolderPipeline> pipeline_;
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsTest, ScrapeShowsTheAppliedState) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  ASSERT_TRUE(pipeline_->Reload().ok());  // unchanged
  std::string response = Exchange(server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(response, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_snapshot_generation 1\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_reloads_total{result=\"applied\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_reloads_total{result=\"unchanged\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_objects{kind=\"HTTPRoute\"} 2\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_refused_documents 0\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_conditions{type=\"Accepted\",status=\"True\"} "));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_last_reload_ok 1\n"));
}

TEST_F(MetricsTest, ApplyDurationsFormAHistogram) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  fixtures::WriteFile(dir_.path() / "extra.yaml",
                      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra\n");
  ASSERT_TRUE(pipeline_->Reload().ok());
  ASSERT_TRUE(pipeline_->Reload().ok());  // unchanged: nothing applied, nothing timed
  testing::PromText text = testing::ParsePromText(RenderAgentMetrics(*pipeline_));
  ASSERT_EQ(text.error, "");
  EXPECT_EQ(text.types["xgate_agent_apply_duration_seconds"], "histogram");
  EXPECT_EQ(text.Sum("xgate_agent_apply_duration_seconds_count"), 2);
  EXPECT_EQ(text.Sum("xgate_agent_apply_duration_seconds_bucket", {{"le", "+Inf"}}), 2);
  double previous = 0;
  int buckets = 0;
  for (const auto& s : text.samples) {
    if (s.name != "xgate_agent_apply_duration_seconds_bucket") continue;
    EXPECT_GE(s.value, previous) << "le=" << s.labels.at("le");  // cumulative
    previous = s.value;
    ++buckets;
  }
  EXPECT_EQ(buckets, 13);
  EXPECT_GE(*text.Sum("xgate_agent_apply_duration_seconds_sum"), 0);
  // No kernel maps asked for: no fast path series.
  EXPECT_FALSE(text.Sum("xgate_fastpath_maps_readable").has_value());
}

TEST(FastPathMetrics, CountersBecomeLabelledSeries) {
  api::GetCountersResponse c;
  auto* l = c.add_listeners();
  l->set_address("198.18.100.10");
  l->set_port(5432);
  l->set_protocol("tcp");
  l->set_kind("l4");
  l->set_listener("default/edge/pg");
  l->set_route("default/pg");
  l->set_packets(40);
  l->set_bytes(2400);
  auto* v6 = c.add_listeners();
  v6->set_address("fd00::10");
  v6->set_port(443);
  v6->set_protocol("tcp");
  v6->set_kind("punt");
  v6->set_listener("default/a\"b\\c\nd/https");
  v6->set_packets(3);
  for (int i = 0; i < 2; ++i) {  // one backend address under two ids: one series, summed
    auto* b = c.add_backends();
    b->set_id(i);
    b->set_address("198.18.3.11");
    b->set_port(5432);
    b->set_service("default/pg-primary");
    b->set_listener("198.18.100.10:5432/tcp");
    b->set_packets(10 + i);
    b->set_bytes(600);
  }
  auto* b6 = c.add_backends();
  b6->set_address("fd00::3:1");
  b6->set_port(8443);
  b6->set_listener("fd00::10:443/tcp");
  b6->set_packets(5);
  auto* p = c.add_paths();
  p->set_name("conntrack_hit");
  p->set_packets(7);
  auto* d = c.add_drops();
  d->set_name("no_backend");
  d->set_packets(2);
  d->set_bytes(120);
  auto* x = c.add_xmit_drops();
  x->set_name("p1");
  x->set_packets(9);

  std::string rendered = RenderFastPathMetrics(c);
  testing::PromText text = testing::ParsePromText(rendered);
  ASSERT_EQ(text.error, "") << rendered;
  EXPECT_EQ(text.types["xgate_fastpath_listener_packets_total"], "counter");
  EXPECT_EQ(
      text.Sum("xgate_fastpath_listener_packets_total", {{"listener", "198.18.100.10:5432/tcp"},
                                                         {"kind", "l4"},
                                                         {"gateway", "default/edge/pg"},
                                                         {"route", "default/pg"}}),
      40);
  EXPECT_EQ(
      text.Sum("xgate_fastpath_listener_bytes_total", {{"listener", "198.18.100.10:5432/tcp"}}),
      2400);
  // IPv6 bracketed; a name with a quote, a backslash and a newline survives escaping.
  EXPECT_EQ(text.Sum("xgate_fastpath_listener_packets_total",
                     {{"listener", "[fd00::10]:443/tcp"}, {"gateway", "default/a\"b\\c\nd/https"}}),
            3);
  EXPECT_THAT(rendered, HasSubstr("gateway=\"default/a\\\"b\\\\c\\nd/https\""));
  EXPECT_EQ(
      text.Sum("xgate_fastpath_backend_packets_total", {{"backend", "198.18.3.11:5432"},
                                                        {"service", "default/pg-primary"},
                                                        {"listener", "198.18.100.10:5432/tcp"}}),
      21);
  EXPECT_EQ(text.Sum("xgate_fastpath_backend_bytes_total", {{"backend", "198.18.3.11:5432"}}),
            1200);
  EXPECT_EQ(text.Sum("xgate_fastpath_backend_packets_total",
                     {{"backend", "[fd00::3:1]:8443"}, {"listener", "[fd00::10]:443/tcp"}}),
            5);
  EXPECT_EQ(text.Sum("xgate_fastpath_path_packets_total", {{"path", "conntrack_hit"}}), 7);
  EXPECT_EQ(text.Sum("xgate_fastpath_drops_total", {{"reason", "no_backend"}}), 2);
  EXPECT_EQ(text.types["xgate_fastpath_xdp_xmit_drops_total"], "counter");
  EXPECT_EQ(text.Sum("xgate_fastpath_xdp_xmit_drops_total", {{"interface", "p1"}}), 9);
  EXPECT_EQ(text.Sum("xgate_fastpath_dropped_bytes_total", {{"reason", "no_backend"}}), 120);
}

TEST_F(MetricsTest, UnreadablePinRootIsAGaugeNotAnError) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  testing::PromText text = testing::ParsePromText(
      RenderAgentMetrics(*pipeline_, (dir_.path() / "no-such-pin-root").string()));
  ASSERT_EQ(text.error, "");
  EXPECT_EQ(text.Sum("xgate_fastpath_maps_readable"), 0);
  EXPECT_EQ(text.Sum("xgate_agent_snapshot_generation"), 1);
  EXPECT_FALSE(text.Sum("xgate_fastpath_listener_packets_total").has_value());
}

TEST(PromTextReader, RefusesMalformedText) {
  EXPECT_NE(testing::ParsePromText("x 1\n").error, "");  // no TYPE
  EXPECT_NE(testing::ParsePromText("# TYPE x counter\nx{a=\"1} 1\n").error, "");
  EXPECT_NE(testing::ParsePromText("# TYPE x counter\nx{a=\"1\"} one\n").error, "");
  EXPECT_NE(testing::ParsePromText("# TYPE x counter\nx 1\nx 2\n").error, "");
  EXPECT_EQ(testing::ParsePromText("# TYPE x counter\nx{a=\"\\\"\"} 1\n").error, "");
}

TEST_F(MetricsTest, UnreadableFolderIsCounted) {
  ASSERT_TRUE(pipeline_->Reload().ok());
  std::filesystem::remove_all(dir_.path());
  EXPECT_FALSE(pipeline_->Reload().ok());
  std::string response = Exchange(server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_reloads_total{result=\"unreadable\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_last_reload_ok 0\n"));
  EXPECT_THAT(response, HasSubstr("\nxgate_agent_snapshot_generation 1\n"));
}

TEST_F(MetricsTest, OtherRequestsAreRefused) {
  EXPECT_THAT(Exchange(server_->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
              HasSubstr("HTTP/1.1 404"));
  EXPECT_THAT(Exchange(server_->port(), "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
              HasSubstr("HTTP/1.1 405"));
  EXPECT_THAT(Exchange(server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n bad\r\n\r\n"),
              HasSubstr("HTTP/1.1 400"));
}

TEST(MetricsServer, BadAddressIsRefused) {
  EXPECT_FALSE(MetricsServer::Start("no-port", [] { return ""; }).ok());
  EXPECT_FALSE(MetricsServer::Start("300.1.1.1:9000", [] { return ""; }).ok());
}

}  // namespace
TEST_F(MetricsTest, HealthzAlwaysReadyzOnceReady) {
  bool ready = false;
  auto server = MetricsServer::Start(
      "127.0.0.1:0", [this] { return RenderAgentMetrics(*pipeline_); }, [&] { return ready; });
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();
  EXPECT_THAT(Exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
              HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(Exchange(port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"), HasSubstr("HTTP/1.1 503"));
  ready = true;
  EXPECT_THAT(Exchange(port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"), HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(Exchange(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"), HasSubstr("HTTP/1.1 404"));
}

TEST(InformerMetrics, PerKindSyncedRestartsRelistsAndVersion) {
  std::vector<kube::KindState> kinds = {
      {"HTTPRoute", "gateway.networking.k8s.io/v1", true, 3, 1},
      {"TCPRoute", "", false, 0, 0},
  };
  testing::PromText text = testing::ParsePromText(RenderInformerMetrics(kinds));
  ASSERT_EQ(text.error, "");
  EXPECT_EQ(text.Sum("xgate_informer_synced", {{"kind", "HTTPRoute"}}), 1);
  EXPECT_EQ(text.Sum("xgate_informer_synced", {{"kind", "TCPRoute"}}), 0);
  EXPECT_EQ(text.Sum("xgate_informer_watch_restarts_total", {{"kind", "HTTPRoute"}}), 3);
  EXPECT_EQ(text.Sum("xgate_informer_relists_total", {{"kind", "HTTPRoute"}}), 1);
  EXPECT_EQ(text.Sum("xgate_informer_served_version",
                     {{"kind", "HTTPRoute"}, {"api_version", "gateway.networking.k8s.io/v1"}}),
            1);
  EXPECT_FALSE(text.Sum("xgate_informer_served_version", {{"kind", "TCPRoute"}}).has_value());
  EXPECT_EQ(text.types["xgate_informer_relists_total"], "counter");
}

}  // namespace xgate::admin

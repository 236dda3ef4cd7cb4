// The proxy's per-worker counters: what each event counts, how workers are summed, the
// config's names bounding what is reported, a reader running beside the writer, and the
// counters of a real Server moved by real traffic.
#include <gtest/gtest.h>

#include <thread>

#include "tests/proxy/test_util.h"
#include "userspace-proxy/server/access_log.h"
#include "userspace-proxy/server/server.h"
#include "userspace-proxy/server/stats.h"

namespace xgate::proxy {
namespace {

using namespace std::chrono_literals;
using Names = std::set<std::string, std::less<>>;

const api::ProxyRequestCount* FindRequest(const api::ProxyStats& s, const std::string& route,
                                          const std::string& backend, uint32_t code) {
  for (const auto& r : s.requests()) {
    if (r.route() == route && r.backend() == backend && r.code() == code) return &r;
  }
  return nullptr;
}

uint64_t RequestCount(const api::ProxyStats& s, const std::string& route,
                      const std::string& backend, uint32_t code) {
  const api::ProxyRequestCount* r = FindRequest(s, route, backend, code);
  return r ? r->count() : 0;
}

const api::ProxyClusterStats* FindCluster(const api::ProxyStats& s, const std::string& name) {
  for (const auto& c : s.clusters()) {
    if (c.cluster() == name) return &c;
  }
  return nullptr;
}

uint64_t Refusals(const api::ProxyStats& s, const std::string& reason) {
  for (const auto& r : s.parse_refusals()) {
    if (r.reason() == reason) return r.count();
  }
  return 0;
}

uint64_t Downstream(const api::ProxyStats& s, const std::string& protocol, bool open) {
  for (const auto& d : s.downstream()) {
    if (d.protocol() == protocol) return open ? d.connections_open() : d.connections_total();
  }
  return 0;
}

TEST(WorkerStats, WorkersAreSummedPerSeries) {
  stats::WorkerStats a, b;
  a.CountRequest("ns/web", "ns/web:80", 200);
  a.CountRequest("ns/web", "ns/web:80", 200);
  b.CountRequest("ns/web", "ns/web:80", 200);
  b.CountRequest("ns/web", "ns/web:80", 503);
  b.CountRequest("", "", 404);
  a.ObserveLatency("ns/web", 0.0003);  // first bucket (<= 0.5 ms)
  b.ObserveLatency("ns/web", 0.003);   // <= 5 ms
  b.ObserveLatency("ns/web", 20);      // above the last bound: +Inf only
  a.Cluster("ns/web:80").open.Add(2);
  b.Cluster("ns/web:80").open.Add(1);
  b.Cluster("ns/web:80").connect_errors.Add();
  a.ParseRefused(http::ParseError::kObsFold);
  b.ParseRefused(http::ParseError::kObsFold);
  a.TlsHandshakeOk();
  b.TlsHandshakeFailed(stats::TlsFailure::kProtocolVersion);
  stats::Gauge& open = a.DownstreamOpened(stats::DownstreamProtocol::kHttps);
  b.DownstreamOpened(stats::DownstreamProtocol::kHttps);
  open.Add(-1);
  a.H2StreamOpened();
  a.H2StreamOpened();
  a.H2StreamClosed();

  const stats::WorkerStats* workers[] = {&a, &b};
  api::ProxyStats s = stats::CollectStats(workers, Names{"ns/web"}, Names{"ns/web:80"});
  EXPECT_EQ(s.workers(), 2u);
  EXPECT_EQ(RequestCount(s, "ns/web", "ns/web:80", 200), 3u);
  EXPECT_EQ(RequestCount(s, "ns/web", "ns/web:80", 503), 1u);
  EXPECT_EQ(RequestCount(s, "", "", 404), 1u);
  ASSERT_EQ(s.route_latency_size(), 1);
  const api::LatencyHistogram& h = s.route_latency(0).duration();
  ASSERT_EQ(h.bounds_size() + 1, h.bucket_counts_size());
  EXPECT_EQ(h.bounds(0), 0.0005);
  EXPECT_EQ(h.bucket_counts(0), 1u);
  EXPECT_EQ(h.bucket_counts(3), 1u);  // (2.5 ms, 5 ms]
  EXPECT_EQ(h.bucket_counts(h.bucket_counts_size() - 1), 1u);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_DOUBLE_EQ(h.sum(), 20.0033);
  const api::ProxyClusterStats* c = FindCluster(s, "ns/web:80");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->connections_open(), 3u);
  EXPECT_EQ(c->connect_errors(), 1u);
  EXPECT_EQ(c->upstream_duration().bounds_size(), static_cast<int>(stats::kLatencyBounds.size()));
  EXPECT_EQ(Refusals(s, "obs_fold"), 2u);
  EXPECT_EQ(Refusals(s, "bare_cr"), 0u);  // every reason listed, from zero
  for (const auto& r : s.parse_refusals()) EXPECT_NE(r.code(), 0u) << r.reason();
  for (const auto& t : s.tls_handshakes()) {
    uint64_t want = (t.result() == "ok" || t.reason() == "protocol_version") ? 1 : 0;
    EXPECT_EQ(t.count(), want) << t.result() << " " << t.reason();
  }
  EXPECT_EQ(Downstream(s, "https", false), 2u);
  EXPECT_EQ(Downstream(s, "https", true), 1u);
  EXPECT_EQ(Downstream(s, "http", false), 0u);
  EXPECT_EQ(s.h2_streams_total(), 2u);
  EXPECT_EQ(s.h2_streams_open(), 1u);
}

TEST(WorkerStats, OnlyTheConfigsNamesAreReportedAndKeptByName) {
  stats::WorkerStats w;
  w.CountRequest("ns/old", "ns/old:80", 200);
  w.CountRequest("ns/new", "ns/new:80", 200);
  w.Cluster("ns/old:80").idle.Add(1);
  const stats::WorkerStats* workers[] = {&w};
  api::ProxyStats s = stats::CollectStats(workers, Names{"ns/new"}, Names{"ns/new:80"});
  EXPECT_EQ(FindRequest(s, "ns/old", "ns/old:80", 200), nullptr);
  EXPECT_EQ(FindCluster(s, "ns/old:80"), nullptr);
  EXPECT_EQ(RequestCount(s, "ns/new", "ns/new:80", 200), 1u);
  // The route comes back: its count goes on from where it was.
  w.CountRequest("ns/old", "ns/old:80", 200);
  s = stats::CollectStats(workers, Names{"ns/old"}, Names{"ns/old:80"});
  EXPECT_EQ(RequestCount(s, "ns/old", "ns/old:80", 200), 2u);
}

// The reader walks the series while the worker adds and bumps them: every snapshot is
// consistent (histogram count equals its buckets, counts never go back) and the final one
// is exact.
TEST(WorkerStats, ReaderBesideTheWriterSeesMonotonicCounts) {
  stats::WorkerStats w;
  constexpr int kRoutes = 300, kRounds = 40;
  Names routes;
  for (int i = 0; i < kRoutes; ++i) routes.insert("ns/r" + std::to_string(i));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < kRoutes; ++i) {
        std::string route = "ns/r" + std::to_string(i);
        w.CountRequest(route, "", 200);
        w.ObserveLatency(route, 0.001 * (i % 7));
      }
    }
    done = true;
  });
  const stats::WorkerStats* workers[] = {&w};
  uint64_t last_total = 0;
  bool finished = false;
  while (!finished) {
    finished = done.load();
    api::ProxyStats s = stats::CollectStats(workers, routes, {});
    uint64_t total = 0;
    for (const auto& r : s.requests()) total += r.count();
    EXPECT_GE(total, last_total);
    last_total = total;
    for (const auto& l : s.route_latency()) {
      uint64_t buckets = 0;
      for (uint64_t n : l.duration().bucket_counts()) buckets += n;
      EXPECT_EQ(buckets, l.duration().count());
    }
  }
  writer.join();
  EXPECT_EQ(last_total, uint64_t{kRoutes} * kRounds);
}

// A real Server on loopback: requests, a refusal, connections and the upstream pool.
TEST(ServerStats, TrafficMovesTheCounters) {
  AccessLog::Disable();
  testing::TestUpstream up("up");
  uint16_t port = testing::FreePort();
  ServerOptions options;
  options.workers = 2;
  Server server(options);
  server.Start();
  api::L7Config config;
  config.set_generation(1);
  api::Port* p = testing::AddHttpPort(config, port);
  testing::AddRoute(*testing::AddVirtualHost(*p, "app.example"), "app", "/", "test/up:80");
  testing::AddCluster(config, "test/up:80", up);
  ASSERT_TRUE(server.Apply(config).ok());
  ASSERT_TRUE(server.WaitApplied(1, 5s));

  {
    testing::Client client("127.0.0.1", port);  // keep-alive: one upstream connection reused
    for (int i = 0; i < 3; ++i) {
      client.Send("GET /app/" + std::to_string(i) + " HTTP/1.1\r\nHost: app.example\r\n\r\n");
      EXPECT_EQ(client.Read().status, 200);
    }
    client.Send("GET /status/503 HTTP/1.1\r\nHost: app.example\r\n\r\n");
    EXPECT_EQ(client.Read().status, 503);
  }
  EXPECT_EQ(testing::Get(port, "other.example", "/").status, 404);
  {
    testing::Client bad("127.0.0.1", port);
    bad.Send("GET / HTTP/1.1\r\nHost: app.example\r\nX-Folded: a\r\n b\r\n\r\n");
    EXPECT_EQ(bad.Read().status, 400);
    ASSERT_TRUE(bad.WaitClosed());
  }

  // Connections are counted closed by their worker after the client sees the close: wait.
  api::ProxyStats s;
  for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(10ms)) {
    s = server.Stats();
    if (Downstream(s, "http", true) == 0) break;
  }
  EXPECT_EQ(s.generation(), 1u);
  EXPECT_EQ(RequestCount(s, "test/app", "test/up:80", 200), 3u);
  EXPECT_EQ(RequestCount(s, "test/app", "test/up:80", 503), 1u);
  EXPECT_EQ(RequestCount(s, "", "", 404), 1u);
  EXPECT_EQ(RequestCount(s, "", "", 400), 1u);
  EXPECT_EQ(Refusals(s, "obs_fold"), 1u);
  EXPECT_EQ(Downstream(s, "http", false), 3u);
  EXPECT_EQ(Downstream(s, "http", true), 0u);
  const api::ProxyClusterStats* c = FindCluster(s, "test/up:80");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->connects(), 1u);
  EXPECT_EQ(c->reuses(), 3u);
  EXPECT_EQ(c->connections_open(), 1u);
  EXPECT_EQ(c->connections_idle(), 1u);
  EXPECT_EQ(c->connections_active(), 0u);
  EXPECT_EQ(c->upstream_duration().count(), 4u);
  ASSERT_EQ(s.route_latency_size(), 2);  // "" and test/app
  for (const auto& l : s.route_latency()) {
    EXPECT_EQ(l.duration().count(), l.route().empty() ? 1u : 4u) << l.route();
  }
  server.Stop();
}

}  // namespace
}  // namespace xgate::proxy

// xgate_proxy_* series from the proxy's counters (api::ProxyStats).
#include <sstream>

#include "agent/admin/metrics.h"
#include "agent/admin/prom_text.h"

namespace xgate::admin {
namespace {

// A counter or gauge family: one sample per label set.
struct Family {
  std::string name, type, help;
  std::vector<std::pair<std::string, uint64_t>> samples;  // label set text, value
  void Add(const Labels& labels, uint64_t value) { samples.emplace_back(LabelSet(labels), value); }
  void Write(std::ostringstream& out) const {
    MetricHeader(out, name, type, help);
    for (const auto& [labels, value] : samples) out << name << labels << " " << value << "\n";
  }
};

// A histogram family: cumulative buckets, +Inf equal to _count.
void WriteHistogram(
    std::ostringstream& out, const std::string& name, const std::string& label,
    const std::vector<std::pair<std::string, const api::LatencyHistogram*>>& series) {
  for (const auto& [value, h] : series) {
    uint64_t cumulative = 0;
    for (int i = 0; i < h->bounds_size() && i < h->bucket_counts_size(); ++i) {
      cumulative += h->bucket_counts(i);
      out << name << "_bucket" << LabelSet({{label, value}, {"le", SampleValue(h->bounds(i))}})
          << " " << cumulative << "\n";
    }
    out << name << "_bucket" << LabelSet({{label, value}, {"le", "+Inf"}}) << " " << h->count()
        << "\n";
    out << name << "_sum" << LabelSet({{label, value}}) << " " << SampleValue(h->sum()) << "\n";
    out << name << "_count" << LabelSet({{label, value}}) << " " << h->count() << "\n";
  }
}

}  // namespace

std::string RenderProxyMetrics(const api::ProxyStats& stats) {
  std::ostringstream out;
  Family generation{"xgate_proxy_config_generation",
                    "gauge",
                    "Generation of the L7 config the proxy serves (0: none yet).",
                    {}};
  generation.Add({}, stats.generation());
  generation.Write(out);
  Family workers{"xgate_proxy_workers", "gauge", "Worker threads (event loops) of the proxy.", {}};
  workers.Add({}, stats.workers());
  workers.Write(out);

  Family requests{"xgate_proxy_requests_total",
                  "counter",
                  "Requests the proxy answered, by route (namespace/name; \"\" when none "
                  "matched), backend (cluster; \"\" when the proxy answered itself) and status "
                  "code.",
                  {}};
  for (const auto& r : stats.requests()) {
    requests.Add(
        {{"route", r.route()}, {"backend", r.backend()}, {"code", std::to_string(r.code())}},
        (r.count()));
  }
  requests.Write(out);

  MetricHeader(out, "xgate_proxy_request_duration_seconds", "histogram",
               "First request byte to last response byte, by route.");
  std::vector<std::pair<std::string, const api::LatencyHistogram*>> by_route;
  for (const auto& r : stats.route_latency()) by_route.emplace_back(r.route(), &r.duration());
  WriteHistogram(out, "xgate_proxy_request_duration_seconds", "route", by_route);

  MetricHeader(out, "xgate_proxy_upstream_duration_seconds", "histogram",
               "Upstream request start to its response head, by backend (cluster).");
  std::vector<std::pair<std::string, const api::LatencyHistogram*>> by_backend;
  for (const auto& c : stats.clusters())
    by_backend.emplace_back(c.cluster(), &c.upstream_duration());
  WriteHistogram(out, "xgate_proxy_upstream_duration_seconds", "backend", by_backend);

  const std::string pool = ", by backend (cluster), summed over the proxy's workers.";
  Family open{"xgate_proxy_upstream_connections_open",
              "gauge",
              "Upstream connections open (connecting, serving or idle)" + pool,
              {}};
  Family idle{"xgate_proxy_upstream_connections_idle",
              "gauge",
              "Upstream connections idle in the keep-alive pool" + pool,
              {}};
  Family active{"xgate_proxy_upstream_connections_active",
                "gauge",
                "Upstream connections serving a request (or connecting)" + pool,
                {}};
  Family connects{"xgate_proxy_upstream_connects_total",
                  "counter",
                  "New upstream connections started" + pool,
                  {}};
  Family errors{"xgate_proxy_upstream_connect_errors_total",
                "counter",
                "Upstream connects refused, unreachable or timed out" + pool,
                {}};
  Family ejections{"xgate_proxy_upstream_ejections_total",
                   "counter",
                   "Endpoints ejected after consecutive failures (5xx, connect errors, resets "
                   "before a response)" +
                       pool,
                   {}};
  Family retries{"xgate_proxy_upstream_retries_total",
                 "counter",
                 "Requests tried again elsewhere after an attempt on the backend failed" + pool,
                 {}};
  Family reuses{"xgate_proxy_upstream_reuses_total",
                "counter",
                "Requests sent on a kept-alive upstream connection" + pool,
                {}};
  Family tls_errors{"xgate_proxy_upstream_tls_errors_total",
                    "counter",
                    "TLS handshakes to the backend that failed (certificate verification, "
                    "protocol; BackendTLSPolicy)" +
                        pool,
                    {}};
  Family h2_refused{"xgate_proxy_upstream_h2_refused_total",
                    "counter",
                    "HTTP/2 streams the backend refused unprocessed (REFUSED_STREAM, above its "
                    "GOAWAY's last stream id), sent again" +
                        pool,
                    {}};
  Family h2_stalled{"xgate_proxy_upstream_h2_stalled_total",
                    "counter",
                    "HTTP/2 streams reset because the backend held its flow-control window at "
                    "zero with request body waiting (--upstream-h2-stall-timeout), answered 504" +
                        pool,
                    {}};
  for (const auto& c : stats.clusters()) {
    Labels labels = {{"backend", c.cluster()}};
    tls_errors.Add(labels, c.tls_errors());
    h2_refused.Add(labels, c.h2_refused());
    h2_stalled.Add(labels, c.h2_stalled());
    open.Add(labels, c.connections_open());
    idle.Add(labels, c.connections_idle());
    active.Add(labels, c.connections_active());
    connects.Add(labels, c.connects());
    errors.Add(labels, c.connect_errors());
    ejections.Add(labels, c.ejections());
    retries.Add(labels, c.retries());
    reuses.Add(labels, c.reuses());
  }
  for (const Family* f : {&open, &idle, &active, &connects, &errors, &ejections, &retries, &reuses,
                          &tls_errors, &h2_refused, &h2_stalled}) {
    f->Write(out);
  }

  Family tls{"xgate_proxy_tls_handshakes_total",
             "counter",
             "TLS handshakes on HTTPS ports, by result and, when failed, reason "
             "(protocol_version, no_certificate, no_shared_cipher, client_certificate, "
             "client_alert, eof, other).",
             {}};
  for (const auto& t : stats.tls_handshakes()) {
    tls.Add({{"result", t.result()}, {"reason", t.reason()}}, t.count());
  }
  tls.Write(out);

  Family refusals{"xgate_proxy_parse_refusals_total",
                  "counter",
                  "Requests refused by the HTTP/1.1 parser (never forwarded), by reason and the "
                  "status answered.",
                  {}};
  for (const auto& r : stats.parse_refusals()) {
    refusals.Add({{"reason", r.reason()}, {"code", std::to_string(r.code())}}, (r.count()));
  }
  refusals.Write(out);

  Family total{"xgate_proxy_downstream_connections_total",
               "counter",
               "Client connections accepted, by the port's protocol.",
               {}};
  Family open_down{"xgate_proxy_downstream_connections_open",
                   "gauge",
                   "Client connections open, by the port's protocol.",
                   {}};
  for (const auto& d : stats.downstream()) {
    total.Add({{"protocol", d.protocol()}}, d.connections_total());
    open_down.Add({{"protocol", d.protocol()}}, d.connections_open());
  }
  total.Write(out);
  open_down.Write(out);

  Family streams{
      "xgate_proxy_h2_streams_total", "counter", "HTTP/2 request streams opened by clients.", {}};
  streams.Add({}, stats.h2_streams_total());
  streams.Write(out);
  Family streams_open{"xgate_proxy_h2_streams_open", "gauge", "HTTP/2 request streams open.", {}};
  streams_open.Add({}, stats.h2_streams_open());
  streams_open.Write(out);

  Family abuse{"xgate_proxy_h2_abuse_total",
               "counter",
               "HTTP/2 connections closed with GOAWAY for abuse, by kind and the GOAWAY code.",
               {}};
  for (const auto& a : stats.h2_abuse()) {
    abuse.Add({{"kind", a.kind()}, {"code", std::to_string(a.code())}}, a.count());
  }
  abuse.Write(out);
  Family overflow{"xgate_proxy_downstream_overflow_total",
                  "counter",
                  "Client connections closed at accept because the connection limits were reached.",
                  {}};
  overflow.Add({}, stats.downstream_overflow());
  overflow.Write(out);

  Family route_retries{"xgate_proxy_route_retries_total",
                       "counter",
                       "Requests tried again under their HTTPRoute rule's retry policy, by route "
                       "and reason (status, connect, reset, timeout).",
                       {}};
  for (const auto& r : stats.route_retries()) {
    route_retries.Add({{"route", r.route()}, {"reason", r.reason()}}, r.count());
  }
  route_retries.Write(out);
  Family budget{"xgate_proxy_retry_budget_exhausted_total",
                "counter",
                "Retries refused because the retry budget (the share of requests in flight that "
                "may be retries) was used up; those requests got their failure.",
                {}};
  budget.Add({}, stats.retry_budget_exhausted());
  budget.Write(out);
  Family upgrades{"xgate_proxy_upgrades_total",
                  "counter",
                  "HTTP/1.1 connections upgraded (WebSocket) after the backend's 101.",
                  {}};
  upgrades.Add({}, stats.upgrades_total());
  upgrades.Write(out);
  Family upgrades_open{
      "xgate_proxy_upgrades_open", "gauge", "Upgraded connections relaying bytes now.", {}};
  upgrades_open.Add({}, stats.upgrades_open());
  upgrades_open.Write(out);
  return out.str();
}

}  // namespace xgate::admin

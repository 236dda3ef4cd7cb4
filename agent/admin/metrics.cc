#include "agent/admin/metrics.h"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "agent/admin/prom_text.h"
#include "agent/inspect/l4_maps.h"
#include "agent/l7/proxy_stats_client.h"
#include "spdlog/fmt/fmt.h"
#include "spdlog/spdlog.h"
#include "userspace-proxy/http/request_parser.h"
#include "userspace-proxy/http/serializer.h"

namespace xgate::admin {
namespace {

constexpr size_t kMaxRequest = 16 * 1024;
constexpr int kReadTimeoutMs = 2000;

void Metric(std::ostringstream& out, const std::string& name, const std::string& type,
            const std::string& help) {
  MetricHeader(out, name, type, help);
}

std::string HostPort(const std::string& address, uint32_t port) {
  return address.find(':') == std::string::npos ? absl::StrCat(address, ":", port)
                                                : absl::StrCat("[", address, "]:", port);
}

// Counter series by label set; two map entries that share one (say a backend listed under
// two ids) add up, so no series appears twice.
using Series = std::map<std::string, uint64_t>;

void Counter(std::ostringstream& out, const std::string& name, const std::string& help,
             const Series& series) {
  Metric(out, name, "counter", help);
  for (const auto& [labels, value] : series) out << name << labels << " " << value << "\n";
}

void ApplyHistogram(std::ostringstream& out, const pipeline::Pipeline::Counters& c) {
  const std::string name = "xgate_agent_apply_duration_seconds";
  Metric(out, name, "histogram",
         "Time to hand a new snapshot to every data plane (applied or refused; a refusal "
         "includes the rollback).");
  const auto& bounds = pipeline::Pipeline::Counters::kApplyBuckets;
  for (size_t i = 0; i < bounds.size(); ++i) {
    out << name << "_bucket{le=\"" << fmt::format("{}", bounds[i]) << "\"} "
        << c.apply_seconds_le[i] << "\n";
  }
  out << name << "_bucket{le=\"+Inf\"} " << c.apply_count << "\n"
      << name << "_sum " << fmt::format("{}", c.apply_seconds_sum) << "\n"
      << name << "_count " << c.apply_count << "\n";
}

void CountConditions(const std::vector<model::Condition>& conditions,
                     std::map<std::pair<std::string, std::string>, int>& counts) {
  for (const auto& c : conditions) ++counts[{c.type, c.status}];
}

std::string RenderPipelineMetrics(const pipeline::Pipeline& pipeline) {
  auto state = pipeline.Current();
  pipeline::Pipeline::Counters counters = pipeline.counters();
  std::ostringstream out;
  Metric(out, "xgate_agent_snapshot_generation", "gauge",
         "Generation of the snapshot the data planes run (0: none yet).");
  out << "xgate_agent_snapshot_generation " << (state ? state->generation : 0) << "\n";
  Metric(out, "xgate_agent_reloads_total", "counter", "Reloads of the manifest folder, by result.");
  out << "xgate_agent_reloads_total{result=\"applied\"} " << counters.applied << "\n"
      << "xgate_agent_reloads_total{result=\"unchanged\"} " << counters.unchanged << "\n"
      << "xgate_agent_reloads_total{result=\"apply_failed\"} " << counters.apply_failed << "\n"
      << "xgate_agent_reloads_total{result=\"unreadable\"} " << counters.unreadable << "\n";
  Metric(
      out, "xgate_agent_last_reload_ok", "gauge",
      "1 when the last reload left the newest manifests applied, 0 when it kept an older state.");
  out << "xgate_agent_last_reload_ok " << (pipeline.LastError().ok() ? 1 : 0) << "\n";
  ApplyHistogram(out, counters);
  if (state == nullptr) return out.str();

  const model::Store& store = state->loaded.store;
  Metric(out, "xgate_agent_objects", "gauge", "Objects loaded from the manifests, by kind.");
  std::pair<const char*, size_t> kinds[] = {{"GatewayClass", store.gateway_classes.size()},
                                            {"Gateway", store.gateways.size()},
                                            {"HTTPRoute", store.http_routes.size()},
                                            {"TCPRoute", store.tcp_routes.size()},
                                            {"UDPRoute", store.udp_routes.size()},
                                            {"TLSRoute", store.tls_routes.size()},
                                            {"GRPCRoute", store.grpc_routes.size()},
                                            {"ReferenceGrant", store.reference_grants.size()},
                                            {"Namespace", store.namespaces.size()},
                                            {"Service", store.services.size()},
                                            {"EndpointSlice", store.endpoint_slices.size()},
                                            {"Secret", store.secrets.size()}};
  for (const auto& [kind, n] : kinds)
    out << "xgate_agent_objects{kind=\"" << kind << "\"} " << n << "\n";
  Metric(out, "xgate_agent_refused_documents", "gauge",
         "Manifest documents the last load refused (see the log or xgatectl status).");
  out << "xgate_agent_refused_documents " << state->loaded.errors.size() << "\n";

  std::map<std::pair<std::string, std::string>, int> conditions;
  const auto& st = state->bound.statuses;
  for (const auto& [k, s] : st.gateway_classes) CountConditions(s.conditions, conditions);
  for (const auto& [k, s] : st.gateways) {
    CountConditions(s.conditions, conditions);
    for (const auto& l : s.listeners) CountConditions(l.conditions, conditions);
  }
  for (const auto& [k, s] : st.routes) {
    for (const auto& p : s->parents) CountConditions(p.conditions, conditions);
  }
  Metric(out, "xgate_agent_conditions", "gauge",
         "Status conditions of the agent's GatewayClasses, Gateways, listeners and route "
         "parents, by type and status.");
  for (const auto& [key, n] : conditions) {
    out << "xgate_agent_conditions{type=\"" << key.first << "\",status=\"" << key.second << "\"} "
        << n << "\n";
  }
  if (state->snapshot) {
    Metric(out, "xgate_agent_snapshot_l4_listeners", "gauge",
           "L4 (address, port, protocol) entries in the applied snapshot.");
    out << "xgate_agent_snapshot_l4_listeners " << state->snapshot->l4.size() << "\n";
    Metric(out, "xgate_agent_snapshot_l7_ports", "gauge",
           "L7 ports (per Gateway) in the applied snapshot.");
    out << "xgate_agent_snapshot_l7_ports " << state->snapshot->l7.ports_size() << "\n";
  }
  return out.str();
}

}  // namespace

std::string RenderFastPathMetrics(const api::GetCountersResponse& counters) {
  Series listener_packets, listener_bytes, backend_packets, backend_bytes;
  // ReadCounters names a backend's listener "address:port/proto"; the label brackets IPv6.
  std::map<std::string, std::string> listener_label;
  for (const api::ListenerCounter& l : counters.listeners()) {
    std::string label = absl::StrCat(HostPort(l.address(), l.port()), "/", l.protocol());
    listener_label[absl::StrCat(l.address(), ":", l.port(), "/", l.protocol())] = label;
    std::string labels = LabelSet(
        {{"listener", label}, {"kind", l.kind()}, {"gateway", l.listener()}, {"route", l.route()}});
    listener_packets[labels] += l.packets();
    listener_bytes[labels] += l.bytes();
  }
  for (const api::BackendCounter& b : counters.backends()) {
    auto named = listener_label.find(b.listener());
    std::string labels =
        LabelSet({{"backend", HostPort(b.address(), b.port())},
                  {"service", b.service()},
                  {"listener", named != listener_label.end() ? named->second : b.listener()}});
    backend_packets[labels] += b.packets();
    backend_bytes[labels] += b.bytes();
  }
  Series path_packets, path_bytes, drop_packets, drop_bytes;
  for (const api::TrafficCounter& p : counters.paths()) {
    std::string labels = LabelSet({{"path", p.name()}});
    path_packets[labels] += p.packets();
    path_bytes[labels] += p.bytes();
  }
  for (const api::TrafficCounter& d : counters.drops()) {
    std::string labels = LabelSet({{"reason", d.name()}});
    drop_packets[labels] += d.packets();
    drop_bytes[labels] += d.bytes();
  }
  Series xmit_drops;
  for (const api::TrafficCounter& d : counters.xmit_drops()) {
    xmit_drops[LabelSet({{"interface", d.name()}})] += d.packets();
  }
  Series steer_packets, steer_bytes;
  for (const api::TrafficCounter& s : counters.steering()) {
    std::string labels = LabelSet({{"result", s.name()}});
    steer_packets[labels] += s.packets();
    steer_bytes[labels] += s.bytes();
  }
  std::ostringstream out;
  const std::string listener_help =
      " the kernel fast path saw for a node listener (address:port/protocol; kind l4 = "
      "forwarded by XDP, punt = left to the proxy; gateway = namespace/gateway/listener, "
      "route = its Kind namespace/name).";
  Counter(out, "xgate_fastpath_listener_packets_total", "Packets" + listener_help,
          listener_packets);
  Counter(out, "xgate_fastpath_listener_bytes_total", "Bytes" + listener_help, listener_bytes);
  const std::string backend_help =
      " the kernel fast path forwarded to a backend (service = namespace/name, listener = the "
      "node listener it serves).";
  Counter(out, "xgate_fastpath_backend_packets_total", "Packets" + backend_help, backend_packets);
  Counter(out, "xgate_fastpath_backend_bytes_total", "Bytes" + backend_help, backend_bytes);
  Counter(out, "xgate_fastpath_path_packets_total",
          "Packets by the path they took through the kernel fast path.", path_packets);
  Counter(out, "xgate_fastpath_path_bytes_total",
          "Bytes by the path they took through the kernel fast path.", path_bytes);
  Counter(out, "xgate_fastpath_drops_total", "Packets the kernel fast path dropped, by reason.",
          drop_packets);
  Counter(out, "xgate_fastpath_dropped_bytes_total",
          "Bytes the kernel fast path dropped, by reason.", drop_bytes);
  Counter(out, "xgate_fastpath_xdp_xmit_drops_total",
          "Frames sent by XDP_REDIRECT that the kernel dropped on transmit, by egress interface.",
          xmit_drops);
  if (!steer_packets.empty()) {
    const std::string steer_help =
        " of punted traffic the steer program handed to the proxy's sockets with bpf_sk_assign "
        "(result listener, established) or dropped (no_socket, assign_failed).";
    Counter(out, "xgate_steer_packets_total", "Packets" + steer_help, steer_packets);
    Counter(out, "xgate_steer_bytes_total", "Bytes" + steer_help, steer_bytes);
  }
  return out.str();
}

std::string RenderListenMetrics(const l7::ListenReports& listen) {
  std::string out =
      "# HELP xgate_listen_up 1 when xgate-proxy listens for the Gateway address and port, 0 "
      "when it cannot (the listener is PortUnavailable; the proxy retries), as last "
      "reported.\n# TYPE xgate_listen_up gauge\n";
  api::ListenReport latest = listen.Latest();
  for (const api::ListenResult& r : latest.results()) {
    absl::StrAppend(&out, "xgate_listen_up{address=\"", EscapeLabelValue(r.address()), "\",port=\"",
                    r.port(), "\",mode=\"", r.steered() ? "steered" : "bound", "\"} ",
                    r.bound() ? 1 : 0, "\n");
  }
  absl::StrAppend(&out,
                  "# HELP xgate_listen_failures_total Attempts of xgate-proxy to listen on a "
                  "Gateway address and port that failed (port taken, no permission, ...).\n",
                  "# TYPE xgate_listen_failures_total counter\n", "xgate_listen_failures_total ",
                  listen.failures_total(), "\n");
  return out;
}

std::string RenderAgentMetrics(const pipeline::Pipeline& pipeline, const std::string& l4_pin_root,
                               const std::string& proxy_stats_socket,
                               const l7::ListenReports* listen) {
  std::string out = RenderPipelineMetrics(pipeline);
  if (listen != nullptr) absl::StrAppend(&out, RenderListenMetrics(*listen));
  if (!proxy_stats_socket.empty()) {
    auto proxy = l7::FetchProxyStats(proxy_stats_socket);
    if (!proxy.ok()) {
      spdlog::debug("metrics: proxy: {}", std::string(proxy.status().message()));
    }
    absl::StrAppend(&out,
                    "# HELP xgate_proxy_up 1 when xgate-proxy answered this scrape with its "
                    "counters, 0 when it is down or did not answer in time.\n",
                    "# TYPE xgate_proxy_up gauge\n", "xgate_proxy_up ", proxy.ok() ? 1 : 0, "\n");
    if (proxy.ok()) absl::StrAppend(&out, RenderProxyMetrics(*proxy));
  }
  if (l4_pin_root.empty()) return out;
  absl::StatusOr<api::GetCountersResponse> counters = absl::UnavailableError("");
  auto maps = inspect::L4Maps::Open(l4_pin_root);
  if (maps.ok()) {
    auto state = pipeline.Current();
    counters = inspect::ReadCounters(**maps, state ? state->snapshot.get() : nullptr);
  } else {
    counters = maps.status();
  }
  if (!counters.ok()) {
    spdlog::debug("metrics: fast path maps under {}: {}", l4_pin_root,
                  std::string(counters.status().message()));
  }
  absl::StrAppend(&out,
                  "# HELP xgate_fastpath_maps_readable 1 when the fast path maps pinned "
                  "under --pin-root could be read for this scrape.\n",
                  "# TYPE xgate_fastpath_maps_readable gauge\n", "xgate_fastpath_maps_readable ",
                  counters.ok() ? 1 : 0, "\n");
  if (counters.ok()) absl::StrAppend(&out, RenderFastPathMetrics(*counters));
  return out;
}

std::string RenderInformerMetrics(const std::vector<kube::KindState>& kinds) {
  std::ostringstream out;
  Metric(out, "xgate_informer_synced", "gauge",
         "1 once the kind's informer has listed it (Kubernetes mode), 0 before or while the "
         "server does not serve the kind.");
  for (const auto& k : kinds) {
    out << "xgate_informer_synced{kind=\"" << k.kind << "\"} " << (k.synced ? 1 : 0) << "\n";
  }
  Metric(out, "xgate_informer_served_version", "gauge",
         "1 for the API version each kind is read at (discovery).");
  for (const auto& k : kinds) {
    if (k.api_version.empty()) continue;
    out << "xgate_informer_served_version{kind=\"" << k.kind << "\",api_version=\"" << k.api_version
        << "\"} 1\n";
  }
  Metric(out, "xgate_informer_watch_restarts_total", "counter",
         "Watches that ended and were started again (resumed or after a relist), per kind.");
  for (const auto& k : kinds) {
    out << "xgate_informer_watch_restarts_total{kind=\"" << k.kind << "\"} " << k.watch_restarts
        << "\n";
  }
  Metric(out, "xgate_informer_relists_total", "counter",
         "Lists after the first one (the watch history was compacted: 410 Gone), per kind.");
  for (const auto& k : kinds) {
    out << "xgate_informer_relists_total{kind=\"" << k.kind << "\"} " << k.relists << "\n";
  }
  return out.str();
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, std::function<std::string()> render, std::function<bool()> ready) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(absl::StrCat(address, ": expected HOST:PORT"));
  }
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(address, ": ", gai_strerror(rc)));
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool ok = fd >= 0 && bind(fd, found->ai_addr, found->ai_addrlen) == 0 && listen(fd, 16) == 0;
  freeaddrinfo(found);
  if (!ok) {
    std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", why));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  int bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  std::unique_ptr<MetricsServer> server(new MetricsServer(fd, eventfd(0, EFD_CLOEXEC), bound_port,
                                                          std::move(render), std::move(ready)));
  server->thread_ = std::thread([s = server.get()] { s->Serve(); });
  spdlog::info("metrics on http://{}:{}/metrics",
               host.find(':') == std::string::npos ? host : "[" + host + "]", bound_port);
  return server;
}

MetricsServer::~MetricsServer() {
  uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof one) < 0) spdlog::warn("metrics: cannot signal stop");
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(stop_fd_);
}

void MetricsServer::Serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents & POLLIN) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    Answer(conn);
    close(conn);
  }
}

void MetricsServer::Answer(int fd) {
  http::RequestParser parser;
  std::string buf;
  while (buf.size() < kMaxRequest) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, kReadTimeoutMs) <= 0) return;  // a client that says nothing gets nothing
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) return;
    buf.append(chunk, n);
    http::Step step = parser.Parse(buf);
    if (step.kind == http::StepKind::kNeedMore) continue;
    std::string response;
    if (step.kind == http::StepKind::kError) {
      response = http::MakeSimpleResponse(http::ParseErrorStatus(parser.error()), {}, "", true);
    } else if (parser.head().method != "GET") {
      response = http::MakeSimpleResponse(405, {}, "", true);
    } else if (parser.head().path == "/healthz") {
      response = http::MakeSimpleResponse(200, {}, "ok\n", true);
    } else if (parser.head().path == "/readyz") {
      bool ready = !ready_ || ready_();
      response =
          http::MakeSimpleResponse(ready ? 200 : 503, {}, ready ? "ready\n" : "not ready\n", true);
    } else if (parser.head().path != "/metrics") {
      response = http::MakeSimpleResponse(404, {}, "see /metrics, /healthz, /readyz\n", true);
    } else {
      std::vector<http::Header> headers = {{"Content-Type", "text/plain; version=0.0.4"}};
      response = http::MakeSimpleResponse(200, headers, render_(), true);
    }
    for (size_t sent = 0; sent < response.size();) {
      ssize_t w = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (w <= 0) return;
      sent += w;
    }
    return;
  }
  std::string too_large = http::MakeSimpleResponse(431, {}, "", true);
  send(fd, too_large.data(), too_large.size(), MSG_NOSIGNAL);
}

}  // namespace xgate::admin

// The agent's Prometheus endpoint (--metrics-addr): GET /metrics in the text format.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "agent/admin/prom_text.h"
#include "agent/l7/listen_reports.h"
#include "agent/pipeline/pipeline.h"
#include "agent/pods/locality_check.h"
#include "agent/sources/kube/kind_state.h"
#include "api/admin.pb.h"

namespace xgate::admin {

// The agent's own metrics: snapshot generation, reloads by result, apply durations, objects
// by kind, refused documents, conditions by type and status, data plane sizes. With
// `l4_pin_root` (an agent run with --attach) also the kernel fast path's counters read from
// the maps pinned there (see RenderFastPathMetrics). With `proxy_stats_socket`, the proxy's
// counters asked there (bounded wait) and xgate_proxy_up, 0 when it does not answer. With
// `listen`, what the proxy reported of its listening sockets (RenderListenMetrics).
std::string RenderAgentMetrics(const pipeline::Pipeline& pipeline,
                               const std::string& l4_pin_root = "",
                               const std::string& proxy_stats_socket = "",
                               const l7::ListenReports* listen = nullptr);

// xgate_listen_up per (address, port) of the proxy's last report, and the failed attempts.
std::string RenderListenMetrics(const l7::ListenReports& listen);

// The fast path's counters (summed over CPUs, as inspect::ReadCounters gives them): packets
// and bytes per listener, per backend, per path, drops by reason.
std::string RenderFastPathMetrics(const api::GetCountersResponse& counters);

// The proxy's counters (asked of xgate-proxy at scrape time): requests by route, backend and
// code, latency histograms, upstream pools, TLS handshakes, parse refusals, connections.
std::string RenderProxyMetrics(const api::ProxyStats& stats);

// The Kubernetes source's informers: synced (0/1), watch restarts and relists per kind, and
// the version each Gateway API kind is read at.
std::string RenderInformerMetrics(const std::vector<kube::KindState>& kinds);

// Kubernetes mode: the status-writer Lease and the status writes of this agent (the agent
// fills it from kube::LeaderElector and kube::StatusWriter at scrape time).
struct LeaderStatusMetrics {
  bool lease_holder = false;        // this agent holds the Lease (and so writes status)
  uint64_t leader_transitions = 0;  // times this agent started or stopped holding it
  uint64_t status_writes_ok = 0;
  uint64_t status_writes_conflict = 0;
  uint64_t status_writes_error = 0;
  uint64_t status_writes_skipped_unchanged = 0;
  uint64_t status_reads_list = 0;   // objects whose read a sweep's LIST answered
  uint64_t status_reads_get = 0;    // objects read with a GET
  uint64_t status_list_pages = 0;   // a sweep's LIST pages answered
  uint64_t status_list_errors = 0;  // a sweep's LISTs failed (their kind read by GET)
};
std::string RenderLeaderStatusMetrics(const LeaderStatusMetrics& metrics);

// xgate_local_pods_mismatches by kind: where the EndpointSlices and xgate-cni's records
// disagree (pods::LocalityCheck), 0 for a kind with none.
std::string RenderLocalityMetrics(const std::vector<pods::LocalityMismatch>& mismatches);

class MetricsServer {
 public:
  // Listens on "HOST:PORT" ("[v6]:PORT" for IPv6; port 0 picks a free one) and answers, one
  // connection at a time (a scrape is small and rare): GET /metrics with `render()`,
  // /healthz with 200 while the process serves, /readyz with 200 when `ready()` (no `ready`:
  // always) and 503 otherwise.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, std::function<std::string()> render,
      std::function<bool()> ready = nullptr);
  ~MetricsServer();  // stops serving
  int port() const { return port_; }

 private:
  MetricsServer(int listen_fd, int stop_fd, int port, std::function<std::string()> render,
                std::function<bool()> ready)
      : listen_fd_(listen_fd),
        stop_fd_(stop_fd),
        port_(port),
        render_(std::move(render)),
        ready_(std::move(ready)) {}
  void Serve();
  void Answer(int fd);

  int listen_fd_;
  int stop_fd_;
  int port_;
  std::function<std::string()> render_;
  std::function<bool()> ready_;
  std::thread thread_;
};

}  // namespace xgate::admin

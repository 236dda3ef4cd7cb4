// The L7 data plane applier: publishes each Snapshot's L7Config on the proxy config stream
// and keeps an xgate-proxy process running while the config has L7 ports (started from
// beside the agent's own binary, restarted with backoff if it dies). A proxy stopped with
// SIGTERM puts its listening sockets in the agent's ListenerStore and drains; its successor
// is started at once and takes them (a graceful restart).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/appliers/applier.h"
#include "agent/l7/config_server.h"
#include "agent/l7/listen_reports.h"
#include "agent/l7/listener_store.h"
#include "agent/l7/proxy_user.h"

namespace xgate::l7 {

struct L7ApplierOptions {
  std::string socket_path = "/run/xgate/proxy.sock";
  // Where the proxy serves its counters; "" means ProxyStatsSocketPath(socket_path).
  std::string stats_socket_path;
  // "" means xgate-proxy in the folder of /proc/self/exe.
  std::string proxy_binary;
  // Extra arguments, e.g. {"--workers", "2", "--access-log", "/var/log/xgate/access.log"}.
  std::vector<std::string> proxy_args;
  bool start_proxy = true;  // false: only serve the stream (a proxy is run by hand)
  // "": the proxy stays root (it drops all but three capabilities itself). A user name or uid:
  // the proxy switches to it (xgate-proxy --user); the socket's folder is then its own.
  std::string proxy_user;
  std::shared_ptr<ListenReports> listen_reports;  // where the proxy's listen reports go
};

class L7Applier : public appliers::Applier {
 public:
  static absl::StatusOr<std::unique_ptr<L7Applier>> Create(L7ApplierOptions options);
  ~L7Applier() override;

  std::string Name() const override { return "l7"; }
  absl::Status Apply(const compiler::Snapshot& snapshot) override;
  absl::Status ApplyShared(const std::shared_ptr<const compiler::Snapshot>& snapshot) override;
  // detach: stop the proxy too; otherwise it keeps serving its last config, and the next
  // agent on the same socket adopts it (pid file beside the socket) instead of starting
  // a second one.
  void Stop(bool detach) override;
  // Starts the proxy now, before the first config, when the agent expects L7 ports (the
  // prepared state has some, or the API server has Gateways): its start (exec, TLS setup,
  // connecting the stream: ~50 ms) then overlaps the first reload instead of following it.
  // It waits for its first config on the stream; one that has no ports leaves it idle.
  void StartProxyAhead();

  pid_t proxy_pid() const { return pid_; }
  // Processes that handed their listeners over and are draining (not yet exited).
  int draining_proxies() const;
  int proxy_starts() const { return starts_; }
  ConfigServer& server() { return *server_; }

 private:
  explicit L7Applier(L7ApplierOptions options) : options_(std::move(options)) {}
  absl::Status Publish(std::shared_ptr<const api::L7Config> config);
  void Supervise();
  // The proxy's command line: every argument the agent passes it is built here.
  std::vector<std::string> ProxyArgv() const;
  pid_t Spawn();
  // The store's callback: `pid` put its listeners and drains; its successor starts now.
  void HandedOff(pid_t pid);
  void ReapDraining();  // holds mutex_
  void AdoptRunningProxy();
  std::string PidFile() const;  // beside the socket: the running proxy's pid

  L7ApplierOptions options_;
  std::optional<ProxyUser> user_;  // --proxy-user, looked up
  std::unique_ptr<ConfigServer> server_;
  std::unique_ptr<ListenerStore> store_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool want_proxy_ = false;
  bool stopping_ = false;
  std::atomic<pid_t> pid_{0};
  std::atomic<bool> adopted_{false};  // not our child: watched with kill(pid, 0)
  std::atomic<int> starts_{0};
  std::chrono::steady_clock::time_point next_start_{};  // guarded by mutex_
  struct Draining {
    pid_t pid;
    bool adopted;
  };
  std::vector<Draining> draining_;  // guarded by mutex_
  std::thread supervisor_;
};

// xgate-proxy beside the running binary.
std::string DefaultProxyBinary();

}  // namespace xgate::l7

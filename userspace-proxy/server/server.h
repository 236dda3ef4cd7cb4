// The HTTP engine: N workers sharing one atomically swapped Config.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "api/config.pb.h"
#include "api/proxy.pb.h"
#include "userspace-proxy/server/config.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // stops

  void Start();
  void Stop();

  // Builds a Config from `proto` and hands it to every worker. On error nothing changes
  // and the workers keep serving the previous config.
  absl::Status Apply(const api::L7Config& proto);
  // Waits until every worker serves `generation` (listeners bound); false on timeout.
  bool WaitApplied(uint64_t generation, std::chrono::milliseconds timeout) const;

  // Any thread.
  std::shared_ptr<const Config> config() const { return config_.load(); }
  uint64_t config_version() const { return version_.load(std::memory_order_acquire); }
  const ServerOptions& options() const { return options_; }
  // Any thread: every worker's counters summed, for the current config's routes and clusters.
  api::ProxyStats Stats() const;

 private:
  ServerOptions options_;
  std::atomic<std::shared_ptr<const Config>> config_;
  std::atomic<uint64_t> version_{0};
  std::mutex apply_mutex_;  // one Apply at a time (never taken on the request path)
  std::vector<std::unique_ptr<Worker>> workers_;
  bool started_ = false;
};

}  // namespace xgate::proxy

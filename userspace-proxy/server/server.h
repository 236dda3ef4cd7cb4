// The HTTP engine: N workers sharing one atomically swapped Config.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "api/config.pb.h"
#include "api/proxy.pb.h"
#include "userspace-proxy/server/config.h"
#include "userspace-proxy/server/listen_sockets.h"
#include "userspace-proxy/server/worker.h"

namespace xgate::proxy {

class Server {
 public:
  using ListenReporter = std::function<void(const api::ListenReport&)>;
  explicit Server(ServerOptions options);
  ~Server();  // stops

  void Start();
  void Stop();
  // Called (from Apply's thread or the retry thread) with every listen result after each
  // config and each retry: set before Start.
  void SetListenReporter(ListenReporter reporter) { reporter_ = std::move(reporter); }

  // Builds a Config from `proto` and hands it to every worker. On error nothing changes
  // and the workers keep serving the previous config.
  absl::Status Apply(api::L7Config proto);
  // Before the first Apply: the previous proxy's listening sockets (graceful restart).
  void InheritListeners(std::vector<HandedGroup> groups);
  // Stops accepting: the workers let go of every listening socket, and the caller gets them
  // (to hand on, or to drop, which closes them). Apply must not be called after it.
  std::vector<HandedGroup> ReleaseListeners();
  // Every connection finishes what it has started and takes no further request.
  void Drain();

  // Waits until every worker serves `generation` (listeners bound); false on timeout.
  bool WaitApplied(uint64_t generation, std::chrono::milliseconds timeout) const;

  // Any thread.
  std::shared_ptr<const Config> config() const { return config_.load(); }
  std::shared_ptr<const ListenSet> listen_set() const { return listen_set_.load(); }
  uint64_t config_version() const { return version_.load(std::memory_order_acquire); }
  const ServerOptions& options() const { return options_; }
  // Any thread: downstream connections open over every worker.
  int64_t OpenConnections() const;
  // Any thread: every worker's counters summed, for the current config's routes and clusters.
  api::ProxyStats Stats() const;

 private:
  ServerOptions options_;
  std::atomic<std::shared_ptr<const Config>> config_;
  // The config before config_, kept until the next Apply: the workers are done with it by
  // then, so it is freed here rather than by the worker that lets go of it last.
  std::shared_ptr<const Config> retired_;
  std::atomic<uint64_t> version_{0};
  std::mutex apply_mutex_;  // one Apply at a time (never taken on the request path)
  std::vector<std::unique_ptr<Worker>> workers_;
  bool started_ = false;

  // The listening sockets, and the thread that retries what could not be opened.
  void RetryListen();
  void PublishListen(std::unique_lock<std::mutex>& lock);
  mutable std::mutex listen_mutex_;
  std::condition_variable listen_changed_;
  ListenSockets listen_;
  std::atomic<std::shared_ptr<const ListenSet>> listen_set_;
  ListenReporter reporter_;
  bool stopping_ = false;  // guarded by listen_mutex_
  std::thread retry_thread_;
};

}  // namespace xgate::proxy

// One worker thread: its epoll loop, its socket of each of the server's listening groups
// (SO_REUSEPORT, opened and retried by the server), its connections and upstream pools. A worker
// picks up a new Config when woken, between events, so a request sees the config it started with
// from its first byte to its last.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <thread>
#include <unordered_map>

#include "absl/random/random.h"
#include "userspace-proxy/server/config.h"
#include "userspace-proxy/server/event_loop.h"
#include "userspace-proxy/server/limits.h"
#include "userspace-proxy/server/listen_sockets.h"
#include "userspace-proxy/server/retry_budget.h"
#include "userspace-proxy/server/stats.h"
#include "userspace-proxy/server/upstream.h"

namespace xgate::proxy {

struct ServerOptions {
  int workers = 1;
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive connection with no request
  std::chrono::milliseconds header_timeout{10000};  // a started head must complete within
  bool http2 = true;                                // offer h2 by ALPN on HTTPS ports
  ProxyLimits limits;
  UpstreamOptions upstream;
  ListenBackoff listen_backoff;  // retrying a port that cannot be bound
};

class Server;

// A downstream connection owned by a worker.
class Connection {
 public:
  virtual ~Connection() = default;
  // The proxy is stopping: finish what is in flight, take no further requests.
  virtual void Drain() {}
};

class Worker {
 public:
  Worker(Server& server, int index);
  ~Worker();

  void Start();
  void Stop();  // joins the thread
  // Thread-safe: tells the loop a new config is available.
  void Notify() { loop_.Wake(); }
  // Thread-safe: every connection drains (Connection::Drain), and those accepted later too.
  void Drain() {
    draining_ = true;
    loop_.Wake();
  }
  bool draining() const { return draining_; }
  // Any thread: the listen set this worker's loop has taken (its sockets in epoll).
  const ListenSet* synced_listen_set() const { return synced_set_; }
  uint64_t applied_generation() const { return applied_generation_; }
  // Written by the loop thread only; any thread may read it.
  const stats::WorkerStats& stats() const { return stats_; }

  // Loop-thread only:
  EventLoop& loop() { return loop_; }
  UpstreamPool& upstreams() { return upstreams_; }
  RetryBudget& retry_budget() { return retry_budget_; }
  stats::WorkerStats& stats() { return stats_; }
  const std::shared_ptr<const Config>& config() const { return config_; }
  const ServerOptions& options() const;
  absl::BitGen& rng() { return rng_; }
  int index() const { return index_; }
  // Takes ownership; `Close` destroys after the current round of events.
  template <typename T>
  T* Adopt(std::unique_ptr<T> connection) {
    T* raw = connection.get();
    connections_[raw] = std::move(connection);
    return raw;
  }
  void Close(Connection* connection);
  // Whether `connection` is open on this worker (not closed yet).
  bool Owns(Connection* connection) const { return connections_.count(connection) > 0; }

 private:
  void Run();
  void PickUpConfig();
  void SyncListeners();
  void Accept(int listen_fd);
  void OnAccepted(int fd);
  // Whether one more downstream connection stays within the connection limits.
  bool UnderConnectionLimits() const;

  Server& server_;
  int index_;
  EventLoop loop_;
  stats::WorkerStats stats_;
  UpstreamPool upstreams_;
  RetryBudget retry_budget_;
  std::shared_ptr<const Config> config_;
  std::atomic<uint64_t> applied_generation_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  bool drained_ = false;  // loop thread: Drain() passed to every connection
  std::shared_ptr<const ListenSet> listen_set_;
  std::atomic<const ListenSet*> synced_set_{nullptr};
  std::map<int, std::shared_ptr<ListenGroup>> listeners_;  // this worker's fd -> its group
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  absl::BitGen rng_;
  std::thread thread_;
};

}  // namespace xgate::proxy

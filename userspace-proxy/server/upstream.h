// Upstream side of one worker: connections to cluster endpoints, pooled with keep-alive,
// round-robin endpoint choice, and passive ejection of endpoints that keep failing
// (EndpointHealth).
// Everything here belongs to one worker's loop; nothing is shared between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "userspace-proxy/http/response_parser.h"
#include "userspace-proxy/server/buffer.h"
#include "userspace-proxy/server/config.h"
#include "userspace-proxy/server/endpoint_health.h"
#include "userspace-proxy/server/event_loop.h"
#include "userspace-proxy/server/stats.h"
#include "userspace-proxy/server/transport.h"

namespace xgate::proxy {

struct UpstreamOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds idle_timeout{60000};  // pooled connections closed after
  // TCP_USER_TIMEOUT: bytes sent and left unacknowledged this long abort the connection (a
  // peer gone silent); the request on it is failed over as a timeout. 0: the kernel's
  // retransmission limit (about 15 minutes).
  std::chrono::milliseconds user_timeout{10000};
  // TCP keepalive: a connection silent this long is probed every `keepalive_interval`; with
  // a user timeout, a dead one is aborted when the second probe is due. 0: off.
  std::chrono::milliseconds keepalive_idle{15000};
  std::chrono::milliseconds keepalive_interval{5000};
  // Above the requests one HTTP/2 client may have in flight (max_concurrent_streams): a cap
  // below that closes part of each burst's connections on release and opens them again for
  // the next burst. Idle ones still go after idle_timeout.
  size_t max_idle_per_endpoint = 1024;
  // Per worker here (the server's option, for all workers, is divided); beyond: 503, as
  // Envoy's circuit breaker. 0: none.
  size_t max_connections_per_cluster = 1024;
  // Bytes buffered per connection and direction before its producer is paused, so a slow
  // reader cannot make the proxy hold more.
  size_t buffer_limit = 1 << 20;
  // An HTTP/2 backend that takes none of a stream's waiting request body (its window held at
  // zero, or nothing read) this long: the stream is reset and the request answered 504. The
  // counterpart of the client side's H2Limits::stalled_window_timeout. 0: none.
  std::chrono::milliseconds h2_stall_timeout{60000};
  EjectionOptions ejection;
};

class UpstreamConnection;

// The user of an upstream connection (a request exchange, a mirror, a TLS splice).
class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  virtual void OnUpstreamConnected(UpstreamConnection& upstream) {}
  // Connect refused, unreachable or timed out. The connection is closed already.
  virtual void OnUpstreamConnectFailed(UpstreamConnection& upstream, bool timed_out) = 0;
  // New bytes in upstream.input(), or `eof` (peer closed or error; `error` set on reset).
  virtual void OnUpstreamReadable(UpstreamConnection& upstream, bool eof, bool error) = 0;
  // The output buffer drained below the backpressure mark.
  virtual void OnUpstreamDrained(UpstreamConnection& upstream) {}
};

class UpstreamPool;
class H2Pool;

class UpstreamConnection : private TlsSessionOwner {
 public:
  // `ssl` (owned, may be null): TLS to the endpoint, the handshake after the TCP connect.
  // `pool_key`: the idle pool's key (the endpoint, plus the TLS settings for TLS).
  UpstreamConnection(UpstreamPool& pool, std::string endpoint, int fd, stats::ClusterStats* stats,
                     SSL* ssl = nullptr, std::string pool_key = "");
  ~UpstreamConnection() override;

  const std::string& endpoint() const { return endpoint_; }  // "ip:port"
  bool connected() const { return connected_; }              // and, for TLS, the handshake done
  // The connect failed in the TLS handshake (certificate not trusted, name not matched).
  bool tls_failed() const { return tls_failed_; }
  bool reused() const { return reused_; }
  const SSL* ssl() const { return transport_.ssl(); }  // null for plain text
  Buffer& input() { return input_; }
  size_t pending_output() const { return output_.size(); }
  http::ResponseParser& parser() { return parser_; }
  // The counters of the cluster the connection serves now.
  stats::ClusterStats& cluster_stats() { return *stats_; }

  // Queues bytes and writes what the socket takes.
  void Send(std::string_view bytes);
  // Queues bytes for the next write (several pieces, one write: see SendQueued).
  void Queue(std::string_view bytes) { output_.Append(bytes); }
  // Writes what is queued, as much as the socket takes (once connected).
  void SendQueued();
  // Pause / resume reading (backpressure toward the upstream).
  void SetReadPaused(bool paused);
  // Takes the queued, never-written bytes (to retry them on another endpoint).
  std::string TakeUnsent() { return output_.Take(); }
  bool wrote_anything() const { return wrote_anything_; }
  // The kernel aborted the connection (ETIMEDOUT): sent bytes or keepalive probes went
  // unacknowledged past the user timeout. The peer is silent, not closing a keep-alive race.
  bool timed_out() const { return timed_out_; }
  // Half-closes toward the upstream once the queued bytes are written.
  void ShutdownWriteWhenFlushed();
  // Hands the connection to another user (an upgraded connection's tunnel), which is told of
  // bytes already received after this round.
  void SetClient(UpstreamClient* client);

 private:
  friend class UpstreamPool;
  enum class PoolState { kActive, kIdle, kClosed };
  void OnEvents(uint32_t events);
  void Flush();
  void ReadAvailable();
  // After an I/O error: notes (from errno) whether the kernel timed the connection out.
  void NoteIoError();
  // Moves the connection's place in its cluster's pool gauges.
  void SetPoolState(PoolState state);
  // Counts the connection under `stats` from now on (a pooled one reused by another cluster
  // that shares the endpoint).
  void MoveToCluster(stats::ClusterStats* stats);
  // The TCP connect and, for TLS, the handshake, step by step; true once both are done.
  bool FinishConnect(uint32_t events);
  void FailConnect(bool tls);
  void KeepSession(SSL_SESSION* session) override;

  UpstreamPool& pool_;
  stats::ClusterStats* stats_;
  PoolState pool_state_ = PoolState::kActive;
  std::string endpoint_;
  std::string pool_key_;
  // The pool's idle list for pool_key_, once the connection was released to it.
  std::vector<UpstreamConnection*>* idle_list_ = nullptr;
  Transport transport_;
  UpstreamClient* client_ = nullptr;
  bool tcp_connected_ = false;
  bool connected_ = false;
  bool tls_failed_ = false;
  bool reused_ = false;
  bool read_paused_ = false;
  bool wrote_anything_ = false;
  bool timed_out_ = false;
  bool closed_ = false;
  bool shutdown_after_flush_ = false;
  EventLoop::TimerId timer_ = 0;  // connect timeout, then the (lazy) idle timeout
  Clock::time_point idle_until_{};
  Buffer input_;
  Buffer output_;
  http::ResponseParser parser_;
};

class UpstreamPool {
 public:
  // `stats`: the worker's counters (pool gauges, connect errors, ejections per cluster).
  UpstreamPool(EventLoop& loop, UpstreamOptions options, stats::WorkerStats* stats);
  ~UpstreamPool();

  // A connection to an endpoint of `cluster` (round-robin, skipping those in `tried`, and
  // ejected ones unless no other is left, or always with `skip_ejected`): an idle pooled
  // one, or a new one still connecting. nullptr when no endpoint is left to try; `error`
  // says why. `preferred` (an index in `cluster`, a session's endpoint) is taken first when
  // it is neither tried nor ejected.
  UpstreamConnection* Acquire(std::string_view cluster_name, const ClusterEndpoints& cluster,
                              std::span<const std::string> tried, UpstreamClient* client,
                              bool allow_reuse, std::string* error, bool skip_ejected = false,
                              int preferred = -1);
  // The endpoint Acquire would choose (advancing the round-robin): its index in `cluster`, or
  // -1 with `error`.
  int PickEndpoint(std::string_view cluster_name, const ClusterEndpoints& cluster,
                   std::span<const std::string> tried, bool skip_ejected, std::string* error,
                   int preferred = -1);
  // A new connection (still connecting) to endpoint `index` of `cluster`; nullptr with
  // `error` past the cluster's connection limit or when the connect cannot start.
  UpstreamConnection* Connect(std::string_view cluster_name, const ClusterEndpoints& cluster,
                              size_t index, UpstreamClient* client, std::string* error);
  // Streams to HTTP/2 (h2c) clusters.
  H2Pool& h2() { return *h2_; }
  // Whether Acquire with these arguments would find an endpoint to try.
  bool HasCandidate(const ClusterEndpoints& cluster, std::span<const std::string> tried,
                    bool skip_ejected) const;
  // Gives a connection back: pooled when `reusable` (whole response read, keep-alive),
  // else closed.
  void Release(UpstreamConnection* connection, bool reusable);
  // Passive health: a 5xx or connect error counts against the endpoint, success resets.
  void Report(const UpstreamConnection& connection, bool failed);
  bool Ejected(const std::string& endpoint) const { return health_.Ejected(endpoint); }
  // After a config swap: forgets the health of endpoints no cluster has any more.
  // Drops the health records of endpoints `config` does not have (none kept: no cost).
  template <typename Config>
  void RetainHealth(const Config& config) {
    if (health_.tracked() > 0) health_.Retain(config.endpoint_keys());
  }

  EventLoop& loop() { return loop_; }
  const UpstreamOptions& options() const { return options_; }
  // Pause producers above this many buffered bytes (per connection and direction).
  size_t high_water() const { return options_.buffer_limit; }
  size_t idle_count() const;

 private:
  friend class UpstreamConnection;
  void Close(UpstreamConnection* connection);
  void ArmIdleTimer(UpstreamConnection* connection, Clock::duration after);
  void Report(const std::string& endpoint, stats::ClusterStats& cluster, bool failed);
  // The idle list for `pool_key` (null when none was made): the last one found is
  // remembered, so a run of requests to one endpoint hashes no key.
  std::vector<UpstreamConnection*>* FindIdle(const std::string& pool_key);
  // The last TLS session per pool key, offered for resumption by the next connection.
  void KeepSession(const std::string& pool_key, SSL_SESSION* session);

  EventLoop& loop_;
  UpstreamOptions options_;
  stats::WorkerStats* stats_;
  std::unordered_map<UpstreamConnection*, std::unique_ptr<UpstreamConnection>> all_;
  // By pool key; entries are never erased, so pointers to them stay valid.
  std::unordered_map<std::string, std::vector<UpstreamConnection*>> idle_;
  std::string_view last_idle_key_;  // a key of idle_
  std::vector<UpstreamConnection*>* last_idle_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)>>
      sessions_;  // by pool key
  EndpointHealth health_;
  // Round-robin position per cluster; found by string_view, no key built per request.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>()(name); }
  };
  std::unordered_map<std::string, uint64_t, NameHash, std::equal_to<>> next_;
  std::unique_ptr<H2Pool> h2_;  // last: its sessions release connections into this pool
};

}  // namespace xgate::proxy

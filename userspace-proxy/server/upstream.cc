#include "userspace-proxy/server/upstream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "spdlog/spdlog.h"
#include "userspace-proxy/server/h2_upstream.h"

namespace xgate::proxy {
namespace {

// Lets the kernel find a silent peer: TCP_USER_TIMEOUT for sent bytes never acknowledged,
// keepalive probes for a connection that waits (pooled, or for a slow answer). Best effort:
// a failure leaves the kernel's defaults.
void SetSilentPeerDetection(int fd, const UpstreamOptions& options) {
  auto set = [fd](int level, int name, int value) {
    setsockopt(fd, level, name, &value, sizeof(value));
  };
  if (options.user_timeout.count() > 0) {
    set(IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(options.user_timeout.count()));
  }
  if (options.keepalive_idle.count() > 0) {
    auto seconds = [](std::chrono::milliseconds ms) {
      return static_cast<int>(std::max<int64_t>(1, (ms.count() + 999) / 1000));
    };
    set(SOL_SOCKET, SO_KEEPALIVE, 1);
    set(IPPROTO_TCP, TCP_KEEPIDLE, seconds(options.keepalive_idle));
    set(IPPROTO_TCP, TCP_KEEPINTVL, seconds(options.keepalive_interval));
    set(IPPROTO_TCP, TCP_KEEPCNT, 3);  // used only without a user timeout
  }
}

}  // namespace

UpstreamConnection::UpstreamConnection(UpstreamPool& pool, std::string endpoint, int fd,
                                       stats::ClusterStats* stats, SSL* ssl, std::string pool_key)
    : pool_(pool),
      stats_(stats),
      endpoint_(std::move(endpoint)),
      pool_key_(pool_key.empty() ? endpoint_ : std::move(pool_key)),
      transport_(fd, ssl) {
  stats_->open.Add(1);
  stats_->active.Add(1);
}

UpstreamConnection::~UpstreamConnection() { SetPoolState(PoolState::kClosed); }

void UpstreamConnection::SetPoolState(PoolState state) {
  if (state == pool_state_) return;
  if (pool_state_ == PoolState::kActive) stats_->active.Add(-1);
  if (pool_state_ == PoolState::kIdle) stats_->idle.Add(-1);
  if (state == PoolState::kActive) stats_->active.Add(1);
  if (state == PoolState::kIdle) stats_->idle.Add(1);
  if (state == PoolState::kClosed) stats_->open.Add(-1);
  pool_state_ = state;
}

void UpstreamConnection::MoveToCluster(stats::ClusterStats* stats) {
  if (stats == stats_ || pool_state_ == PoolState::kClosed) return;
  PoolState state = pool_state_;
  SetPoolState(PoolState::kClosed);
  stats_ = stats;
  stats_->open.Add(1);
  if (state == PoolState::kActive) stats_->active.Add(1);
  if (state == PoolState::kIdle) stats_->idle.Add(1);
  pool_state_ = state;
}

void UpstreamConnection::Send(std::string_view bytes) {
  Queue(bytes);
  SendQueued();
}

void UpstreamConnection::SendQueued() {
  if (connected_) Flush();
}

void UpstreamConnection::SetReadPaused(bool paused) {
  if (read_paused_ == paused) return;
  read_paused_ = paused;
  if (!paused && connected_ && client_) ReadAvailable();
}

void UpstreamConnection::ShutdownWriteWhenFlushed() {
  shutdown_after_flush_ = true;
  if (connected_) Flush();
}

void UpstreamConnection::SetClient(UpstreamClient* client) {
  client_ = client;
  pool_.loop().Defer([this, client, &pool = pool_] {
    if (!pool.all_.count(this) || client_ != client) return;
    if (!input_.empty()) client_->OnUpstreamReadable(*this, false, false);
    if (pool.all_.count(this) && client_ == client && !read_paused_) ReadAvailable();
  });
}

void UpstreamConnection::Flush() {
  if (closed_) return;
  if (output_.empty()) {
    if (shutdown_after_flush_) shutdown(transport_.fd(), SHUT_WR);
    return;
  }
  size_t before = output_.size();
  Transport::Io io = transport_.Write(output_);
  if (output_.size() < before) wrote_anything_ = true;
  if (io == Transport::Io::kError) {
    NoteIoError();
    // The read side reports the reset (EPOLLERR/EPOLLHUP follow).
    return;
  }
  if (output_.empty() && shutdown_after_flush_) shutdown(transport_.fd(), SHUT_WR);
  if (before >= pool_.high_water() && output_.size() < pool_.high_water() && client_) {
    client_->OnUpstreamDrained(*this);
  }
}

void UpstreamConnection::ReadAvailable() {
  if (closed_ || !client_) return;
  Transport::Io io = transport_.Read(input_, 256 * 1024);
  // Stop at the read budget so one busy upstream cannot starve the loop; edge-triggered
  // epoll will not tell us again, so come back after this round.
  if (io == Transport::Io::kOk && transport_.drained()) {
    client_->OnUpstreamReadable(*this, false, false);
    return;
  }
  if (io == Transport::Io::kOk) {
    UpstreamClient* client = client_;
    pool_.loop().Defer([this, client, &pool = pool_] {
      if (pool.all_.count(this) && client_ == client && !read_paused_) ReadAvailable();
    });
    client_->OnUpstreamReadable(*this, false, false);
    return;
  }
  if (io == Transport::Io::kWouldBlock) return;
  if (io == Transport::Io::kError) NoteIoError();
  client_->OnUpstreamReadable(*this, true, io == Transport::Io::kError);
}

void UpstreamConnection::NoteIoError() {
  if (errno != ETIMEDOUT || timed_out_) return;
  timed_out_ = true;
  spdlog::warn("upstream {}: nothing acknowledged within {} ms, connection aborted", endpoint_,
               pool_.options().user_timeout.count());
}

void UpstreamConnection::KeepSession(SSL_SESSION* session) {
  pool_.KeepSession(pool_key_, session);
}

void UpstreamConnection::FailConnect(bool tls) {
  pool_.loop().CancelTimer(timer_);
  timer_ = 0;
  UpstreamClient* client = client_;
  tls_failed_ = tls;
  if (tls) {
    stats_->tls_errors.Add();
    // Never the certificate itself: OpenSSL's reason only.
    spdlog::warn("upstream {}: TLS handshake failed: {}", endpoint_,
                 UpstreamTls::FailureReason(transport_.ssl()));
    ERR_clear_error();
  } else {
    stats_->connect_errors.Add();
  }
  // As Envoy's outlier detection counts a TLS handshake failure: a connect failure.
  pool_.Report(*this, true);
  pool_.Close(this);
  if (client) client->OnUpstreamConnectFailed(*this, false);
}

bool UpstreamConnection::FinishConnect(uint32_t events) {
  if (!tcp_connected_) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return false;
    if (SocketError(transport_.fd()) != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      FailConnect(false);
      return false;
    }
    tcp_connected_ = true;
  }
  if (!transport_.handshake_done()) {
    Transport::Io io = transport_.Handshake();
    if (io == Transport::Io::kWouldBlock) return false;  // the connect timer still runs
    if (io != Transport::Io::kOk) {
      FailConnect(true);
      return false;
    }
  }
  pool_.loop().CancelTimer(timer_);
  timer_ = 0;
  return true;
}

void UpstreamConnection::OnEvents(uint32_t events) {
  if (closed_) return;
  transport_.NoteEvents(events);
  if (!connected_) {
    if (!FinishConnect(events)) return;
    connected_ = true;
    if (client_) client_->OnUpstreamConnected(*this);
    Flush();
    if (!read_paused_) ReadAvailable();
    return;
  }
  if (!client_) {
    // Idle in the pool: any readability means the upstream closed it (or misbehaves), but
    // for TLS records with no data (a TLS 1.3 session ticket).
    if (transport_.ssl() && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
      Buffer none;
      if (transport_.Read(none, 1) == Transport::Io::kWouldBlock) return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) pool_.Close(this);
    return;
  }
  if (events & EPOLLOUT) Flush();
  if (client_ && !read_paused_ && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
    ReadAvailable();
  }
}

UpstreamPool::UpstreamPool(EventLoop& loop, UpstreamOptions options, stats::WorkerStats* stats)
    : loop_(loop),
      options_(options),
      stats_(stats),
      health_(options.ejection),
      h2_(std::make_unique<H2Pool>(*this)) {}

UpstreamPool::~UpstreamPool() {
  h2_.reset();  // its sessions hand their connections back first
  for (auto& [raw, connection] : all_) {
    loop_.CancelTimer(connection->timer_);
    loop_.Remove(connection->transport_.fd());
  }
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [endpoint, list] : idle_) n += list.size();
  return n;
}

void UpstreamPool::KeepSession(const std::string& pool_key, SSL_SESSION* session) {
  auto it = sessions_.find(pool_key);
  if (it == sessions_.end()) {
    sessions_.emplace(pool_key, std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)>(
                                    session, &SSL_SESSION_free));
  } else {
    it->second.reset(session);
  }
}

void UpstreamPool::Report(const UpstreamConnection& connection, bool failed) {
  Report(connection.endpoint_, *connection.stats_, failed);
}

void UpstreamPool::Report(const std::string& endpoint, stats::ClusterStats& cluster, bool failed) {
  if (!failed) {
    health_.Succeeded(endpoint);
    return;
  }
  std::chrono::milliseconds backoff = health_.Failed(endpoint);
  if (backoff.count() == 0) return;
  cluster.ejections.Add();
  spdlog::warn("upstream {} ejected for {} ms after failing", endpoint, backoff.count());
}

bool UpstreamPool::HasCandidate(const ClusterEndpoints& cluster, std::span<const std::string> tried,
                                bool skip_ejected) const {
  for (const std::string& key : cluster.keys) {
    if (std::find(tried.begin(), tried.end(), key) != tried.end()) continue;
    if (!skip_ejected || !Ejected(key)) return true;
  }
  return false;
}

int UpstreamPool::PickEndpoint(std::string_view cluster_name, const ClusterEndpoints& cluster,
                               std::span<const std::string> tried, bool skip_ejected,
                               std::string* error, int preferred) {
  const auto& endpoints = cluster.endpoints;
  if (endpoints.empty()) {
    *error = "no endpoints";
    return -1;
  }
  if (preferred >= 0 && static_cast<size_t>(preferred) < endpoints.size()) {
    const std::string& key = cluster.keys[preferred];
    if (std::find(tried.begin(), tried.end(), key) == tried.end() && !Ejected(key)) {
      return preferred;
    }
  }
  auto position = next_.find(cluster_name);
  if (position == next_.end()) position = next_.emplace(cluster_name, 0).first;
  uint64_t& next = position->second;
  // Healthy endpoints first; when all are ejected, any untried one (better than failing).
  for (int pass = 0; pass < (skip_ejected ? 1 : 2); ++pass) {
    for (size_t i = 0; i < endpoints.size(); ++i) {
      size_t index = (next + i) % endpoints.size();
      const std::string& key = cluster.keys[index];
      if (std::find(tried.begin(), tried.end(), key) != tried.end()) continue;
      if (pass == 0 && Ejected(key)) continue;
      next = next + i + 1;
      return static_cast<int>(index);
    }
  }
  *error = "no endpoint left to try";
  return -1;
}

UpstreamConnection* UpstreamPool::Acquire(std::string_view cluster_name,
                                          const ClusterEndpoints& cluster,
                                          std::span<const std::string> tried,
                                          UpstreamClient* client, bool allow_reuse,
                                          std::string* error, bool skip_ejected, int preferred) {
  int index = PickEndpoint(cluster_name, cluster, tried, skip_ejected, error, preferred);
  if (index < 0) return nullptr;
  stats::ClusterStats& cluster_stats = stats_->Cluster(cluster_name);
  if (allow_reuse) {
    std::vector<UpstreamConnection*>* idle = FindIdle(cluster.PoolKey(index));
    if (idle != nullptr && !idle->empty()) {
      UpstreamConnection* connection = idle->back();
      idle->pop_back();
      // Its idle timer stays armed: when it fires on a busy connection it just lapses.
      connection->client_ = client;
      connection->reused_ = true;
      connection->wrote_anything_ = false;
      connection->read_paused_ = false;
      connection->parser_.Reset();
      connection->input_.Clear();
      connection->MoveToCluster(&cluster_stats);
      connection->SetPoolState(UpstreamConnection::PoolState::kActive);
      cluster_stats.reuses.Add();
      return connection;
    }
  }
  return Connect(cluster_name, cluster, static_cast<size_t>(index), client, error);
}

std::vector<UpstreamConnection*>* UpstreamPool::FindIdle(const std::string& pool_key) {
  if (last_idle_ != nullptr && last_idle_key_ == pool_key) return last_idle_;
  auto idle = idle_.find(pool_key);
  if (idle == idle_.end()) return nullptr;
  last_idle_key_ = idle->first;
  last_idle_ = &idle->second;
  return last_idle_;
}

UpstreamConnection* UpstreamPool::Connect(std::string_view cluster_name,
                                          const ClusterEndpoints& cluster, size_t index,
                                          UpstreamClient* client, std::string* error) {
  stats::ClusterStats& cluster_stats = stats_->Cluster(cluster_name);
  const SocketAddress* chosen = &cluster.endpoints[index];
  const std::string* chosen_key = &cluster.keys[index];
  if (options_.max_connections_per_cluster > 0 &&
      cluster_stats.open.Get() >= static_cast<int64_t>(options_.max_connections_per_cluster)) {
    *error = "upstream connection limit reached";
    return nullptr;
  }
  cluster_stats.connects.Add();
  auto fd = StartConnect(*chosen);
  if (!fd.ok()) {
    cluster_stats.connect_errors.Add();
    Report(*chosen_key, cluster_stats, true);
    *error = std::string(fd.status().message());
    return nullptr;
  }
  SetSilentPeerDetection(*fd, options_);
  SSL* ssl = nullptr;
  if (cluster.tls) {
    auto session = sessions_.find(cluster.PoolKey(index));
    // The owner (the connection) is set right below, before any handshake step.
    ssl = cluster.tls->NewSsl(*fd, session == sessions_.end() ? nullptr : session->second.get(),
                              nullptr, cluster.h2c);
    if (ssl == nullptr) {
      close(*fd);
      *error = "upstream TLS setup failed";
      return nullptr;
    }
  }
  auto owned = std::make_unique<UpstreamConnection>(*this, *chosen_key, *fd, &cluster_stats, ssl,
                                                    cluster.PoolKey(index));
  UpstreamConnection* connection = owned.get();
  if (ssl) SSL_set_app_data(ssl, static_cast<TlsSessionOwner*>(connection));
  connection->client_ = client;
  all_[connection] = std::move(owned);
  loop_.Add(*fd, [connection](uint32_t events) { connection->OnEvents(events); });
  connection->timer_ = loop_.AddTimer(options_.connect_timeout, [this, connection] {
    connection->timer_ = 0;
    UpstreamClient* owner = connection->client_;
    connection->stats_->connect_errors.Add();
    Report(*connection, true);
    Close(connection);
    if (owner) owner->OnUpstreamConnectFailed(*connection, true);
  });
  return connection;
}

void UpstreamPool::Release(UpstreamConnection* connection, bool reusable) {
  connection->client_ = nullptr;
  if (connection->idle_list_ == nullptr) connection->idle_list_ = &idle_[connection->pool_key_];
  auto& list = *connection->idle_list_;
  if (!reusable || !connection->connected_ || !connection->input_.empty() ||
      !connection->output_.empty() || list.size() >= options_.max_idle_per_endpoint) {
    Close(connection);
    return;
  }
  list.push_back(connection);
  connection->SetPoolState(UpstreamConnection::PoolState::kIdle);
  connection->idle_until_ = loop_.Now() + options_.idle_timeout;
  if (connection->timer_ == 0) ArmIdleTimer(connection, options_.idle_timeout);
}

// Lazy, as the downstream's: a connection pooled again before its timer fires keeps the
// timer, which on firing waits again until the latest idle_until_.
void UpstreamPool::ArmIdleTimer(UpstreamConnection* connection, Clock::duration after) {
  connection->timer_ = loop_.AddTimer(after, [this, connection] {
    connection->timer_ = 0;
    if (connection->pool_state_ != UpstreamConnection::PoolState::kIdle) return;
    Clock::time_point now = Clock::now();
    if (now < connection->idle_until_) {
      ArmIdleTimer(connection, connection->idle_until_ - now);
      return;
    }
    Close(connection);
  });
}

void UpstreamPool::Close(UpstreamConnection* connection) {
  if (connection->closed_) return;
  connection->closed_ = true;
  connection->SetPoolState(UpstreamConnection::PoolState::kClosed);
  connection->client_ = nullptr;
  loop_.CancelTimer(connection->timer_);
  connection->timer_ = 0;
  if (connection->idle_list_ != nullptr) {
    auto& list = *connection->idle_list_;
    list.erase(std::remove(list.begin(), list.end(), connection), list.end());
  }
  loop_.Remove(connection->transport_.fd());
  auto it = all_.find(connection);
  if (it == all_.end()) return;
  // Destroy after this round: the caller may still be inside the connection's methods.
  loop_.Defer([owned = std::shared_ptr<UpstreamConnection>(std::move(it->second))] {});
  all_.erase(it);
}

}  // namespace xgate::proxy

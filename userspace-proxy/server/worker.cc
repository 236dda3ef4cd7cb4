#include "userspace-proxy/server/worker.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <unordered_set>
#include <vector>

#include "spdlog/spdlog.h"
#include "userspace-proxy/server/http1_connection.h"
#include "userspace-proxy/server/passthrough_connection.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy {

namespace {

// The server's upstream options with the all-worker connection limit divided between workers.
UpstreamOptions WorkerUpstreamOptions(const ServerOptions& options) {
  UpstreamOptions upstream = options.upstream;
  size_t workers = static_cast<size_t>(std::max(1, options.workers));
  upstream.max_connections_per_cluster =
      (upstream.max_connections_per_cluster + workers - 1) / workers;
  return upstream;
}

}  // namespace

Worker::Worker(Server& server, int index)
    : server_(server),
      index_(index),
      upstreams_(loop_, WorkerUpstreamOptions(server.options()), &stats_),
      retry_budget_(server.options().limits.retry_budget) {
  loop_.SetWakeHandler([this] { PickUpConfig(); });
}

Worker::~Worker() {
  Stop();
  connections_.clear();
  for (auto& [fd, group] : listeners_) loop_.Remove(fd);
}

const ServerOptions& Worker::options() const { return server_.options(); }

void Worker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Worker::Stop() {
  stopping_ = true;
  loop_.Wake();
  if (thread_.joinable()) thread_.join();
}

void Worker::Run() {
  PickUpConfig();
  while (!stopping_) loop_.RunOnce(std::chrono::milliseconds(1000));
  // Close connections on this thread: their destructors touch the loop.
  connections_.clear();
  loop_.RunOnce(std::chrono::milliseconds(0));
}

void Worker::PickUpConfig() {
  std::shared_ptr<const Config> latest = server_.config();
  bool fresh = latest && latest != config_;
  if (fresh) {
    config_ = std::move(latest);
    upstreams_.RetainHealth(*config_);
  }
  SyncListeners();
  if (fresh) applied_generation_ = config_->generation();
  if (draining_ && !drained_) {
    drained_ = true;
    std::vector<Connection*> open;
    for (const auto& [raw, owned] : connections_) open.push_back(raw);
    for (Connection* connection : open) {
      if (Owns(connection)) connection->Drain();  // a Drain may close another (h2 handover)
    }
  }
}

// Takes this worker's socket of each group in the server's current set; the groups are
// opened (and retried) by the server.
void Worker::SyncListeners() {
  std::shared_ptr<const ListenSet> set = server_.listen_set();
  if (!config_) synced_set_ = set.get();  // no config yet: no socket in epoll either
  if (!config_ || set == listen_set_) return;
  listen_set_ = set;
  std::map<int, std::shared_ptr<ListenGroup>> wanted;
  for (const auto& group : set->groups) {
    if (static_cast<size_t>(index_) < group->fds.size()) wanted[group->fds[index_]] = group;
  }
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    loop_.Remove(it->first);
    it = listeners_.erase(it);
  }
  for (auto& [fd, group] : wanted) {
    if (listeners_.contains(fd)) continue;
    listeners_[fd] = group;
    int listen_fd = fd;
    loop_.Add(
        listen_fd, [this, listen_fd](uint32_t) { Accept(listen_fd); }, EPOLLIN);
  }
  synced_set_ = set.get();
}

void Worker::Accept(int listen_fd) {
  for (;;) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN) spdlog::warn("accept: {}", strerror(errno));
      return;
    }
    OnAccepted(fd);
  }
}

bool Worker::UnderConnectionLimits() const {
  const ServerOptions& options = server_.options();
  const ProxyLimits& limits = options.limits;
  size_t per_worker = limits.max_connections_per_worker;
  if (per_worker == 0) {
    size_t workers = static_cast<size_t>(std::max(1, options.workers));
    per_worker = (limits.max_connections + workers - 1) / workers;
  }
  if (stats_.DownstreamOpen() >= static_cast<int64_t>(per_worker)) return false;
  return server_.OpenConnections() < static_cast<int64_t>(limits.max_connections);
}

void Worker::OnAccepted(int fd) {
  if (!UnderConnectionLimits()) {
    // Closed at once, as Envoy's overflow: the client sees a reset or EOF, never a hang.
    stats_.DownstreamOverflow();
    close(fd);
    return;
  }
  SetNoDelay(fd);
  SocketAddress local = LocalAddress(fd);
  SocketAddress peer = PeerAddress(fd);
  const routing::CompiledPort* port = config_->table().FindPort(local.Ip(), local.Port());
  if (port == nullptr) {
    spdlog::debug("no Gateway port for {}: closing connection from {}", local.ToString(),
                  peer.ToString());
    close(fd);
    return;
  }
  switch (port->port->protocol()) {
    case api::Port::HTTP: {
      auto transport = std::make_unique<Transport>(fd);
      transport->CountOpenIn(&stats_.DownstreamOpened(stats::DownstreamProtocol::kHttp));
      Adopt(std::make_unique<Http1Connection>(*this, std::move(transport), local, peer, config_))
          ->Start();
      return;
    }
    case api::Port::HTTPS: {
      const PortTls* tls = config_->tls(*port);
      SSL* ssl = tls ? SSL_new(tls->front()) : nullptr;
      if (ssl == nullptr) {
        close(fd);
        return;
      }
      SSL_set_fd(ssl, fd);
      SSL_set_accept_state(ssl);
      auto transport = std::make_unique<Transport>(fd, ssl);
      transport->CountOpenIn(&stats_.DownstreamOpened(stats::DownstreamProtocol::kHttps));
      Adopt(std::make_unique<Http1Connection>(*this, std::move(transport), local, peer, config_))
          ->Start();
      return;
    }
    case api::Port::TLS_PASSTHROUGH:
      Adopt(std::make_unique<PassthroughConnection>(
                *this, fd, local, peer, config_,
                &stats_.DownstreamOpened(stats::DownstreamProtocol::kTlsPassthrough)))
          ->Start();
      return;
    default:
      close(fd);
  }
}

void Worker::Close(Connection* connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  loop_.Defer([owned = std::shared_ptr<Connection>(std::move(it->second))] {});
  connections_.erase(it);
}

}  // namespace xgate::proxy

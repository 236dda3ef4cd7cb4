#include "userspace-proxy/server/worker.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "spdlog/spdlog.h"
#include "userspace-proxy/server/http1_connection.h"
#include "userspace-proxy/server/passthrough_connection.h"
#include "userspace-proxy/server/server.h"

namespace xgate::proxy {

Worker::Worker(Server& server, int index)
    : server_(server), index_(index), upstreams_(loop_, server.options().upstream, &stats_) {
  loop_.SetWakeHandler([this] { PickUpConfig(); });
}

Worker::~Worker() {
  Stop();
  connections_.clear();
  for (auto& [port, fd] : listeners_) {
    loop_.Remove(fd);
    close(fd);
  }
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
  if (!latest || latest == config_) return;
  config_ = std::move(latest);
  SyncListeners();
  applied_generation_ = config_->generation();
}

void Worker::SyncListeners() {
  const std::set<uint16_t>& wanted = config_->listen_ports();
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    loop_.Remove(it->second);
    close(it->second);
    it = listeners_.erase(it);
  }
  bool failed = false;
  for (uint16_t port : wanted) {
    if (listeners_.count(port)) continue;
    auto fd = OpenListener(port);
    if (!fd.ok()) {
      // Log once per port and config; retry quietly until it binds (another process may
      // still hold the port without SO_REUSEPORT).
      if (!bind_retry_timer_) spdlog::error("worker {}: {}", index_, fd.status().ToString());
      failed = true;
      continue;
    }
    listeners_[port] = *fd;
    int listen_fd = *fd;
    loop_.Add(
        listen_fd, [this, listen_fd](uint32_t) { Accept(listen_fd); }, EPOLLIN);
  }
  loop_.CancelTimer(bind_retry_timer_);
  bind_retry_timer_ = 0;
  if (failed) {
    bind_retry_timer_ = loop_.AddTimer(std::chrono::seconds(1), [this] { SyncListeners(); });
  }
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

void Worker::OnAccepted(int fd) {
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

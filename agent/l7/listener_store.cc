#include "agent/l7/listener_store.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "api/fd_passing.h"
#include "spdlog/spdlog.h"

namespace xgate::l7 {

absl::StatusOr<std::unique_ptr<ListenerStore>> ListenerStore::Start(const std::string& path,
                                                                    OnPut on_put) {
  std::unique_ptr<ListenerStore> store(new ListenerStore());
  store->path_ = path;
  store->on_put_ = std::move(on_put);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(path + ": path too long for a unix socket");
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  std::error_code ec;
  std::filesystem::remove(path, ec);  // a previous agent's
  store->listen_fd_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  mode_t old_mask = umask(077);
  int rc = bind(store->listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  umask(old_mask);
  if (rc != 0 || listen(store->listen_fd_, 16) != 0) {
    return absl::UnavailableError(path + ": " + std::strerror(errno));
  }
  store->stop_fd_ = eventfd(0, EFD_CLOEXEC);
  store->thread_ = std::thread([raw = store.get()] { raw->Run(); });
  return store;
}

ListenerStore::~ListenerStore() {
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  std::lock_guard lock(mutex_);
  ClearLocked();
}

void ListenerStore::Refuse() {
  std::lock_guard lock(mutex_);
  refusing_ = true;
}

int ListenerStore::held_groups() const {
  std::lock_guard lock(mutex_);
  return held_.groups_size();
}

void ListenerStore::ClearLocked() {
  for (int fd : held_fds_) close(fd);
  held_fds_.clear();
  held_.Clear();
}

void ListenerStore::Run() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("listener store: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    int connection = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    timeval timeout{1, 0};  // a stuck peer does not stall the next restart
    setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    Serve(connection);
    close(connection);
  }
}

void ListenerStore::Serve(int connection) {
  ucred peer{};
  socklen_t length = sizeof(peer);
  getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &peer, &length);
  auto message = fdpass::Receive(connection);
  if (!message.ok() || message->bytes.empty()) {
    if (message.ok()) {
      for (int fd : message->fds) close(fd);
    }
    spdlog::warn("listener store: bad request from pid {}: {}", peer.pid,
                 message.ok() ? "empty" : message.status().ToString());
    return;
  }
  if (message->bytes[0] == fdpass::kTake) {
    std::vector<int> fds;
    std::string bytes(1, fdpass::kAck);
    {
      std::lock_guard lock(mutex_);
      bytes += held_.SerializeAsString();
      fds = held_fds_;
    }
    auto sent = fdpass::Send(connection, bytes, fds);
    std::lock_guard lock(mutex_);
    if (!sent.ok()) {
      spdlog::warn("listener store: handing listeners to pid {}: {}", peer.pid, sent.ToString());
      return;  // kept for the next taker
    }
    if (!held_fds_.empty()) {
      spdlog::info("listener store: {} listening groups handed to pid {}", held_.groups_size(),
                   peer.pid);
    }
    ClearLocked();
    return;
  }
  api::ListenHandoff handoff;
  size_t wanted = 0;
  bool parsed = message->bytes[0] == fdpass::kPut &&
                handoff.ParseFromArray(message->bytes.data() + 1,
                                       static_cast<int>(message->bytes.size() - 1));
  for (const auto& group : handoff.groups()) wanted += group.fds();
  std::unique_lock lock(mutex_);
  if (!parsed || wanted != message->fds.size() || refusing_) {
    lock.unlock();
    for (int fd : message->fds) close(fd);
    spdlog::warn("listener store: put from pid {} refused ({})", peer.pid,
                 parsed && wanted == message->fds.size() ? "the agent is stopping" : "malformed");
    return;
  }
  ClearLocked();  // an earlier put nobody took: its proxy is gone, and so is its config
  int groups = handoff.groups_size();
  held_ = std::move(handoff);
  held_fds_ = std::move(message->fds);
  lock.unlock();
  if (!fdpass::Send(connection, std::string(1, fdpass::kAck), {}).ok()) return;
  spdlog::info("listener store: pid {} put {} listening groups; starting its successor", peer.pid,
               groups);
  if (on_put_) on_put_(peer.pid);
}

}  // namespace xgate::l7

// Socket helpers: addresses, listening sockets, non-blocking connects.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace xgate::proxy {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  // The IP literal; IPv4-mapped IPv6 addresses are shown as IPv4.
  std::string Ip() const;
  uint16_t Port() const;
  // "1.2.3.4:80" or "[::1]:80".
  std::string ToString() const;
};

absl::StatusOr<SocketAddress> MakeAddress(const std::string& ip, uint16_t port);
SocketAddress LocalAddress(int fd);
SocketAddress PeerAddress(int fd);

// A non-blocking SO_REUSEPORT listening socket on `ip` ("" is the wildcard: dual-stack [::],
// or 0.0.0.0 where IPv6 is off) and `port`, with IP_FREEBIND, and IP_TRANSPARENT when
// permitted (CAP_NET_ADMIN), so it may answer from an address the node does not have.
absl::StatusOr<int> OpenListener(const std::string& ip, uint16_t port);

// Starts a non-blocking TCP connect; the result arrives as EPOLLOUT (check SocketError).
absl::StatusOr<int> StartConnect(const SocketAddress& address);
int SocketError(int fd);

void SetNoDelay(int fd);

}  // namespace xgate::proxy

#include "userspace-proxy/server/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xgate::proxy {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(what + ": " + strerror(errno));
}

}  // namespace

std::string SocketAddress::Ip() const {
  char text[INET6_ADDRSTRLEN] = "";
  if (storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text,
              sizeof(text));
  } else if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, sizeof(text));
    } else {
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    }
  }
  return text;
}

uint16_t SocketAddress::Port() const {
  if (storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::ToString() const {
  std::string ip = Ip();
  if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
  return ip + ":" + std::to_string(Port());
}

absl::StatusOr<SocketAddress> MakeAddress(const std::string& ip, uint16_t port) {
  SocketAddress address;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  if (inet_pton(AF_INET, ip.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    address.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    address.length = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError("not an IP address: \"" + ip + "\"");
  }
  return address;
}

SocketAddress LocalAddress(int fd) {
  SocketAddress address;
  address.length = sizeof(address.storage);
  getsockname(fd, address.get(), &address.length);
  return address;
}

SocketAddress PeerAddress(int fd) {
  SocketAddress address;
  address.length = sizeof(address.storage);
  getpeername(fd, address.get(), &address.length);
  return address;
}

absl::StatusOr<int> OpenListener(const std::string& ip, uint16_t port) {
  SocketAddress address;
  if (!ip.empty()) {
    auto parsed = MakeAddress(ip, port);
    if (!parsed.ok()) return parsed.status();
    address = *parsed;
  }
  int one = 1, zero = 0;
  int family = ip.empty() ? AF_INET6 : address.storage.ss_family;
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && ip.empty()) {  // the wildcard where IPv6 is off
    family = AF_INET;
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  if (fd < 0) return Errno("socket");
  if (ip.empty()) {
    address.storage.ss_family = static_cast<sa_family_t>(family);
    if (family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
      in6->sin6_addr = in6addr_any;
      in6->sin6_port = htons(port);
      address.length = sizeof(sockaddr_in6);
    } else {
      auto* in4 = reinterpret_cast<sockaddr_in*>(&address.storage);
      in4->sin_addr.s_addr = htonl(INADDR_ANY);
      in4->sin_port = htons(port);
      address.length = sizeof(sockaddr_in);
    }
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    auto status = Errno("SO_REUSEPORT");
    close(fd);
    return status;
  }
  if (family == AF_INET6) {
    // The wildcard takes IPv4 too; a named IPv6 address only itself.
    int v6only = ip.empty() ? zero : one;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
    setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one));  // needs CAP_NET_ADMIN
  }
  setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
  setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one));  // needs CAP_NET_ADMIN
  if (bind(fd, address.get(), address.length) != 0) {
    auto status = Errno("bind " + (ip.empty() ? "*:" + std::to_string(port) : address.ToString()));
    close(fd);
    return status;
  }
  if (listen(fd, 1024) != 0) {
    auto status = Errno("listen " + LocalAddress(fd).ToString());
    close(fd);
    return status;
  }
  return fd;
}

absl::StatusOr<int> StartConnect(const SocketAddress& address) {
  int fd = socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  SetNoDelay(fd);
  if (connect(fd, address.get(), address.length) != 0 && errno != EINPROGRESS) {
    auto status = Errno("connect " + address.ToString());
    close(fd);
    return status;
  }
  return fd;
}

int SocketError(int fd) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace xgate::proxy

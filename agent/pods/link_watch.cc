#include "agent/pods/link_watch.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace xgate::pods {
namespace {

// IFLA_IFNAME of an RTM_DELLINK message, "" when it has none.
std::string LinkName(const nlmsghdr* h) {
  const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
  int len = static_cast<int>(IFLA_PAYLOAD(h));
  for (const rtattr* a = IFLA_RTA(info); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type != IFLA_IFNAME) continue;
    const char* name = static_cast<const char*>(RTA_DATA(a));
    return std::string(name, strnlen(name, RTA_PAYLOAD(a)));
  }
  return "";
}

}  // namespace

absl::StatusOr<LinkWatch> LinkWatch::Open() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) return absl::ErrnoToStatus(errno, "rtnetlink socket");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_LINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, "rtnetlink bind to the link group");
  }
  return LinkWatch(fd);
}

LinkWatch::~LinkWatch() {
  if (fd_ >= 0) close(fd_);
}

LinkWatch::Events LinkWatch::Drain() {
  Events events;
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        events.overflowed = true;
        continue;
      }
      if (errno != EAGAIN) spdlog::warn("rtnetlink: {}", std::strerror(errno));
      return events;
    }
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != RTM_DELLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) continue;
      events.deleted.push_back(LinkName(h));
    }
  }
}

}  // namespace xgate::pods

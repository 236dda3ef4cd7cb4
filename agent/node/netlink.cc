#include "agent/node/netlink.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace xgate::node {
namespace {

// A request buffer with rtattr helpers.
class Request {
 public:
  Request(uint16_t type, uint16_t flags) {
    hdr()->nlmsg_len = NLMSG_LENGTH(0);
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    hdr()->nlmsg_seq = 1;
  }
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf_); }
  template <typename T>
  T* Body() {
    auto* body = reinterpret_cast<T*>(buf_ + hdr()->nlmsg_len);
    hdr()->nlmsg_len = NLMSG_ALIGN(hdr()->nlmsg_len) + NLMSG_ALIGN(sizeof(T));
    return body;
  }
  rtattr* Attr(uint16_t type, const void* data, size_t len) {
    auto* attr = reinterpret_cast<rtattr*>(buf_ + NLMSG_ALIGN(hdr()->nlmsg_len));
    attr->rta_type = type;
    attr->rta_len = RTA_LENGTH(len);
    if (len) memcpy(RTA_DATA(attr), data, len);
    hdr()->nlmsg_len = NLMSG_ALIGN(hdr()->nlmsg_len) + RTA_ALIGN(attr->rta_len);
    return attr;
  }
  void End(rtattr* nest) {
    nest->rta_len = static_cast<uint16_t>(buf_ + hdr()->nlmsg_len - reinterpret_cast<char*>(nest));
  }

 private:
  alignas(nlmsghdr) char buf_[1024] = {};
};

// Sends one request and waits for its acknowledgement; returns the kernel's errno as a Status.
absl::Status Transact(Request& req, const std::string& what, int* kernel_errno = nullptr) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return absl::InternalError(absl::StrCat(what, ": netlink socket: ", strerror(errno)));
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  absl::Status status = absl::OkStatus();
  if (sendto(fd, req.hdr(), req.hdr()->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof(kernel)) < 0) {
    status = absl::InternalError(absl::StrCat(what, ": netlink send: ", strerror(errno)));
  } else {
    alignas(nlmsghdr) char reply[4096];
    ssize_t n = recv(fd, reply, sizeof(reply), 0);
    auto* msg = reinterpret_cast<nlmsghdr*>(reply);
    if (n < 0) {
      status = absl::InternalError(absl::StrCat(what, ": netlink recv: ", strerror(errno)));
    } else if (NLMSG_OK(msg, static_cast<unsigned>(n)) && msg->nlmsg_type == NLMSG_ERROR) {
      int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(msg))->error;
      if (kernel_errno) *kernel_errno = err;
      if (err != 0) status = absl::ErrnoToStatus(err, what);
    }
  }
  close(fd);
  return status;
}

struct Parsed {
  int family = AF_INET;
  unsigned char bytes[16] = {};
  size_t len = 4;
};

absl::StatusOr<Parsed> ParseAddress(const std::string& address) {
  Parsed p;
  if (inet_pton(AF_INET, address.c_str(), p.bytes) == 1) return p;
  if (inet_pton(AF_INET6, address.c_str(), p.bytes) == 1) {
    p.family = AF_INET6;
    p.len = 16;
    return p;
  }
  return absl::InvalidArgumentError(absl::StrCat("not an IP address: '", address, "'"));
}

absl::Status ChangeAddress(uint16_t type, uint16_t flags, int ifindex, const std::string& address,
                           int* kernel_errno = nullptr) {
  auto parsed = ParseAddress(address);
  if (!parsed.ok()) return parsed.status();
  Request req(type, flags);
  auto* ifa = req.Body<ifaddrmsg>();
  ifa->ifa_family = static_cast<uint8_t>(parsed->family);
  ifa->ifa_prefixlen = static_cast<uint8_t>(parsed->len * 8);
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  req.Attr(IFA_LOCAL, parsed->bytes, parsed->len);
  req.Attr(IFA_ADDRESS, parsed->bytes, parsed->len);
  if (parsed->family == AF_INET6) {
    uint32_t nodad = IFA_F_NODAD;  // usable at once, no duplicate address detection wait
    req.Attr(IFA_FLAGS, &nodad, sizeof(nodad));
  }
  return Transact(req, absl::StrCat(type == RTM_NEWADDR ? "add " : "delete ", address),
                  kernel_errno);
}

}  // namespace

absl::StatusOr<int> EnsureLinkUp(const std::string& ifname) {
  int index = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (index == 0) return absl::NotFoundError("no interface " + ifname);
  Request up(RTM_NEWLINK, 0);
  auto* ifi = up.Body<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  if (auto s = Transact(up, "bring up " + ifname); !s.ok()) return s;
  return index;
}

absl::Status AddHostAddress(int ifindex, const std::string& address) {
  absl::Status s = ChangeAddress(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, address);
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

absl::Status DeleteHostAddress(int ifindex, const std::string& address) {
  int err = 0;
  absl::Status s = ChangeAddress(RTM_DELADDR, 0, ifindex, address, &err);
  return err == EADDRNOTAVAIL ? absl::OkStatus() : s;  // already gone is what we wanted
}

}  // namespace xgate::node

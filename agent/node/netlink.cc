#include "agent/node/netlink.h"

#include <linux/fib_rules.h>
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

// "lookup `table` for packets with `mark`": RTM_NEWRULE or RTM_DELRULE.
absl::Status ChangeRule(uint16_t type, const LocalDelivery& r, int* kernel_errno) {
  Request req(type, type == RTM_NEWRULE ? NLM_F_CREATE | NLM_F_EXCL : 0);
  auto* frh = req.Body<fib_rule_hdr>();
  frh->family = static_cast<uint8_t>(r.family);
  frh->action = FR_ACT_TO_TBL;
  frh->table = RT_TABLE_UNSPEC;  // the table is the FRA_TABLE attribute (it may be > 255)
  uint32_t mask = 0xffffffff;
  req.Attr(FRA_PRIORITY, &r.pref, sizeof(r.pref));
  req.Attr(FRA_FWMARK, &r.mark, sizeof(r.mark));
  req.Attr(FRA_FWMASK, &mask, sizeof(mask));
  req.Attr(FRA_TABLE, &r.table, sizeof(r.table));
  return Transact(req,
                  absl::StrCat(type == RTM_NEWRULE ? "add" : "delete", " rule fwmark 0x",
                               absl::Hex(r.mark), " lookup ", r.table),
                  kernel_errno);
}

// "local 0.0.0.0/0 dev lo table `table`" (or ::/0): RTM_NEWROUTE or RTM_DELROUTE.
absl::Status ChangeLocalRoute(uint16_t type, const LocalDelivery& r, int lo_index,
                              int* kernel_errno) {
  Request req(type, type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  auto* rtm = req.Body<rtmsg>();
  rtm->rtm_family = static_cast<uint8_t>(r.family);
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = RT_TABLE_UNSPEC;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = RT_SCOPE_HOST;
  rtm->rtm_type = RTN_LOCAL;
  req.Attr(RTA_TABLE, &r.table, sizeof(r.table));
  req.Attr(RTA_OIF, &lo_index, sizeof(lo_index));
  return Transact(
      req,
      absl::StrCat(type == RTM_NEWROUTE ? "add" : "delete", " route local ",
                   r.family == AF_INET6 ? "::/0" : "0.0.0.0/0", " dev lo table ", r.table),
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

absl::Status AddLocalDelivery(const LocalDelivery& route) {
  auto lo = EnsureLinkUp("lo");
  if (!lo.ok()) return lo.status();
  if (auto s = ChangeLocalRoute(RTM_NEWROUTE, route, *lo, nullptr); !s.ok()) return s;
  int err = 0;
  absl::Status s = ChangeRule(RTM_NEWRULE, route, &err);
  return err == EEXIST ? absl::OkStatus() : s;
}

absl::Status DeleteLocalDelivery(const LocalDelivery& route) {
  absl::Status result;
  int err = 0;
  // One delete removes one matching rule; an earlier crash may have left more than one.
  for (int i = 0; i < 8; ++i) {
    absl::Status s = ChangeRule(RTM_DELRULE, route, &err);
    if (err == ENOENT) break;
    if (!s.ok()) {
      result.Update(s);
      break;
    }
  }
  int lo_index = static_cast<int>(if_nametoindex("lo"));
  err = 0;
  absl::Status s = ChangeLocalRoute(RTM_DELROUTE, route, lo_index, &err);
  if (err != ESRCH && err != ENOENT) result.Update(s);
  return result;
}

}  // namespace xgate::node

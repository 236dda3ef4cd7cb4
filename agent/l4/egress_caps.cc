#include "agent/l4/egress_caps.h"

#include <bpf/bpf.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "maps/egress.h"
#include "maps/typed_map.h"
#include "spdlog/spdlog.h"

namespace xgate::l4 {
namespace {

// The netdev family (include/uapi/linux/netdev.h), newer than the installed headers.
constexpr char kFamily[] = "netdev";
constexpr char kMgmtGroup[] = "mgmt";
constexpr uint8_t kCmdDevGet = 1;
constexpr int kAttrIfindex = 1;
constexpr int kAttrXdpFeatures = 3;
constexpr int kAttrMax = 16;

struct SockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
using Sock = std::unique_ptr<nl_sock, SockDeleter>;

absl::Status NlError(int err, std::string_view what) {
  return absl::UnavailableError(absl::StrCat(std::string(what), ": ", nl_geterror(err)));
}

absl::StatusOr<Sock> Connect() {
  Sock sock(nl_socket_alloc());
  if (!sock) return absl::ResourceExhaustedError("netlink socket: out of memory");
  if (int err = genl_connect(sock.get()); err < 0) return NlError(err, "generic netlink");
  return sock;
}

int OnDevice(nl_msg* msg, void* arg) {
  auto* out = static_cast<std::vector<DeviceXdpFeatures>*>(arg);
  nlattr* attrs[kAttrMax + 1] = {};
  if (genlmsg_parse(nlmsg_hdr(msg), 0, attrs, kAttrMax, nullptr) < 0) return NL_SKIP;
  if (!attrs[kAttrIfindex]) return NL_SKIP;
  DeviceXdpFeatures d;
  d.ifindex = static_cast<int>(nla_get_u32(attrs[kAttrIfindex]));
  if (attrs[kAttrXdpFeatures]) d.xdp_features = nla_get_u64(attrs[kAttrXdpFeatures]);
  out->push_back(d);
  return NL_OK;
}

int Ignore(nl_msg*, void*) { return NL_OK; }

// The map's keys as they are in the kernel.
std::set<int> MapKeys(int fd) {
  std::set<int> keys;
  uint32_t key = 0;
  uint32_t next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    keys.insert(static_cast<int>(next));
    key = next;
    prev = &key;
  }
  return keys;
}

}  // namespace

uint32_t EgressFlags(uint64_t xdp_features) {
  return (xdp_features & kXdpActNdoXmit) ? XG_EGRESS_XDP_XMIT : 0;
}

absl::StatusOr<std::vector<DeviceXdpFeatures>> DumpXdpFeatures() {
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  int family = genl_ctrl_resolve(sock->get(), kFamily);
  if (family < 0) return absl::NotFoundError("the kernel has no netdev netlink family (6.3+)");
  std::unique_ptr<nl_msg, void (*)(nl_msg*)> msg(nlmsg_alloc(), nlmsg_free);
  if (!msg) return absl::ResourceExhaustedError("netlink message: out of memory");
  if (!genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_DUMP, kCmdDevGet, 1))
    return absl::InternalError("netdev dev-get: message too small");
  std::vector<DeviceXdpFeatures> out;
  nl_socket_modify_cb(sock->get(), NL_CB_VALID, NL_CB_CUSTOM, OnDevice, &out);
  if (int err = nl_send_auto(sock->get(), msg.get()); err < 0)
    return NlError(err, "netdev dev-get");
  if (int err = nl_recvmsgs_default(sock->get()); err < 0) return NlError(err, "netdev dev-get");
  return out;
}

EgressWatch::EgressWatch(int map_fd, std::vector<int> gen_fds, std::chrono::milliseconds recheck)
    : map_fd_(map_fd), gen_fds_(std::move(gen_fds)), recheck_(recheck) {}

absl::StatusOr<std::unique_ptr<EgressWatch>> EgressWatch::Start(int egress_map_fd,
                                                                std::vector<int> generation_map_fds,
                                                                std::chrono::milliseconds recheck) {
  std::unique_ptr<EgressWatch> w(
      new EgressWatch(egress_map_fd, std::move(generation_map_fds), recheck));
  absl::Status first = w->Sync();
  if (absl::IsNotFound(first)) {
    spdlog::warn("L4: {}; XDP sends no packet on by XDP_REDIRECT, TC does", first.ToString());
    return w;
  }
  if (!first.ok()) return first;
  auto sock = Connect();
  if (!sock.ok()) return sock.status();
  int group = genl_ctrl_resolve_grp(sock->get(), kFamily, kMgmtGroup);
  if (group < 0) return NlError(group, "netdev mgmt group");
  nl_socket_disable_seq_check(sock->get());
  nl_socket_modify_cb(sock->get(), NL_CB_VALID, NL_CB_CUSTOM, Ignore, nullptr);
  if (int err = nl_socket_add_membership(sock->get(), group); err < 0)
    return NlError(err, "joining the netdev mgmt group");
  nl_socket_set_nonblocking(sock->get());
  w->stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (w->stop_fd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  w->events_ = sock->release();
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

EgressWatch::~EgressWatch() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    if (write(stop_fd_, &one, sizeof(one)) < 0) spdlog::warn("L4: egress watch stop: {}", errno);
    thread_.join();
  }
  if (stop_fd_ >= 0) close(stop_fd_);
  if (events_) nl_socket_free(events_);
}

void EgressWatch::Run() {
  pollfd fds[2] = {{nl_socket_get_fd(events_), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    int n = poll(fds, 2, static_cast<int>(recheck_.count()));
    if (n < 0 && errno != EINTR) {
      spdlog::error("L4: egress watch poll: {}", errno);
      return;
    }
    if (fds[1].revents) return;
    // Drain the notifications; any of them (or the timeout) means: read every device again.
    if (fds[0].revents) {
      while (nl_recvmsgs_default(events_) >= 0) {
      }
    }
    if (absl::Status s = Sync(); !s.ok()) spdlog::warn("L4: egress capabilities: {}", s.ToString());
  }
}

absl::Status EgressWatch::Sync() {
  auto devices = DumpXdpFeatures();
  if (!devices.ok()) return devices.status();
  std::map<int, uint32_t> want;
  for (const DeviceXdpFeatures& d : *devices) {
    if (uint32_t flags = EgressFlags(d.xdp_features)) want[d.ifindex] = flags;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (int key : MapKeys(map_fd_)) {
    if (want.count(key)) continue;
    uint32_t k = static_cast<uint32_t>(key);
    if (bpf_map_delete_elem(map_fd_, &k) && errno != ENOENT)
      return absl::ErrnoToStatus(errno, "xg_egress delete");
  }
  for (const auto& [ifindex, flags] : want) {
    uint32_t k = static_cast<uint32_t>(ifindex);
    xg_egress v{flags};
    if (bpf_map_update_elem(map_fd_, &k, &v, BPF_ANY))
      return absl::ErrnoToStatus(errno, "xg_egress update");
  }
  if (want != written_) {
    if (absl::Status s = BumpGeneration(); !s.ok()) return s;
  }
  for (const auto& [ifindex, flags] : want) {
    auto was = written_.find(ifindex);
    if (was == written_.end() || was->second != flags)
      spdlog::info("L4: ifindex {} takes XDP_REDIRECT", ifindex);
  }
  for (const auto& [ifindex, flags] : written_) {
    if (!want.count(ifindex)) spdlog::info("L4: ifindex {} no longer takes XDP_REDIRECT", ifindex);
  }
  written_ = std::move(want);
  return absl::OkStatus();
}

absl::Status EgressWatch::BumpGeneration() {
  for (int fd : gen_fds_) {
    if (absl::Status s = maps::BumpGeneration(fd, "generation map"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::map<int, uint32_t> EgressWatch::Written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

}  // namespace xgate::l4

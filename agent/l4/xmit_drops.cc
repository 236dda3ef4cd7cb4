#include "agent/l4/xmit_drops.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bpf/xmit_drops.skel.h"
#include "maps/bpffs.h"
#include "maps/pins.h"

namespace xgate::l4 {
namespace {

absl::StatusOr<uint64_t> OwnNetnsCookie() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "a socket to read the network namespace's cookie");
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  int rc = getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len);
  int err = errno;
  close(fd);
  if (rc != 0) return absl::ErrnoToStatus(err, "reading the network namespace's cookie");
  return cookie;
}

}  // namespace

absl::StatusOr<std::unique_ptr<XmitDropCounter>> XmitDropCounter::Start(
    const std::string& pin_root) {
  if (absl::Status s = maps::PreparePinRoot(pin_root); !s.ok()) return s;
  std::unique_ptr<XmitDropCounter> c(new XmitDropCounter());
  bpf_object_open_opts open_opts{};
  open_opts.sz = sizeof(open_opts);
  open_opts.pin_root_path = pin_root.c_str();
  c->skel_ = xgate_xmit_drops_bpf__open_opts(&open_opts);
  if (!c->skel_) return absl::ErrnoToStatus(errno, "opening the transmit-drop counter");
  if (auto replaced = maps::ReplaceIncompatiblePins(c->skel_->obj); !replaced.ok())
    return replaced.status();
  auto cookie = OwnNetnsCookie();
  if (!cookie.ok()) return cookie.status();
  c->skel_->rodata->xg_netns_cookie = *cookie;
  if (int err = xgate_xmit_drops_bpf__load(c->skel_); err)
    return absl::ErrnoToStatus(-err, "loading the transmit-drop counter");
  if (int err = xgate_xmit_drops_bpf__attach(c->skel_); err)
    return absl::ErrnoToStatus(-err, "attaching the transmit-drop counter to xdp_devmap_xmit");
  return c;
}

XmitDropCounter::~XmitDropCounter() {
  if (skel_) xgate_xmit_drops_bpf__destroy(skel_);
}

absl::StatusOr<std::map<uint32_t, uint64_t>> ReadXmitDrops(const std::string& pin_root) {
  std::map<uint32_t, uint64_t> out;
  std::string path = maps::PinPath(pin_root, maps::kXmitDrops);
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    if (errno == ENOENT) return out;
    return absl::ErrnoToStatus(errno, absl::StrCat("opening ", path));
  }
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) {
    close(fd);
    return absl::InternalError("counting the possible CPUs");
  }
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  uint32_t key = 0;
  uint32_t next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (bpf_map_lookup_elem(fd, &next, per_cpu.data()) == 0) {
      uint64_t sum = 0;
      for (uint64_t v : per_cpu) sum += v;
      out[next] = sum;
    }
    key = next;
    prev = &key;
  }
  close(fd);
  return out;
}

}  // namespace xgate::l4

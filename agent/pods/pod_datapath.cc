#include "agent/pods/pod_datapath.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/l4/datapath.h"
#include "spdlog/spdlog.h"

namespace xgate::pods {
namespace {

namespace fs = std::filesystem;
using Mac = std::array<uint8_t, 6>;

absl::StatusOr<Mac> InterfaceMac(const std::string& ifname) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  ifreq req{};
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  int rc = ioctl(sock, SIOCGIFHWADDR, &req);
  int err = errno;
  close(sock);
  if (rc != 0) return absl::NotFoundError(absl::StrCat(ifname, ": ", std::strerror(err)));
  Mac mac;
  std::memcpy(mac.data(), req.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

// The MAC of `ifname` inside the network namespace at `netns`, read from a thread that enters
// it (setns moves only the calling thread).
absl::StatusOr<Mac> MacInNetns(const std::string& netns, const std::string& ifname) {
  int fd = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(netns, ": ", std::strerror(errno)));
  absl::StatusOr<Mac> out = absl::InternalError("not read");
  std::thread reader([&] {
    if (setns(fd, CLONE_NEWNET) != 0) {
      out = absl::InternalError(absl::StrCat("entering ", netns, ": ", std::strerror(errno)));
      return;
    }
    out = InterfaceMac(ifname);
  });
  reader.join();
  close(fd);
  return out;
}

bool IsBridge(const std::string& ifname) {
  std::error_code ec;
  return fs::exists(fs::path("/sys/class/net") / ifname / "bridge", ec);
}

l4::TcAttachment PodAttachment(const std::string& pin, const std::string& ifname) {
  l4::TcAttachment at;
  at.ifname = ifname;
  at.link_pin = pin;
  at.clsact_priority = 2;
  at.what = "reverse NAT (pod)";
  return at;
}

}  // namespace

std::string MacText(const Mac& mac) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

absl::StatusOr<std::unique_ptr<PodDatapath>> PodDatapath::Create(
    const PodDatapathOptions& options) {
  auto fd = maps::MapFd::Dup(options.local_pods_map_fd, "xg_local_pods");
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<PodDatapath>(new PodDatapath(options, maps::LocalPodMap(*std::move(fd))));
}

std::string PodDatapath::LinkPin(const std::string& ifname) const {
  return (fs::path(options_.pin_root) / (kLinkPrefix + ifname)).string();
}

// The pod's host-side interface (a veth end; a bridge in prevResult is shared, not the
// pod's), its MACs and addresses, or the problem.
ProgrammedPod PodDatapath::Resolve(const cni::PodRecord& record) {
  ProgrammedPod pod;
  pod.network = record.network();
  pod.container_id = record.container_id();
  pod.ifname = record.ifname();
  for (const auto& name : record.host_interfaces()) {
    int ifindex = static_cast<int>(if_nametoindex(name.c_str()));
    if (ifindex == 0 || IsBridge(name)) continue;
    pod.host_ifname = name;
    pod.ifindex = ifindex;
    break;
  }
  if (pod.ifindex == 0) {
    pod.problem = "no host-side interface (gone, or only a bridge in the record)";
    return pod;
  }
  auto host_mac = InterfaceMac(pod.host_ifname);
  if (!host_mac.ok()) {
    pod.problem = std::string(host_mac.status().message());
    return pod;
  }
  pod.host_mac = *host_mac;
  auto key = std::make_tuple(pod.container_id, pod.ifname, pod.ifindex);
  auto cached = pod_macs_.find(key);
  if (cached == pod_macs_.end()) {
    auto mac = MacInNetns(record.netns(), record.ifname());
    if (!mac.ok()) {
      pod.problem = absl::StrCat("the pod's MAC: ", mac.status().message());
      return pod;
    }
    cached = pod_macs_.emplace(key, *mac).first;
  }
  pod.pod_mac = cached->second;
  pod.addresses.assign(record.addresses().begin(), record.addresses().end());
  return pod;
}

std::set<std::string> PodDatapath::Sync(const std::vector<cni::PodRecord>& records) {
  std::vector<ProgrammedPod> pods;
  std::map<std::string, int> want_links;  // host ifname -> ifindex
  std::map<std::array<uint8_t, 16>, xg_local_pod> want_entries;
  std::set<std::string> local;
  for (const auto& record : records) {
    ProgrammedPod pod = Resolve(record);
    if (pod.ifindex != 0) want_links[pod.host_ifname] = pod.ifindex;
    if (pod.problem.empty()) {
      for (const auto& address : pod.addresses) {
        xg_local_pod_key key{};
        xg_local_pod value{};
        if (!maps::ParseAddress(address, key.addr, &value.family).ok()) continue;
        value.ifindex = static_cast<uint32_t>(pod.ifindex);
        std::memcpy(value.pod_mac, pod.pod_mac.data(), 6);
        std::memcpy(value.host_mac, pod.host_mac.data(), 6);
        std::array<uint8_t, 16> addr;
        std::memcpy(addr.data(), key.addr, 16);
        want_entries[addr] = value;
        local.insert(address);
      }
    }
    pods.push_back(std::move(pod));
  }

  // Links: every wanted one attached (a first Sync updates an earlier agent's pinned links
  // in place: adopted); every other pod link removed, ours or an earlier agent's.
  for (const auto& [ifname, ifindex] : want_links) {
    auto it = attached_.find(ifname);
    if (it != attached_.end() && it->second == ifindex) continue;
    absl::Status s =
        l4::AttachTcProgram(options_.tc_ingress_prog_fd, PodAttachment(LinkPin(ifname), ifname));
    if (!s.ok()) {
      spdlog::warn("pod interface {}: {}", ifname, s.ToString());
      continue;
    }
    attached_[ifname] = ifindex;
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.pin_root, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with(kLinkPrefix)) continue;
    std::string ifname = name.substr(std::strlen(kLinkPrefix));
    if (want_links.contains(ifname)) continue;
    l4::DetachTcProgram(PodAttachment(entry.path().string(), ifname));
    attached_.erase(ifname);
    spdlog::info("pod interface {}: reverse NAT detached", ifname);
  }
  for (auto it = attached_.begin(); it != attached_.end();) {
    it = want_links.contains(it->first) ? std::next(it) : attached_.erase(it);
  }
  // Pod MACs of interfaces no longer there are forgotten.
  for (auto it = pod_macs_.begin(); it != pod_macs_.end();) {
    bool live = false;
    for (const auto& p : pods) {
      live |= std::make_tuple(p.container_id, p.ifname, p.ifindex) == it->first;
    }
    it = live ? std::next(it) : pod_macs_.erase(it);
  }

  // The map: stale entries out, wanted ones written where they differ.
  auto entries = map_.Entries();
  if (!entries.ok()) {
    spdlog::warn("xg_local_pods: {}", entries.status().ToString());
  } else {
    for (const auto& [key, value] : *entries) {
      std::array<uint8_t, 16> addr;
      std::memcpy(addr.data(), key.addr, 16);
      auto want = want_entries.find(addr);
      if (want != want_entries.end() && std::memcmp(&want->second, &value, sizeof(value)) == 0) {
        want_entries.erase(want);
        continue;
      }
      if (want == want_entries.end()) {
        map_.Delete(key).IgnoreError();
        spdlog::info("local pod {} removed from xg_local_pods", maps::FormatAddress(key.addr));
      }
    }
  }
  for (const auto& [addr, value] : want_entries) {
    xg_local_pod_key key{};
    std::memcpy(key.addr, addr.data(), 16);
    if (absl::Status s = map_.Update(key, value); !s.ok()) {
      spdlog::warn("xg_local_pods: {}", s.ToString());
      local.erase(maps::FormatAddress(key.addr));
      continue;
    }
    spdlog::info("local pod {} on ifindex {}, MAC {}", maps::FormatAddress(key.addr), value.ifindex,
                 MacText(std::to_array(value.pod_mac)));
  }
  std::lock_guard lock(mu_);
  programmed_ = std::move(pods);
  return local;
}

std::vector<ProgrammedPod> PodDatapath::Programmed() const {
  std::lock_guard lock(mu_);
  return programmed_;
}

void PodDatapath::DetachAll() { Sync({}); }

}  // namespace xgate::pods

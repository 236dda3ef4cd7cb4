// Which devices take XDP_REDIRECTed frames, kept in the fast path's xg_egress map
// (maps/egress.h) from the kernel's own answer: the xdp-features of each device, as the
// "netdev" generic netlink family reports them (Linux 6.3+). A veth advertises
// NETDEV_XDP_ACT_NDO_XMIT only while its peer has NAPI (an XDP program, or GRO), and the kernel
// notifies when that changes (a pod turning GRO on or off), so the map follows it; a full
// re-read every `recheck` covers a missed notification.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct nl_sock;

namespace xgate::l4 {

// From the kernel's enum netdev_xdp_act (linux/netdev.h; newer than the installed headers).
inline constexpr uint64_t kXdpActNdoXmit = 1u << 2;

struct DeviceXdpFeatures {
  int ifindex = 0;
  uint64_t xdp_features = 0;  // NETDEV_XDP_ACT_* bits
};

// Every device of this network namespace with its xdp-features. NotFound when the kernel has
// no netdev family (before 6.3).
absl::StatusOr<std::vector<DeviceXdpFeatures>> DumpXdpFeatures();

// xg_egress's flags for a device's xdp-features.
uint32_t EgressFlags(uint64_t xdp_features);

class EgressWatch {
 public:
  // Writes the map from a first dump, then follows the kernel's notifications on a thread.
  // Without the netdev family (an old kernel) the map stays empty: every packet toward a
  // backend then goes through TC, which always delivers. After each change every map of
  // `generation_map_fds` (xg_egress_gen, xg_flow_gen) is moved on.
  static absl::StatusOr<std::unique_ptr<EgressWatch>> Start(
      int egress_map_fd, std::vector<int> generation_map_fds,
      std::chrono::milliseconds recheck = std::chrono::seconds(1));
  ~EgressWatch();

  EgressWatch(const EgressWatch&) = delete;
  EgressWatch& operator=(const EgressWatch&) = delete;

  // Re-reads every device and rewrites the map now.
  absl::Status Sync();
  // ifindex -> flags as last written.
  std::map<int, uint32_t> Written() const;

 private:
  EgressWatch(int map_fd, std::vector<int> gen_fds, std::chrono::milliseconds recheck);
  void Run();
  absl::Status BumpGeneration();

  const int map_fd_;
  const std::vector<int> gen_fds_;
  const std::chrono::milliseconds recheck_;
  struct nl_sock* events_ = nullptr;  // subscribed to the netdev family's "mgmt" group
  int stop_fd_ = -1;                  // eventfd that ends Run
  mutable std::mutex mu_;
  std::map<int, uint32_t> written_;
  std::thread thread_;
};

}  // namespace xgate::l4

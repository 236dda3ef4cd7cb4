// The transmit-drop counter (bpf/xmit_drops.bpf.c): attached to the xdp_devmap_xmit
// and xdp_redirect_err tracepoints while the agent runs, it counts per device of the agent's own
// network namespace (an ifindex names a device only within one), pinned as xg_xmit_drops beside
// the fast path's maps so the counts outlive a restart.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct xgate_xmit_drops_bpf;

namespace xgate::l4 {

class XmitDropCounter {
 public:
  static absl::StatusOr<std::unique_ptr<XmitDropCounter>> Start(const std::string& pin_root);
  ~XmitDropCounter();

  XmitDropCounter(const XmitDropCounter&) = delete;
  XmitDropCounter& operator=(const XmitDropCounter&) = delete;

 private:
  XmitDropCounter() = default;
  xgate_xmit_drops_bpf* skel_ = nullptr;
};

// Frames dropped on transmit per ifindex (all CPUs), from the pinned map under `pin_root`;
// empty when nothing was dropped (or the counter never ran).
absl::StatusOr<std::map<uint32_t, uint64_t>> ReadXmitDrops(const std::string& pin_root);

}  // namespace xgate::l4

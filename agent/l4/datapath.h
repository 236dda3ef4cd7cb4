// The loaded BPF object: maps pinned under a root (reused when already there), the XDP
// program attached with libxdp (so it shares interfaces through the dispatcher) and the TC
// reverse-NAT programs attached with tcx (clsact where the kernel has no tcx): on ingress,
// replies from backends behind the interface are rewritten and sent straight on; on egress,
// replies the node itself routes out (a backend on the node) are rewritten on the way out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/l4/egress_caps.h"
#include "agent/l4/xmit_drops.h"

struct xgate_bpf;
struct xdp_program;

namespace xgate::l4 {

struct DatapathOptions {
  std::string pin_root;                 // on a bpffs; created if missing
  std::vector<std::string> interfaces;  // XDP ingress + TC ingress/egress (reverse NAT) on each
};

class Datapath {
 public:
  // Opens the object, reusing maps pinned under the root, loads it and attaches to the
  // interfaces. An interface that already runs xgate's XDP program (an earlier agent's,
  // through the same pins) keeps it: traffic never stops across a restart. TC links pinned
  // under the root are updated to the new program in place.
  static absl::StatusOr<std::unique_ptr<Datapath>> Open(const DatapathOptions& options);
  ~Datapath();

  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  // Map and program descriptors (owned by the object; valid while it lives).
  int MapFd(const char* name) const;
  int XdpProgFd() const;
  int TcIngressProgFd() const;
  int TcEgressProgFd() const;
  const std::string& pin_root() const { return options_.pin_root; }
  // What follows the egress devices' capabilities (nullptr when the kernel cannot tell).
  EgressWatch* egress() const { return egress_.get(); }

  // Removes the programs from the interfaces and every pin under the root.
  absl::Status DetachAndUnpin();

 private:
  explicit Datapath(DatapathOptions options) : options_(std::move(options)) {}
  absl::Status Load();
  absl::Status AttachXdp(const std::string& ifname, bool* adopted);
  absl::Status AttachTc(const std::string& ifname, bool egress);

  DatapathOptions options_;
  xgate_bpf* skel_ = nullptr;
  std::unique_ptr<EgressWatch> egress_;          // keeps xg_egress true
  std::unique_ptr<XmitDropCounter> xmit_drops_;  // counts into xg_xmit_drops
  xdp_program* xdp_ = nullptr;
  bool loaded_ = false;
  std::vector<uint8_t> built_tag_;  // this build's XDP program tag, once computed
};

// Where a TC program sits on an interface: a tcx link pinned at `link_pin`, or, on kernels
// without tcx, a clsact filter with this handle and priority (lower priorities run first).
// Shared by the reverse NAT programs here and the node's steer program (agent/node/).
struct TcAttachment {
  std::string ifname;
  bool egress = false;
  std::string link_pin;
  uint32_t clsact_handle = 1;
  uint32_t clsact_priority = 1;
  bool first = false;  // tcx: ahead of the programs already at the hook
  std::string what;    // for the log: "reverse NAT"
};

// Attaches `prog_fd`, or swaps it into an earlier agent's pinned link (or filter) in place.
absl::Status AttachTcProgram(int prog_fd, const TcAttachment& at);
// Removes the attachment (the pinned link's, else the clsact filter); absent is fine.
void DetachTcProgram(const TcAttachment& at);

// Opens (does not load) the fast path's object with its maps pinned under `pin_root`, sized
// for this machine (xg_flow_cache: a range of sets per possible CPU). nullptr with errno set
// when it cannot.
xgate_bpf* OpenXgateObject(const std::string& pin_root);

// The name the XDP program carries (what adoption and detach look for).
inline constexpr char kXdpProgramName[] = "xgate_xdp";

}  // namespace xgate::l4

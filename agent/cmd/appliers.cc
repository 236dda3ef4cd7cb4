#include "agent/cmd/appliers.h"

namespace xgate::agent {

absl::StatusOr<std::vector<std::unique_ptr<appliers::Applier>>> BuildAppliers(
    const AgentFlags& flags) {
  std::vector<std::unique_ptr<appliers::Applier>> list;
  // The data planes are registered here, in the order each snapshot reaches them:
  //   1. the L4 BPF applier (agent/l4, L4Applier) on flags.attach with flags.pin_root;
  //   2. the L7 applier (agent/l7, L7Applier), which starts xgate-proxy when the snapshot
  //      has an L7 listener.
  // Until they are added, snapshots are computed, logged and served over the admin API only.
  return list;
}

}  // namespace xgate::agent

// Makes the node own the addresses its L7 Gateways serve on, so the proxy's wildcard
// listening sockets receive their connections: each address is put on the loopback
// interface as a host address (/32, /128), as direct-server-return load balancers do, added
// and removed as snapshots change. (Not a dummy interface like kube-proxy's kube-ipvs0:
// kernels built without CONFIG_DUMMY, this machine's among them, have none.) Addresses that
// already belong to another interface of the node are left alone.
#pragma once

#include <set>
#include <string>

#include "absl/status/status.h"
#include "agent/appliers/applier.h"

namespace xgate::node {

inline constexpr char kGatewayInterface[] = "lo";

class GatewayAddressApplier : public appliers::Applier {
 public:
  explicit GatewayAddressApplier(std::string ifname = kGatewayInterface)
      : ifname_(std::move(ifname)) {}
  std::string Name() const override { return "gateway-addresses"; }
  absl::Status Apply(const compiler::Snapshot& snapshot) override;
  // Without `detach` the addresses stay, so a restarted agent's proxy keeps serving; with
  // it, the addresses this applier added are removed.
  void Stop(bool detach) override;

 private:
  std::string ifname_;
  std::set<std::string> owned_;  // addresses this applier put on the interface
};

}  // namespace xgate::node

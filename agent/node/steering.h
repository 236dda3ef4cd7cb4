// Makes punted L7 traffic reach the proxy whatever Gateway address it is for, without the node
// owning those addresses and without the proxy binding them: for each steered punt listener
// (the compiler marks those whose address the node does not have), an entry in
// xg_steer_targets, so the TC steer program hands its packets to the connection's socket or
// the proxy's private listener in xg_steer_socks (bpf_sk_assign) and marks them; and the
// policy route (maps/steer.h) that makes the kernel deliver marked packets locally. Addresses
// the node already has (a Gateway without spec.addresses serves on the interface's own
// address) need none of it: the proxy binds address:port and the kernel delivers to it.
//
// The node answers no ARP/NDP for a steered address: clients reach it through a route via the
// node (as a router, or a BGP announcement of the Gateway prefix, would send it).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/appliers/applier.h"
#include "agent/node/netlink.h"
#include "agent/node/steer_program.h"
#include "maps/steer.h"
#include "maps/typed_map.h"

namespace xgate::node {

struct SteeringOptions {
  std::string pin_root = XG_DEFAULT_PIN_ROOT;
  std::vector<std::string> interfaces;  // --attach: where client traffic comes in
};

using SteerTargetMap = maps::TypedMap<xg_steer_key, xg_steer_value>;

class SteeringApplier : public appliers::Applier {
 public:
  // Loads (or adopts) the steer program on the interfaces and installs the policy route.
  static absl::StatusOr<std::unique_ptr<SteeringApplier>> Create(const SteeringOptions& options);

  std::string Name() const override { return "steering"; }
  absl::Status Apply(const compiler::Snapshot& snapshot) override;
  // Without `detach` the program, its entries and the route stay, so the proxy keeps
  // receiving while no agent runs; with it, all three are removed.
  void Stop(bool detach) override;

  SteerProgram& program() { return *program_; }

 private:
  using KeyBytes = std::array<uint8_t, sizeof(xg_steer_key)>;
  SteeringApplier() = default;

  std::unique_ptr<SteerProgram> program_;
  SteerTargetMap targets_;
  std::set<KeyBytes> installed_;  // what xg_steer_targets holds
  bool stopped_ = false;
};

// The local-delivery routes the steering uses (IPv4 and IPv6).
std::vector<LocalDelivery> SteerRoutes();

}  // namespace xgate::node

// The few rtnetlink requests the agent needs: an interface up, and the policy route that
// delivers marked packets locally (what steered traffic needs, as TPROXY setups do).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace xgate::node {

// Brings an existing interface up; returns its index.
absl::StatusOr<int> EnsureLinkUp(const std::string& ifname);

// For one family (AF_INET or AF_INET6): the rule "pref `pref` fwmark `mark` lookup `table`"
// and, in that table, "local 0.0.0.0/0 dev lo" (or ::/0), so a packet carrying the mark is
// delivered to a local socket whatever its destination address.
struct LocalDelivery {
  int family = 0;
  uint32_t mark = 0;
  uint32_t table = 0;
  uint32_t pref = 0;
};

// Both are idempotent: adding what is there, or deleting what is not, succeeds.
absl::Status AddLocalDelivery(const LocalDelivery& route);
absl::Status DeleteLocalDelivery(const LocalDelivery& route);

}  // namespace xgate::node

// The few rtnetlink requests the agent needs: an interface up, host addresses on it.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace xgate::node {

// Brings an existing interface up; returns its index.
absl::StatusOr<int> EnsureLinkUp(const std::string& ifname);
// `address` is an IPv4 or IPv6 literal; it is added as a host address (/32 or /128).
absl::Status AddHostAddress(int ifindex, const std::string& address);
absl::Status DeleteHostAddress(int ifindex, const std::string& address);

}  // namespace xgate::node

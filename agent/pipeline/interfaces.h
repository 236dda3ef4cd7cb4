// The node's addresses: what a Gateway without spec.addresses serves on.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace xgate::pipeline {

// IPv4 and IPv6 addresses (IPv6 link-local excluded: they need a scope to be served on)
// of each named interface, in the order given. Fails when an interface does not exist.
absl::StatusOr<std::vector<std::string>> InterfaceAddresses(const std::vector<std::string>& names);

// Every address of the node (all interfaces, lo and link-local too), as inet_ntop writes it.
std::set<std::string> NodeOwnedAddresses();

}  // namespace xgate::pipeline

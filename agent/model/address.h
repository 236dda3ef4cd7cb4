// IP address text in one spelling, so that addresses written differently compare equal.
#pragma once

#include <string>

namespace xgate::model {

// The address as inet_ntop writes it ("fd00:0::5" and "fd00::5" are one), or as given when it
// is not an IPv4 or IPv6 address.
std::string CanonicalAddress(const std::string& address);

}  // namespace xgate::model

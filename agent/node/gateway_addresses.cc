#include "agent/node/gateway_addresses.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include "absl/strings/str_cat.h"
#include "agent/node/netlink.h"
#include "spdlog/spdlog.h"

namespace xgate::node {
namespace {

// Addresses already on the node's other interfaces (the attached uplink's, say).
std::set<std::string> AddressesElsewhere(const std::string& except_ifname) {
  std::set<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* it = list; it; it = it->ifa_next) {
    if (!it->ifa_addr || except_ifname == it->ifa_name) continue;
    char text[INET6_ADDRSTRLEN] = {};
    int family = it->ifa_addr->sa_family;
    if (family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr, text,
                sizeof(text));
    } else if (family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(it->ifa_addr)->sin6_addr, text,
                sizeof(text));
    } else {
      continue;
    }
    out.insert(text);
  }
  freeifaddrs(list);
  return out;
}

// Canonical text of an address literal, so "fd00::0a" and "fd00::a" compare equal.
std::string Canonical(const std::string& address) {
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET, address.c_str(), buf) == 1) {
    return inet_ntop(AF_INET, buf, text, sizeof(text));
  }
  if (inet_pton(AF_INET6, address.c_str(), buf) == 1) {
    return inet_ntop(AF_INET6, buf, text, sizeof(text));
  }
  return address;
}

}  // namespace

absl::Status GatewayAddressApplier::Apply(const compiler::Snapshot& snapshot) {
  std::set<std::string> elsewhere = AddressesElsewhere(ifname_);
  std::set<std::string> wanted;
  for (const auto& punt : snapshot.punt) {
    std::string address = Canonical(punt.address);
    if (!elsewhere.contains(address)) wanted.insert(address);
  }
  if (wanted.empty() && owned_.empty()) return absl::OkStatus();
  auto index = EnsureLinkUp(ifname_);
  if (!index.ok()) return index.status();
  for (const auto& address : wanted) {
    if (owned_.contains(address)) continue;
    if (auto s = AddHostAddress(*index, address); !s.ok()) return s;
    owned_.insert(address);
    spdlog::info("gateway address {} added on {}", address, ifname_);
  }
  for (auto it = owned_.begin(); it != owned_.end();) {
    if (wanted.contains(*it)) {
      ++it;
      continue;
    }
    if (auto s = DeleteHostAddress(*index, *it); !s.ok()) return s;
    spdlog::info("gateway address {} removed from {}", *it, ifname_);
    it = owned_.erase(it);
  }
  return absl::OkStatus();
}

void GatewayAddressApplier::Stop(bool detach) {
  if (!detach) return;
  int index = static_cast<int>(if_nametoindex(ifname_.c_str()));
  for (const auto& address : owned_) {
    if (auto s = DeleteHostAddress(index, address); !s.ok()) spdlog::warn("{}", s.ToString());
  }
  owned_.clear();
}

}  // namespace xgate::node

#include "agent/pipeline/interfaces.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace xgate::pipeline {
namespace {

// The address of `a` as text; "" for other families.
std::string Text(const sockaddr* a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a)->sin_addr, text, sizeof text);
  } else if (a->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr, text, sizeof text);
  }
  return text;
}

}  // namespace

std::set<std::string> NodeOwnedAddresses() {
  std::set<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    std::string text = Text(a->ifa_addr);
    if (!text.empty()) out.insert(text);
  }
  freeifaddrs(list);
  return out;
}

absl::StatusOr<std::vector<std::string>> InterfaceAddresses(const std::vector<std::string>& names) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return absl::InternalError(absl::StrCat("getifaddrs: ", std::strerror(errno)));
  }
  std::vector<std::string> out;
  absl::Status status;
  for (const auto& name : names) {
    if (if_nametoindex(name.c_str()) == 0) {
      status = absl::NotFoundError(absl::StrCat("interface ", name, ": no such interface"));
      break;
    }
    for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || name != a->ifa_name) continue;
      if (a->ifa_addr->sa_family == AF_INET6 &&
          IN6_IS_ADDR_LINKLOCAL(&reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr)) {
        continue;
      }
      std::string text = Text(a->ifa_addr);
      if (!text.empty()) out.push_back(std::move(text));
    }
  }
  freeifaddrs(list);
  if (!status.ok()) return status;
  return out;
}

}  // namespace xgate::pipeline

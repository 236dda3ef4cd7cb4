#include "agent/pipeline/interfaces.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace xgate::pipeline {

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
      char text[INET6_ADDRSTRLEN] = {};
      if (a->ifa_addr->sa_family == AF_INET) {
        auto* sin = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
      } else if (a->ifa_addr->sa_family == AF_INET6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
        if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;
        inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
      } else {
        continue;
      }
      out.emplace_back(text);
    }
  }
  freeifaddrs(list);
  if (!status.ok()) return status;
  return out;
}

}  // namespace xgate::pipeline

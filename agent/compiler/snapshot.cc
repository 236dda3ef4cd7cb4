#include "agent/compiler/snapshot.h"

#include <netinet/in.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace xgate::compiler {
namespace {

std::string HostPort(const std::string& address, uint32_t port) {
  bool v6 = address.find(':') != std::string::npos;
  return v6 ? absl::StrCat("[", address, "]:", port) : absl::StrCat(address, ":", port);
}

const char* PortProtocol(api::Port::Protocol p) {
  switch (p) {
    case api::Port::HTTP:
      return "http";
    case api::Port::HTTPS:
      return "https";
    case api::Port::TLS_PASSTHROUGH:
      return "tls";
    default:
      return "?";
  }
}

}  // namespace

std::vector<std::string> Snapshot::Summary() const {
  std::vector<std::string> lines;
  for (const auto& l : l4) {
    size_t n = l.backends.size();
    lines.push_back(absl::StrCat("L4 ", HostPort(l.address, l.port),
                                 l.protocol == IPPROTO_UDP ? "/udp" : "/tcp", " -> ", n,
                                 n == 1 ? " backend" : " backends"));
  }
  for (const auto& p : l7.ports()) {
    std::vector<std::string> addresses;
    for (const auto& a : p.addresses()) addresses.push_back(HostPort(a, p.port()));
    if (addresses.empty()) addresses.push_back(HostPort("*", p.port()));
    int routes = 0;
    for (const auto& l : p.listeners()) {
      for (const auto& vh : l.virtual_hosts()) routes += vh.routes_size();
    }
    lines.push_back(absl::StrCat("L7 ", absl::StrJoin(addresses, ","), " ",
                                 PortProtocol(p.protocol()), ": ", p.listeners_size(),
                                 " listeners, ", routes, " routes"));
  }
  return lines;
}

}  // namespace xgate::compiler

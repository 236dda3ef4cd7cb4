// An L4 listener of a test snapshot: Gateway default/gw, listener "l<port>", one TCPRoute.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agent/compiler/snapshot.h"

namespace xgate::testing {

inline compiler::L4Listener L4ListenerOf(std::string address, uint16_t port, uint8_t protocol,
                                         std::vector<compiler::L4Backend> backends) {
  compiler::L4Listener l;
  l.gateway = "default/gw";
  l.listener = std::string("l").append(std::to_string(port));
  l.route = "TCPRoute default/r";
  l.address = std::move(address);
  l.port = port;
  l.protocol = protocol;
  l.backends = std::move(backends);
  return l;
}

}  // namespace xgate::testing

// One immutable compiled state: what both data planes are programmed from. A Snapshot is
// applied whole or not at all.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/config.pb.h"

namespace xgate::compiler {

struct L4Backend {
  std::string address;  // endpoint IP literal (v4 or v6, the listener's family)
  uint16_t port = 0;
  // Share of the listener's traffic, in parts per million of the total: a backendRef's
  // weight divided evenly among its ready endpoints.
  uint32_t weight = 0;
  std::string service;  // "ns/name"
  bool local = false;   // a pod on this node (CompileOptions::local_pods)
};

// One (address, port, protocol) the kernel fast path forwards.
struct L4Listener {
  std::string gateway;   // "ns/name"
  std::string listener;  // listener name
  std::string route;     // "TCPRoute ns/name"
  std::string address;   // the Gateway address (IP literal)
  uint16_t port = 0;
  uint8_t protocol = 0;             // IPPROTO_TCP or IPPROTO_UDP
  std::vector<L4Backend> backends;  // empty: no valid backend, packets dropped with a reason
};

// An (address, port) whose traffic the kernel punts to the proxy.
struct PuntListener {
  std::string address;
  uint16_t port = 0;
  // The steer program hands it to the proxy's private listener (an address the node does
  // not have, with steering on); otherwise the proxy binds address:port itself.
  bool steered = false;
};

struct Snapshot {
  Snapshot() = default;
  Snapshot(Snapshot&&) = default;
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;
  Snapshot& operator=(Snapshot&&) = delete;
  // Header-only: the data plane libraries hold Snapshots without linking the compiler.
  ~Snapshot() {
    if (shared_parts.empty()) return;
    for (api::Port& port : *l7.mutable_ports()) {
      for (api::Listener& listener : *port.mutable_listeners()) {
        auto* vhosts = listener.mutable_virtual_hosts();
        vhosts->UnsafeArenaExtractSubrange(0, vhosts->size(), nullptr);
      }
    }
    l7.mutable_clusters()->UnsafeArenaExtractSubrange(0, l7.clusters_size(), nullptr);
  }

  uint64_t generation = 0;
  std::vector<L4Listener> l4;
  std::vector<PuntListener> punt;
  api::L7Config l7;
  // Set by Compile: every virtual host of l7's listeners and every cluster of l7 is one of
  // these, shared with the compile memo and with other snapshots. l7 holds them without
  // owning them (the destructor takes them back out before l7 is destroyed), so that a
  // change compiles and copies only the virtual hosts it touches.
  std::vector<std::shared_ptr<const google::protobuf::Message>> shared_parts;
  // Lines such as "L4 198.18.100.10:5432/tcp -> 2 backends" and
  // "L7 198.18.100.1:80 http: 3 listeners, 12 routes": what the agent logs per snapshot.
  std::vector<std::string> Summary() const;
};

}  // namespace xgate::compiler

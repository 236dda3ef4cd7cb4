#include "agent/compiler/l4.h"

#include <netinet/in.h>

#include <tuple>

#include "agent/binder/age.h"
#include "agent/model/address.h"

namespace xgate::compiler {
namespace {

bool IsV6(const std::string& address) { return address.find(':') != std::string::npos; }

// Weights in parts per million of the listener's total: each backendRef gets its weight's
// share, split evenly among its ready endpoints of the listener's address family. The
// shares of invalid refs and of refs without endpoints stay unassigned, so the total may
// fall short of 1e6: that part of the traffic is dropped, as the spec wants for
// connections bound to an invalid backend.
// Local endpoints (see CompileOptions::local_pods): on this node by nodeName, or a recorded
// pod's address; one on this node by nodeName that no record has is left out, unless the
// address is the node's own (a hostNetwork pod: xgate-cni never sees it).
bool PodGone(const binder::ResolvedEndpoint& ep, const CompileOptions& options) {
  return options.local_pods && !options.node_name.empty() && ep.node_name == options.node_name &&
         !options.local_pods->contains(ep.address) &&
         !options.node_owned.contains(model::CanonicalAddress(ep.address));
}

std::vector<L4Backend> Backends(const binder::BoundRoute& route, const std::string& address,
                                const CompileOptions& options) {
  uint64_t total = 0;
  for (const auto& rule : route.backends->rule_backends) {
    for (const auto& b : rule) total += b.weight > 0 ? b.weight : 0;
  }
  std::vector<L4Backend> out;
  if (total == 0) return out;
  for (const auto& rule : route.backends->rule_backends) {
    for (const auto& b : rule) {
      if (!b.invalid_reason.empty() || b.weight <= 0) continue;
      std::vector<const binder::ResolvedEndpoint*> eps;
      for (const auto& ep : b.endpoints) {
        if (IsV6(ep.address) == IsV6(address) && !PodGone(ep, options)) eps.push_back(&ep);
      }
      if (eps.empty()) continue;
      auto share = static_cast<uint32_t>(1000000ull * static_cast<uint64_t>(b.weight) /
                                         (total * eps.size()));
      for (const auto* ep : eps) {
        bool local = (!options.node_name.empty() && ep->node_name == options.node_name) ||
                     (options.local_pods && options.local_pods->contains(ep->address));
        out.push_back(
            {ep->address, static_cast<uint16_t>(ep->port), share, b.ns + "/" + b.name, local});
      }
    }
  }
  return out;
}

}  // namespace

const binder::BoundRoute* OldestRoute(const std::vector<binder::BoundRoute>& routes) {
  const binder::BoundRoute* best = nullptr;
  auto age = [](const binder::BoundRoute& r) {
    return std::tuple_cat(binder::AgeKey(r.object->meta), std::tie(r.key));
  };
  for (const auto& r : routes) {
    if (best == nullptr || age(r) < age(*best)) best = &r;
  }
  return best;
}

std::vector<L4Listener> CompileL4(const binder::BindResult& bound, const CompileOptions& options) {
  std::vector<L4Listener> out;
  for (const auto& bl : bound.listeners) {
    const std::string& protocol = bl.listener->protocol;
    if (!bl.programmed || (protocol != "TCP" && protocol != "UDP")) continue;
    // Several routes may attach to one L4 listener (all Accepted); only the oldest
    // receives traffic.
    const binder::BoundRoute* route = OldestRoute(bl.routes);
    for (const auto& address : bl.addresses) {
      L4Listener l;
      l.gateway = bl.gateway.first + "/" + bl.gateway.second;
      l.listener = binder::ListenerId(bl);
      l.address = address;
      l.port = static_cast<uint16_t>(bl.listener->port);
      l.protocol = protocol == "TCP" ? IPPROTO_TCP : IPPROTO_UDP;
      if (route != nullptr) {
        l.route = route->key.ToString();
        l.backends = Backends(*route, address, options);
      }
      out.push_back(std::move(l));
    }
  }
  return out;
}

}  // namespace xgate::compiler

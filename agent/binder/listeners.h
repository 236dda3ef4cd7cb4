// Gateway and listener evaluation: addresses, protocols, conflicts, allowed route kinds and
// certificate references, with the Gateway and listener status conditions they imply.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/binder/binder.h"

namespace xgate::binder {

model::Condition MakeCondition(const std::string& type, bool status, const std::string& reason,
                               const std::string& message, int64_t generation,
                               const std::string& now);

struct ListenerState {
  const model::Listener* listener = nullptr;
  const model::ListenerSet* set = nullptr;  // the entry's ListenerSet; null for the Gateway's
  std::string owner_ns;  // the Gateway's or the ListenerSet's namespace (allowedRoutes Same)
  // Not distinct from an earlier listener of the merged list, or (a ListenerSet entry) beyond
  // its limit: an entry so refused is out of the list (not served, no OverlappingTLSConfig).
  bool refused = false;
  BoundListener bound;
  model::ListenerStatus status;
  std::vector<model::RouteGroupKind> supported_kinds;
  std::map<model::Kind, std::vector<size_t>> attached_by_kind;  // indexes into bound.routes
};

// A ListenerSet whose parentRef names a Gateway of ours.
struct ListenerSetState {
  Store::Key key;
  const model::ListenerSet* set = nullptr;
  model::ListenerSetStatus status;  // listeners filled from GatewayState::listeners at the end
  bool accepted = false;
  // Its entries in GatewayState::listeners (none when it is not allowed or the Gateway is
  // not accepted).
  size_t first = 0;
  size_t count = 0;
};

struct GatewayState {
  Store::Key key;
  size_t ordinal = 0;  // its place in BindGateways' map: the same while the Gateways are
  const model::Gateway* gateway = nullptr;
  model::GatewayStatus status;
  // The Gateway's listeners in spec order, then the entries of its ListenerSets in the spec's
  // precedence (oldest first, then namespace/name): indexes stay what the route memo holds.
  std::vector<ListenerState> listeners;
  std::vector<ListenerSetState> sets;  // in the same order
};

// Evaluates every Gateway whose class is in `our_classes`, and the ListenerSets attached to
// it. Gateways are claimed in age order, so when two share an address and port the older
// keeps it; a ListenerSet entry claims its ports for its Gateway, after the Gateway's own.
std::map<Store::Key, GatewayState> BindGateways(const Store& store,
                                                const std::set<std::string>& our_classes,
                                                const BindOptions& options);

}  // namespace xgate::binder

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
  BoundListener bound;
  model::ListenerStatus status;
  std::vector<model::RouteGroupKind> supported_kinds;
  std::map<model::Kind, std::vector<size_t>> attached_by_kind;  // indexes into bound.routes
};

struct GatewayState {
  Store::Key key;
  const model::Gateway* gateway = nullptr;
  model::GatewayStatus status;
  std::vector<ListenerState> listeners;  // in spec order
};

// Evaluates every Gateway whose class is in `our_classes`. Gateways are claimed in age
// order, so when two share an address and port the older keeps it.
std::map<Store::Key, GatewayState> BindGateways(const Store& store,
                                                const std::set<std::string>& our_classes,
                                                const BindOptions& options);

}  // namespace xgate::binder

#include "agent/pipeline/same_state.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

namespace xgate::pipeline {
namespace {

// Field by field (the status structs have no operator==, and adding one to agent/model would
// rebuild every user of it).
bool Same(const model::RouteParentStatus& a, const model::RouteParentStatus& b);
bool Same(const model::ListenerStatus& a, const model::ListenerStatus& b);

bool Same(const model::Condition& a, const model::Condition& b) {
  return std::tie(a.type, a.status, a.reason, a.message, a.observed_generation,
                  a.last_transition_time) == std::tie(b.type, b.status, b.reason, b.message,
                                                      b.observed_generation,
                                                      b.last_transition_time);
}
bool Same(const model::RouteGroupKind& a, const model::RouteGroupKind& b) {
  return a.group == b.group && a.kind == b.kind;
}
bool Same(const model::GatewayStatusAddress& a, const model::GatewayStatusAddress& b) {
  return a.type == b.type && a.value == b.value;
}
template <typename T>
bool Same(const std::vector<T>& a, const std::vector<T>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const T& x, const T& y) { return Same(x, y); });
}
bool Same(const model::RouteParentStatus& a, const model::RouteParentStatus& b) {
  return a.parent_ref == b.parent_ref && a.controller_name == b.controller_name &&
         Same(a.conditions, b.conditions);
}
bool Same(const model::ListenerStatus& a, const model::ListenerStatus& b) {
  return a.name == b.name && Same(a.supported_kinds, b.supported_kinds) &&
         a.attached_routes == b.attached_routes && Same(a.conditions, b.conditions);
}
bool Same(const model::RouteStatus& a, const model::RouteStatus& b) {
  return Same(a.parents, b.parents);
}
bool Same(const std::shared_ptr<const model::RouteStatus>& a,
          const std::shared_ptr<const model::RouteStatus>& b) {
  return a == b || Same(*a, *b);
}
bool Same(const model::PolicyStatus& a, const model::PolicyStatus& b) {
  return Same(a.ancestors, b.ancestors);
}
bool Same(const model::GatewayStatus& a, const model::GatewayStatus& b) {
  return Same(a.addresses, b.addresses) && Same(a.conditions, b.conditions) &&
         Same(a.listeners, b.listeners) && a.attached_listener_sets == b.attached_listener_sets;
}
bool Same(const model::ListenerSetStatus& a, const model::ListenerSetStatus& b) {
  return Same(a.conditions, b.conditions) && Same(a.listeners, b.listeners);
}
bool Same(const model::GatewayClassStatus& a, const model::GatewayClassStatus& b) {
  return Same(a.conditions, b.conditions);
}
template <typename K, typename V>
bool Same(const std::map<K, V>& a, const std::map<K, V>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.first == y.first && Same(x.second, y.second);
  });
}

bool SameObject(const model::Object& a, const model::Object& b) {
  return a.meta.name == b.meta.name && a.meta.ns == b.meta.ns &&
         a.meta.generation == b.meta.generation &&
         a.meta.creation_timestamp == b.meta.creation_timestamp && a.raw == b.raw;
}

bool SameStore(const model::Store& a, const model::Store& b) {
  bool same = true;
  model::ForEachKindMap(a, b, [&](const auto& x, const auto& y) {
    same = same && x.Equals(y, SameObject);  // chunks both loads share are not walked
  });
  return same;
}

}  // namespace

bool SameState(const model::LoadResult& a, const binder::Statuses& a_statuses,
               const model::LoadResult& b, const binder::Statuses& b_statuses) {
  auto same_error = [](const model::LoadError& x, const model::LoadError& y) {
    return x.ToString() == y.ToString();
  };
  return Same(a_statuses.gateway_classes, b_statuses.gateway_classes) &&
         Same(a_statuses.gateways, b_statuses.gateways) &&
         Same(a_statuses.routes, b_statuses.routes) &&
         Same(a_statuses.policies, b_statuses.policies) &&
         Same(a_statuses.listener_sets, b_statuses.listener_sets) &&
         std::equal(a.errors.begin(), a.errors.end(), b.errors.begin(), b.errors.end(),
                    same_error) &&
         SameStore(a.store, b.store);
}

}  // namespace xgate::pipeline

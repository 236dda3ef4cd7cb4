#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/status/status.h"

namespace xgate::status {
namespace {

void Carry(const std::vector<model::Condition>& previous, std::vector<model::Condition>& next) {
  for (auto& c : next) {
    for (const auto& p : previous) {
      if (p.type == c.type && p.status == c.status && !p.last_transition_time.empty()) {
        c.last_transition_time = p.last_transition_time;
        break;
      }
    }
  }
}

// Gateways and ListenerSets: their conditions, and each listener's by name.
template <typename Map>
void CarryWithListeners(const Map& previous, Map& next) {
  for (auto& [key, status] : next) {
    auto it = previous.find(key);
    if (it == previous.end()) continue;
    Carry(it->second.conditions, status.conditions);
    for (auto& listener : status.listeners) {
      for (const auto& old : it->second.listeners) {
        if (old.name == listener.name) Carry(old.conditions, listener.conditions);
      }
    }
  }
}

bool SameParent(const model::ParentReference& a, const model::ParentReference& b) {
  return a.group == b.group && a.kind == b.kind && a.ns == b.ns && a.name == b.name &&
         a.section_name == b.section_name && a.port == b.port;
}

}  // namespace

void CarryTransitionTimes(const binder::Statuses& previous, binder::Statuses& next) {
  for (auto& [key, status] : next.gateway_classes) {
    auto it = previous.gateway_classes.find(key);
    if (it != previous.gateway_classes.end()) Carry(it->second.conditions, status.conditions);
  }
  CarryWithListeners(previous.gateways, next.gateways);
  CarryWithListeners(previous.listener_sets, next.listener_sets);
  for (auto& [key, status] : next.routes) {
    auto it = previous.routes.find(key);
    if (it == previous.routes.end()) continue;
    for (auto& parent : status.parents) {
      for (const auto& old : it->second.parents) {
        if (SameParent(old.parent_ref, parent.parent_ref)) Carry(old.conditions, parent.conditions);
      }
    }
  }
  for (auto& [key, status] : next.policies) {
    auto it = previous.policies.find(key);
    if (it == previous.policies.end()) continue;
    for (auto& ancestor : status.ancestors) {
      for (const auto& old : it->second.ancestors) {
        if (SameParent(old.parent_ref, ancestor.parent_ref)) {
          Carry(old.conditions, ancestor.conditions);
        }
      }
    }
  }
}

}  // namespace xgate::status

namespace xgate::status {

std::string NowRfc3339() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

}  // namespace xgate::status

#include <tuple>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/status/status.h"

namespace xgate::status {
namespace {

// Gateways and ListenerSets: their conditions, and each listener's by name.
template <typename Map>
void CarryWithListeners(const Map& previous, Map& next) {
  for (auto& [key, status] : next) {
    auto it = previous.find(key);
    if (it == previous.end()) continue;
    binder::CarryTransitionTimes(it->second.conditions, status.conditions);
    for (auto& listener : status.listeners) {
      for (const auto& old : it->second.listeners) {
        if (old.name == listener.name)
          binder::CarryTransitionTimes(old.conditions, listener.conditions);
      }
    }
  }
}

}  // namespace

void CarryTransitionTimes(const binder::Statuses& previous, binder::Statuses& next) {
  for (auto& [key, status] : next.gateway_classes) {
    auto it = previous.gateway_classes.find(key);
    if (it != previous.gateway_classes.end())
      binder::CarryTransitionTimes(it->second.conditions, status.conditions);
  }
  CarryWithListeners(previous.gateways, next.gateways);
  CarryWithListeners(previous.listener_sets, next.listener_sets);
  // Both in key order: walked together. A status shared with `previous` is its own.
  auto old = previous.routes.begin();
  for (auto& [key, status] : next.routes) {
    // Most are the very status of the same key in `previous`: a pointer compare, no key compare.
    if (old != previous.routes.end() && old->second == status) {
      ++old;
      continue;
    }
    while (old != previous.routes.end() && old->first < key) ++old;
    if (old == previous.routes.end() || old->first != key || old->second == status) continue;
    model::RouteStatus carried = *status;
    binder::CarryTransitionTimes(*old->second, carried);
    bool kept = true;  // the binder carried them already (BindOptions::previous)
    for (size_t p = 0; p < carried.parents.size(); ++p) {
      for (size_t c = 0; c < carried.parents[p].conditions.size(); ++c) {
        kept = kept && carried.parents[p].conditions[c].last_transition_time ==
                           status->parents[p].conditions[c].last_transition_time;
      }
    }
    if (!kept) status = std::make_shared<const model::RouteStatus>(std::move(carried));
  }
  for (auto& [key, status] : next.policies) {
    auto it = previous.policies.find(key);
    if (it == previous.policies.end()) continue;
    for (auto& ancestor : status.ancestors) {
      for (const auto& old : it->second.ancestors) {
        if (old.parent_ref == ancestor.parent_ref) {
          binder::CarryTransitionTimes(old.conditions, ancestor.conditions);
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

#include "agent/kube/status_merge.h"

#include <vector>

#include "agent/model/objects.h"

namespace xgate::kube {
namespace {

using nlohmann::json;

const json& Field(const json& object, const char* name) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(name);
  return it == object.end() ? kNull : *it;
}

json ObjectOrEmpty(const json& value) { return value.is_object() ? value : json::object(); }

// Conditions in `next` take the lastTransitionTime of the same type and status in `previous`.
void CarryTransitionTimes(const json& previous, json& next) {
  if (!previous.is_array() || !next.is_array()) return;
  for (json& condition : next) {
    for (const json& old : previous) {
      const json& time = Field(old, "lastTransitionTime");
      if (Field(old, "type") == Field(condition, "type") &&
          Field(old, "status") == Field(condition, "status") && time.is_string()) {
        condition["lastTransitionTime"] = time;
        break;
      }
    }
  }
}

// The parentRef with the CRD's defaults filled in, so two spellings of one parent compare
// equal.
json NormalizedParentRef(const json& ref) {
  json out = ObjectOrEmpty(ref);
  if (!out.contains("group")) out["group"] = model::kGatewayGroup;
  if (!out.contains("kind")) out["kind"] = "Gateway";
  return out;
}

bool EmptyValue(const json& value) {
  return value.is_null() || ((value.is_array() || value.is_object()) && value.empty());
}

json WithoutEmptyFields(const json& status) {
  json out = json::object();
  if (!status.is_object()) return out;
  for (const auto& [key, value] : status.items()) {
    if (!EmptyValue(value)) out[key] = value;
  }
  return out;
}

}  // namespace

json MergeGatewayClassStatus(const json& current, const json& ours) {
  json merged = ObjectOrEmpty(current);
  json conditions = Field(ours, "conditions");
  CarryTransitionTimes(Field(current, "conditions"), conditions);
  merged["conditions"] = std::move(conditions);
  return merged;
}

json MergeGatewayStatus(const json& current, const json& ours) {
  json merged = MergeListenerSetStatus(current, ours);
  for (const char* field : {"addresses", "attachedListenerSets"}) {
    const json& value = Field(ours, field);
    if (EmptyValue(value)) {
      merged.erase(field);
    } else {
      merged[field] = value;
    }
  }
  return merged;
}

// A Gateway's status without its addresses and count: what a ListenerSet's has.
json MergeListenerSetStatus(const json& current, const json& ours) {
  json merged = ObjectOrEmpty(current);
  json conditions = Field(ours, "conditions");
  CarryTransitionTimes(Field(current, "conditions"), conditions);
  merged["conditions"] = std::move(conditions);

  json listeners = Field(ours, "listeners");
  if (!listeners.is_array()) listeners = json::array();
  for (json& listener : listeners) {
    for (const json& old : Field(current, "listeners")) {
      if (Field(old, "name") == Field(listener, "name")) {
        CarryTransitionTimes(Field(old, "conditions"), listener["conditions"]);
      }
    }
  }
  merged["listeners"] = std::move(listeners);
  return merged;
}

json DefaultListenerSetStatus() {
  json conditions = json::array();
  for (const char* type : {"Accepted", "Programmed"}) {
    conditions.push_back({{"type", type},
                          {"status", "Unknown"},
                          {"reason", "Pending"},
                          {"message", "Waiting for controller"},
                          {"lastTransitionTime", "1970-01-01T00:00:00Z"}});
  }
  return {{"conditions", std::move(conditions)}};
}

// Route parents and policy ancestors merge alike: `list` entries keyed by their `ref`.
json MergeControllerEntries(const json& current, const json& ours, const std::string& controller,
                            const char* list, const char* ref_key) {
  json desired = Field(ours, list);
  if (!desired.is_array()) desired = json::array();
  std::vector<bool> placed(desired.size(), false);

  json parents = json::array();
  const json& existing = Field(current, list);
  if (existing.is_array()) {
    for (const json& entry : existing) {
      if (Field(entry, "controllerName") != controller) {
        parents.push_back(entry);
        continue;
      }
      json ref = NormalizedParentRef(Field(entry, ref_key));
      for (size_t i = 0; i < desired.size(); ++i) {
        if (placed[i] || NormalizedParentRef(Field(desired[i], ref_key)) != ref) continue;
        json replacement = desired[i];
        CarryTransitionTimes(Field(entry, "conditions"), replacement["conditions"]);
        parents.push_back(std::move(replacement));
        placed[i] = true;
        break;
      }
    }
  }
  for (size_t i = 0; i < desired.size(); ++i) {
    if (!placed[i]) parents.push_back(desired[i]);
  }

  json merged = ObjectOrEmpty(current);
  merged[list] = std::move(parents);
  return merged;
}

json MergeRouteStatus(const json& current, const json& ours, const std::string& controller) {
  return MergeControllerEntries(current, ours, controller, "parents", "parentRef");
}

json MergePolicyStatus(const json& current, const json& ours, const std::string& controller) {
  return MergeControllerEntries(current, ours, controller, "ancestors", "ancestorRef");
}

bool SameStatus(const json& current, const json& merged) {
  return WithoutEmptyFields(current) == WithoutEmptyFields(merged);
}

}  // namespace xgate::kube

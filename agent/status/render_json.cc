#include "agent/status/status.h"

namespace xgate::status {
namespace {

using nlohmann::json;

json ConditionsJson(const std::vector<model::Condition>& conditions) {
  json out = json::array();
  for (const auto& c : conditions) out.push_back(ConditionJson(c));
  return out;
}

// Gateway status.listeners and ListenerSet status.listeners (ListenerEntryStatus): one shape.
json ListenersJson(const std::vector<model::ListenerStatus>& listeners) {
  json out = json::array();
  for (const auto& l : listeners) {
    json kinds = json::array();
    for (const auto& k : l.supported_kinds) kinds.push_back({{"group", k.group}, {"kind", k.kind}});
    out.push_back({{"name", l.name},
                   {"supportedKinds", std::move(kinds)},
                   {"attachedRoutes", l.attached_routes},
                   {"conditions", ConditionsJson(l.conditions)}});
  }
  return out;
}

json ParentRefJson(const model::ParentReference& ref) {
  json out = {{"group", ref.group}, {"kind", ref.kind}, {"name", ref.name}};
  if (ref.ns) out["namespace"] = *ref.ns;
  if (ref.section_name) out["sectionName"] = *ref.section_name;
  if (ref.port) out["port"] = *ref.port;
  return out;
}

// A Secret's body never leaves the agent (status, check, admin API): each key of data and
// stringData stays, its value replaced by its size.
void RedactSecretData(json& item) {
  json data = json::object();
  for (const char* field : {"data", "stringData"}) {
    auto it = item.find(field);
    if (it == item.end()) continue;
    if (it->is_object()) {
      for (const auto& [key, value] : it->items()) {
        size_t size = value.is_string() ? value.get_ref<const std::string&>().size() : 0;
        data[key] = "(redacted, " + std::to_string(size) + " characters)";
      }
    }
    item.erase(it);
  }
  item["data"] = std::move(data);
}

// The object as stored, with the metadata the agent keeps (generation, creation time)
// brought up to date.
json ItemJson(const model::Object& object, model::Kind kind) {
  json item = object.raw.is_object() ? object.raw.Parse() : json::object();
  if (!item.contains("apiVersion")) {
    std::string group = model::KindGroup(kind);
    item["apiVersion"] = group.empty() ? "v1" : group + "/v1";
  }
  if (!item.contains("kind")) item["kind"] = model::KindName(kind);
  json& meta = item["metadata"];
  if (!meta.is_object()) meta = json::object();
  meta["name"] = object.meta.name;
  if (!object.meta.ns.empty()) meta["namespace"] = object.meta.ns;
  if (std::string(model::KindGroup(kind)) == model::kGatewayGroup) {
    meta["generation"] = object.meta.generation;
  }
  if (!object.meta.creation_timestamp.empty()) {
    meta["creationTimestamp"] = object.meta.creation_timestamp;
  }
  item.erase("status");
  if (kind == model::Kind::kSecret) RedactSecretData(item);
  return item;
}

template <typename Map, typename StatusFn>
void AddAll(const Map& objects, model::Kind kind, StatusFn status_of, json& items) {
  for (const auto& [key, object] : objects) {
    json item = ItemJson(object, kind);
    json status = status_of(key);
    if (!status.is_null()) item["status"] = std::move(status);
    items.push_back(std::move(item));
  }
}

}  // namespace

json ConditionJson(const model::Condition& c) {
  return {{"type", c.type},
          {"status", c.status},
          {"reason", c.reason},
          {"message", c.message},
          {"observedGeneration", c.observed_generation},
          {"lastTransitionTime", c.last_transition_time}};
}

json GatewayClassStatusJson(const model::GatewayClassStatus& status) {
  return {{"conditions", ConditionsJson(status.conditions)}};
}

json GatewayStatusJson(const model::GatewayStatus& status) {
  json addresses = json::array();
  for (const auto& a : status.addresses)
    addresses.push_back({{"type", a.type}, {"value", a.value}});
  json out = {{"conditions", ConditionsJson(status.conditions)},
              {"listeners", ListenersJson(status.listeners)}};
  if (!addresses.empty()) out["addresses"] = std::move(addresses);
  if (status.attached_listener_sets) out["attachedListenerSets"] = *status.attached_listener_sets;
  return out;
}

json ListenerSetStatusJson(const model::ListenerSetStatus& status) {
  return {{"conditions", ConditionsJson(status.conditions)},
          {"listeners", ListenersJson(status.listeners)}};
}

json RouteStatusJson(const model::RouteStatus& status) {
  json parents = json::array();
  for (const auto& p : status.parents) {
    parents.push_back({{"parentRef", ParentRefJson(p.parent_ref)},
                       {"controllerName", p.controller_name},
                       {"conditions", ConditionsJson(p.conditions)}});
  }
  return {{"parents", std::move(parents)}};
}

json PolicyStatusJson(const model::PolicyStatus& status) {
  json ancestors = json::array();
  for (const auto& a : status.ancestors) {
    ancestors.push_back({{"ancestorRef", ParentRefJson(a.parent_ref)},
                         {"controllerName", a.controller_name},
                         {"conditions", ConditionsJson(a.conditions)}});
  }
  return {{"ancestors", std::move(ancestors)}};
}

json ObjectList(const model::Store& store, const binder::Statuses& statuses) {
  json items = json::array();
  auto none = [](const model::Store::Key&) { return json(); };
  // The status the binder gave the object at a key, rendered; null when it gave none.
  auto rendered = [](const auto& found, auto render) {
    return [&found, render](const model::Store::Key& key) {
      auto it = found.find(key);
      return it == found.end() ? json() : render(it->second);
    };
  };
  AddAll(store.gateway_classes, model::Kind::kGatewayClass,
         rendered(statuses.gateway_classes, GatewayClassStatusJson), items);
  AddAll(store.gateways, model::Kind::kGateway, rendered(statuses.gateways, GatewayStatusJson),
         items);
  AddAll(store.listener_sets, model::Kind::kListenerSet,
         rendered(statuses.listener_sets, ListenerSetStatusJson), items);
  auto route_status = [&](model::Kind kind) {
    return [&statuses, kind](const model::Store::Key& key) {
      auto it = statuses.routes.find(model::ObjectKey{kind, key.first, key.second});
      return it == statuses.routes.end() ? json() : RouteStatusJson(*it->second);
    };
  };
  AddAll(store.http_routes, model::Kind::kHTTPRoute, route_status(model::Kind::kHTTPRoute), items);
  AddAll(store.tcp_routes, model::Kind::kTCPRoute, route_status(model::Kind::kTCPRoute), items);
  AddAll(store.udp_routes, model::Kind::kUDPRoute, route_status(model::Kind::kUDPRoute), items);
  AddAll(store.tls_routes, model::Kind::kTLSRoute, route_status(model::Kind::kTLSRoute), items);
  AddAll(store.grpc_routes, model::Kind::kGRPCRoute, route_status(model::Kind::kGRPCRoute), items);
  AddAll(store.reference_grants, model::Kind::kReferenceGrant, none, items);
  AddAll(
      store.backend_tls_policies, model::Kind::kBackendTLSPolicy,
      [&](const model::Store::Key& key) {
        auto it = statuses.policies.find({model::Kind::kBackendTLSPolicy, key.first, key.second});
        return it == statuses.policies.end() ? json() : PolicyStatusJson(it->second);
      },
      items);
  AddAll(store.namespaces, model::Kind::kNamespace, none, items);
  AddAll(store.services, model::Kind::kService, none, items);
  AddAll(store.endpoint_slices, model::Kind::kEndpointSlice, none, items);
  AddAll(store.secrets, model::Kind::kSecret, none, items);
  AddAll(store.config_maps, model::Kind::kConfigMap, none, items);
  return {{"apiVersion", "v1"},
          {"kind", "List"},
          {"metadata", {{"resourceVersion", ""}}},
          {"items", std::move(items)}};
}

}  // namespace xgate::status

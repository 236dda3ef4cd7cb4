#include "agent/model/objects.h"

#include "agent/model/json_text.h"

namespace xgate::model {

RawJson::RawJson(const nlohmann::json& value)
    : text_(value.is_null() ? std::string() : CompactJson(value)) {}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kGatewayClass:
      return "GatewayClass";
    case Kind::kGateway:
      return "Gateway";
    case Kind::kHTTPRoute:
      return "HTTPRoute";
    case Kind::kTCPRoute:
      return "TCPRoute";
    case Kind::kUDPRoute:
      return "UDPRoute";
    case Kind::kTLSRoute:
      return "TLSRoute";
    case Kind::kReferenceGrant:
      return "ReferenceGrant";
    case Kind::kNamespace:
      return "Namespace";
    case Kind::kService:
      return "Service";
    case Kind::kEndpointSlice:
      return "EndpointSlice";
    case Kind::kSecret:
      return "Secret";
    case Kind::kGRPCRoute:
      return "GRPCRoute";
    case Kind::kBackendTLSPolicy:
      return "BackendTLSPolicy";
    case Kind::kConfigMap:
      return "ConfigMap";
    case Kind::kListenerSet:
      return "ListenerSet";
  }
  return "?";
}

const char* KindGroup(Kind kind) {
  switch (kind) {
    case Kind::kNamespace:
    case Kind::kService:
    case Kind::kSecret:
    case Kind::kConfigMap:
      return "";
    case Kind::kEndpointSlice:
      return "discovery.k8s.io";
    default:
      return kGatewayGroup;
  }
}

bool IsRouteKind(Kind kind) {
  return kind == Kind::kHTTPRoute || kind == Kind::kTCPRoute || kind == Kind::kUDPRoute ||
         kind == Kind::kTLSRoute || kind == Kind::kGRPCRoute;
}

std::string ObjectKey::ToString() const {
  return std::string(KindName(kind)) + " " + (ns.empty() ? name : ns + "/" + name);
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& [k, v] : match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& req : match_expressions) {
    auto it = labels.find(req.key);
    bool has = it != labels.end();
    bool in = false;
    if (has) {
      for (const auto& v : req.values) in = in || v == it->second;
    }
    if (req.op == "In" && !in) return false;
    if (req.op == "NotIn" && in) return false;
    if (req.op == "Exists" && !has) return false;
    if (req.op == "DoesNotExist" && has) return false;
  }
  return true;
}

const Object* Store::Find(const ObjectKey& key) const {
  Key k{key.ns, key.name};
  auto find = [&](const auto& m) -> const Object* {
    auto it = m.find(k);
    return it == m.end() ? nullptr : &it->second;
  };
  switch (key.kind) {
    case Kind::kGatewayClass:
      return find(gateway_classes);
    case Kind::kGateway:
      return find(gateways);
    case Kind::kHTTPRoute:
      return find(http_routes);
    case Kind::kTCPRoute:
      return find(tcp_routes);
    case Kind::kUDPRoute:
      return find(udp_routes);
    case Kind::kTLSRoute:
      return find(tls_routes);
    case Kind::kReferenceGrant:
      return find(reference_grants);
    case Kind::kNamespace:
      return find(namespaces);
    case Kind::kService:
      return find(services);
    case Kind::kEndpointSlice:
      return find(endpoint_slices);
    case Kind::kSecret:
      return find(secrets);
    case Kind::kGRPCRoute:
      return find(grpc_routes);
    case Kind::kBackendTLSPolicy:
      return find(backend_tls_policies);
    case Kind::kConfigMap:
      return find(config_maps);
    case Kind::kListenerSet:
      return find(listener_sets);
  }
  return nullptr;
}

std::map<std::string, std::string> Store::NamespaceLabels(const std::string& ns) const {
  auto it = namespaces.find({"", ns});
  std::map<std::string, std::string> labels;
  if (it != namespaces.end()) labels = it->second.meta.labels;
  labels.emplace("kubernetes.io/metadata.name", ns);
  return labels;
}

size_t Store::Size() const {
  return gateway_classes.size() + gateways.size() + http_routes.size() + tcp_routes.size() +
         udp_routes.size() + tls_routes.size() + reference_grants.size() + namespaces.size() +
         services.size() + endpoint_slices.size() + secrets.size() + grpc_routes.size() +
         backend_tls_policies.size() + config_maps.size() + listener_sets.size();
}

}  // namespace xgate::model

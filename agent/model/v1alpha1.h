// The 2021 API (networking.x-k8s.io/v1alpha1, Gateway API v0.1-v0.3) converted to today's
// v1 shape on load. The mapping:
//   GatewayClass spec.controller            -> spec.controllerName (parametersRef.scope dropped)
//   listener (no name)                      -> name "<protocol>-<port>" ("listener-<i>" if odd)
//   listener routes {kind, group, namespaces, selector}
//                                           -> allowedRoutes {namespaces, kinds: [{group, kind}]}
//                                              + Listener::route_selector (empty: every route)
//   listener tls.certificateRef             -> tls.certificateRefs [ref] (group core -> "",
//                                              kind Secret by default); routeOverride dropped
//   route spec.gateways allow FromList      -> parentRefs from gatewayRefs
//   route spec.gateways allow All/absent    -> Object::v1alpha1_selector_binding
//   route spec.gateways allow SameNamespace -> ... + Object::v1alpha1_same_namespace_only
//   path type Prefix                        -> PathPrefix
//   path type ImplementationSpecific        -> RegularExpression
//   headers/queryParams {type, values: map} -> one match per map entry
//   forwardTo [{serviceName | backendRef, port, weight, filters}]
//                                           -> backendRefs (kind Service, weight 1 by default;
//                                              no port: the Service's only port)
//   filters RequestHeaderModifier {set/add maps} (and ModifyRequestHeader), RequestMirror
//   (and MirrorRequest), ImplementationSpecific (and Custom) -> v1 filters
//   TLSRoute rules[].matches[].snis         -> spec.hostnames (the same on every rule)
//   HTTPRoute spec.tls                      -> dropped (v1 has no per-route certificates)
// metadata.namespace defaults to "default", as for every namespaced kind.
#pragma once

#include <nlohmann/json.hpp>

#include "agent/model/objects.h"
#include "agent/model/yaml_json.h"

namespace xgate::model {

inline constexpr char kV1alpha1ApiVersion[] = "networking.x-k8s.io/v1alpha1";
// Listener key the conversion leaves for the decoder (the v1alpha1 routes.selector); the
// loader removes it from Object::raw.
inline constexpr char kV1alpha1RouteSelectorKey[] = "x-v1alpha1RouteSelector";

// BackendRef key the conversion leaves when a v1alpha1 forwardTo had no port: the decoder
// then accepts a Service reference without port (the binder takes the Service's only
// port). The loader removes it from Object::raw.
inline constexpr char kV1alpha1PortFromServiceKey[] = "x-v1alpha1PortFromService";

struct V1alpha1Binding {
  bool selector_binding = false;     // route without gatewayRefs: binds by labels
  bool same_namespace_only = false;  // gateways.allow: SameNamespace
};

// Rewrites `doc` (a whole object of `kind`) in place from v1alpha1 to v1 and copies the
// source lines of renamed fields in `lines` to their new paths. Throws DecodeError for
// what v1 cannot express.
V1alpha1Binding ConvertV1alpha1(Kind kind, nlohmann::json& doc, LineMap& lines);

}  // namespace xgate::model

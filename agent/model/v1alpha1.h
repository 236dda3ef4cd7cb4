// The 2021 API (networking.x-k8s.io/v1alpha1) converted to today's v1 shape on load.
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

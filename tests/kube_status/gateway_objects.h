// Gateway API objects as clients send them, for the status tests: xgate's and another
// controller's classes, Gateways with one HTTP listener, routes, and a parents entry of the
// other controller's that xgate must leave as it is.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/sources/kube/client.h"

namespace xgate::kube::testing {

inline constexpr char kOtherController[] = "example.com/other-controller";

inline const Resource kClasses{"gateway.networking.k8s.io", "v1", "gatewayclasses", false};
inline const Resource kGateways{"gateway.networking.k8s.io", "v1", "gateways", true};
inline const Resource kHTTPRoutes{"gateway.networking.k8s.io", "v1", "httproutes", true};
inline const Resource kListenerSets{"gateway.networking.k8s.io", "v1", "listenersets", true};

inline nlohmann::json GatewayClassJson(const std::string& name, const std::string& controller) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "GatewayClass"},
          {"metadata", {{"name", name}}},
          {"spec", {{"controllerName", controller}}}};
}

inline nlohmann::json GatewayJson(const std::string& name, const std::string& class_name) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "Gateway"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"gatewayClassName", class_name},
            {"addresses", {{{"type", "IPAddress"}, {"value", "198.18.0.10"}}}},
            {"listeners", {{{"name", "http"}, {"port", 80}, {"protocol", "HTTP"}}}}}}};
}

// Attached to each Gateway of `parents` (in default), forwarding to the Service web:8080.
inline nlohmann::json HTTPRouteJson(const std::string& name,
                                    const std::vector<std::string>& parents) {
  nlohmann::json refs = nlohmann::json::array();
  for (const auto& parent : parents) refs.push_back({{"name", parent}});
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"parentRefs", refs},
            {"rules", {{{"backendRefs", {{{"name", "web"}, {"port", 8080}, {"weight", 1}}}}}}}}}};
}

// An Accepted True condition as a controller writes it.
inline nlohmann::json AcceptedCondition(const std::string& message, int64_t generation,
                                        const std::string& time) {
  return {{"type", "Accepted"},
          {"status", "True"},
          {"reason", "Accepted"},
          {"message", message},
          {"observedGeneration", generation},
          {"lastTransitionTime", time}};
}

// The other controller's entry for its Gateway other-gw.
inline nlohmann::json OtherControllersEntry() {
  return {{"parentRef",
           {{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}, {"name", "other-gw"}}},
          {"controllerName", kOtherController},
          {"conditions", {AcceptedCondition("theirs", 1, "2020-01-01T00:00:00Z")}}};
}

}  // namespace xgate::kube::testing

// Route checks that do not depend on a parent: HTTPRoute values we cannot serve, and the
// v1alpha1 label-selector binding.
#pragma once

#include <string>

#include "agent/model/objects.h"

namespace xgate::binder {

// "" when every value of the route can be served; else "UnsupportedValue: why" or
// "IncompatibleFilters: why".
std::string CheckHTTPRoute(const model::HTTPRoute& route);
// The same for a GRPCRoute: regular expressions that RE2 refuses, ExtensionRef filters.
std::string CheckGRPCRoute(const model::GRPCRoute& route);

// v1alpha1 routes have no parentRefs: listeners select them by labels.
bool RouteBindsBySelector(const model::Object& route);

// Whether a listener's v1alpha1 route selector (labels and namespaces) takes `route`.
bool ListenerSelectsRoute(const model::Listener& listener, const std::string& gateway_ns,
                          const model::Object& route);

}  // namespace xgate::binder

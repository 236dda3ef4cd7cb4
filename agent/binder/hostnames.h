// Hostname matching as the Gateway API defines it for listeners and routes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace xgate::binder {

// "*.example.com" matches "foo.example.com" and "a.b.example.com", never "example.com".
bool WildcardMatches(std::string_view wildcard, std::string_view host);

// The hostnames a route serves on a listener: each route hostname that intersects the
// listener's, narrowed to the more specific of the two. An empty result with
// `intersects` true means "any host the listener accepts" (neither side names one).
struct HostnameIntersection {
  bool intersects = false;
  std::vector<std::string> hostnames;
};
HostnameIntersection IntersectHostnames(const std::optional<std::string>& listener_hostname,
                                        const std::vector<std::string>& route_hostnames);

// Whether every host that `pattern` matches is also matched by `wider`: "" covers
// everything, "*.example.com" covers "a.example.com" and "*.a.example.com".
bool HostnameCovers(const std::string& wider, const std::string& pattern);

// Orders hostname patterns by specificity: exact names first (alphabetical), then
// wildcards with more labels first, then "" (any host).
bool MoreSpecificHostname(const std::string& a, const std::string& b);

// MoreSpecificHostname's order before its alphabetical tie-breaker: sorting names already in
// alphabetical order by this key alone (stably) gives the same order, with one key per name.
using HostnameSpecificity = std::tuple<int, int, int>;
HostnameSpecificity Specificity(std::string_view hostname);

}  // namespace xgate::binder

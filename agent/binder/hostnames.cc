#include "agent/binder/hostnames.h"

#include <algorithm>
#include <tuple>

namespace xgate::binder {
namespace {

bool IsWildcard(std::string_view h) { return h.starts_with("*."); }

// The narrower of a route hostname and a listener hostname, if they overlap.
std::optional<std::string> Narrower(const std::string& listener, const std::string& route) {
  bool lw = IsWildcard(listener), rw = IsWildcard(route);
  if (!lw && !rw) return listener == route ? std::optional(route) : std::nullopt;
  if (lw && !rw) return WildcardMatches(listener, route) ? std::optional(route) : std::nullopt;
  if (!lw && rw) return WildcardMatches(route, listener) ? std::optional(listener) : std::nullopt;
  // Both wildcards: the one whose suffix lies within the other's is the narrower.
  std::string_view ls = std::string_view(listener).substr(1);
  std::string_view rs = std::string_view(route).substr(1);
  if (rs.ends_with(ls)) return route;
  if (ls.ends_with(rs)) return listener;
  return std::nullopt;
}

}  // namespace

bool WildcardMatches(std::string_view wildcard, std::string_view host) {
  if (!IsWildcard(wildcard)) return false;
  std::string_view suffix = wildcard.substr(1);  // ".example.com"
  return host.size() > suffix.size() && host.ends_with(suffix) && !host.starts_with(".");
}

HostnameIntersection IntersectHostnames(const std::optional<std::string>& listener_hostname,
                                        const std::vector<std::string>& route_hostnames) {
  HostnameIntersection out;
  bool listener_any = !listener_hostname || listener_hostname->empty();
  if (route_hostnames.empty()) {
    out.intersects = true;
    if (!listener_any) out.hostnames.push_back(*listener_hostname);
    return out;
  }
  for (const auto& h : route_hostnames) {
    std::optional<std::string> narrowed =
        listener_any ? std::optional(h) : Narrower(*listener_hostname, h);
    if (!narrowed) continue;
    if (std::find(out.hostnames.begin(), out.hostnames.end(), *narrowed) == out.hostnames.end()) {
      out.hostnames.push_back(*narrowed);
    }
  }
  out.intersects = !out.hostnames.empty();
  return out;
}

bool HostnameCovers(const std::string& wider, const std::string& pattern) {
  if (wider.empty() || wider == pattern) return true;
  if (!IsWildcard(wider) || pattern.empty()) return false;
  if (!IsWildcard(pattern)) return WildcardMatches(wider, pattern);
  std::string_view ws = std::string_view(wider).substr(1);
  std::string_view ps = std::string_view(pattern).substr(1);
  return ps.size() > ws.size() && ps.ends_with(ws);
}

HostnameSpecificity Specificity(std::string_view h) {
  int kind = h.empty() ? 2 : IsWildcard(h) ? 1 : 0;
  int labels = static_cast<int>(std::count(h.begin(), h.end(), '.'));
  return {kind, -labels, -static_cast<int>(h.size())};
}

bool MoreSpecificHostname(const std::string& a, const std::string& b) {
  auto ra = Specificity(a), rb = Specificity(b);
  if (ra != rb) return ra < rb;
  return a < b;
}

}  // namespace xgate::binder

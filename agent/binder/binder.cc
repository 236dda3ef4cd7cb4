#include "agent/binder/binder.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "agent/binder/backend_tls.h"
#include "agent/binder/hostnames.h"
#include "agent/binder/listeners.h"
#include "agent/binder/references.h"
#include "agent/binder/route_checks.h"

namespace xgate::binder {
namespace {

using model::Condition;

// Everything the binder needs from one route, whatever its kind.
struct RouteView {
  model::Kind kind;
  model::ObjectKey key;
  const model::Object* object = nullptr;
  const std::vector<model::ParentReference>* parents = nullptr;
  const std::vector<std::string>* hostnames = nullptr;  // HTTPRoute and TLSRoute only
  std::vector<const std::vector<model::BackendRef>*> rules;
  const model::HTTPRoute* http = nullptr;
  bool binds_by_selector = false;  // v1alpha1: attached by listener route selectors
};

std::vector<RouteView> CollectRoutes(const Store& store) {
  std::vector<RouteView> out;
  auto add = [&](model::Kind kind, const auto& map, auto&& fill) {
    for (const auto& [key, route] : map) {
      RouteView v;
      v.kind = kind;
      v.key = {kind, key.first, key.second};
      v.object = &route;
      v.parents = &route.parent_refs;
      v.binds_by_selector = RouteBindsBySelector(route);
      fill(v, route);
      out.push_back(std::move(v));
    }
  };
  add(model::Kind::kHTTPRoute, store.http_routes, [](RouteView& v, const model::HTTPRoute& r) {
    v.hostnames = &r.hostnames;
    v.http = &r;
    for (const auto& rule : r.rules) v.rules.push_back(&rule.backend_refs);
  });
  auto l4 = [](RouteView& v, const auto& r) {
    for (const auto& rule : r.rules) v.rules.push_back(&rule.backend_refs);
  };
  add(model::Kind::kTCPRoute, store.tcp_routes, l4);
  add(model::Kind::kUDPRoute, store.udp_routes, l4);
  add(model::Kind::kTLSRoute, store.tls_routes, [&](RouteView& v, const model::TLSRoute& r) {
    v.hostnames = &r.hostnames;
    l4(v, r);
  });
  return out;
}

// Backends of a route, resolved once and shared by every listener it attaches to.
struct ResolvedRoute {
  std::vector<std::vector<ResolvedBackend>> rule_backends;
  std::map<std::pair<size_t, size_t>, ResolvedBackend> mirrors;
  std::map<std::tuple<size_t, size_t, size_t>, ResolvedBackend> backend_mirrors;
  std::string invalid_reason;  // first unresolved reference, "" if all resolve
  std::string invalid_message;
};

ResolvedRoute ResolveRoute(const Store& store, const SliceIndex& slices, const RouteView& route) {
  ResolvedRoute out;
  std::string protocol = route.kind == model::Kind::kUDPRoute ? "UDP" : "TCP";
  auto note = [&](const ResolvedBackend& b) {
    if (b.invalid_reason.empty() || !out.invalid_reason.empty()) return;
    out.invalid_reason = b.invalid_reason;
    out.invalid_message = "backendRef " + b.ns + "/" + b.name + ": " + b.invalid_reason;
  };
  for (const auto* refs : route.rules) {
    auto& backends = out.rule_backends.emplace_back();
    for (const auto& ref : *refs) {
      backends.push_back(ResolveBackend(store, slices, route.kind, route.key.ns, ref, protocol));
      note(backends.back());
    }
  }
  auto mirror = [&](const model::HTTPRouteFilter& filter) {
    model::BackendRef ref;
    ref.ref = filter.request_mirror.backend_ref;
    ResolvedBackend b = ResolveBackend(store, slices, route.kind, route.key.ns, ref, protocol);
    b.filters = nullptr;  // `ref` is gone after this call
    note(b);
    return b;
  };
  if (route.http != nullptr) {
    for (size_t r = 0; r < route.http->rules.size(); ++r) {
      const auto& rule = route.http->rules[r];
      for (size_t f = 0; f < rule.filters.size(); ++f) {
        if (rule.filters[f].type != model::HTTPFilterType::kRequestMirror) continue;
        out.mirrors.emplace(std::make_pair(r, f), mirror(rule.filters[f]));
      }
      for (size_t b = 0; b < rule.backend_refs.size(); ++b) {
        const auto& filters = rule.backend_refs[b].filters;
        for (size_t f = 0; f < filters.size(); ++f) {
          if (filters[f].type != model::HTTPFilterType::kRequestMirror) continue;
          out.backend_mirrors.emplace(std::make_tuple(r, b, f), mirror(filters[f]));
        }
      }
    }
  }
  return out;
}

bool NamespaceAllowed(const Store& store, const model::AllowedRoutes& allowed,
                      const std::string& gateway_ns, const std::string& route_ns) {
  switch (allowed.from) {
    case model::AllowedRoutes::From::kAll:
      return true;
    case model::AllowedRoutes::From::kSame:
      return gateway_ns == route_ns;
    case model::AllowedRoutes::From::kSelector:
      return allowed.selector.Matches(store.NamespaceLabels(route_ns));
  }
  return false;
}

bool KindSupported(const ListenerState& l, model::Kind kind) {
  return std::any_of(l.supported_kinds.begin(), l.supported_kinds.end(), [&](const auto& k) {
    return k.group == model::kGatewayGroup && k.kind == model::KindName(kind);
  });
}

// The outcome of one parentRef: the listeners the route attaches to, or why none.
struct ParentOutcome {
  std::string reason;  // "Accepted" or a NotAccepted reason
  std::string message;
  std::vector<std::pair<ListenerState*, std::vector<std::string>>> attach;  // + hostnames
};

ParentOutcome MatchListeners(const Store& store, const RouteView& route, GatewayState& gw,
                             const std::vector<ListenerState*>& candidates,
                             const std::string& route_problem) {
  ParentOutcome out;
  if (candidates.empty()) {
    out.reason = "NoMatchingParent";
    out.message = "no listener of Gateway " + gw.key.first + "/" + gw.key.second +
                  " matches the parentRef's sectionName and port";
    return out;
  }
  std::vector<ListenerState*> allowed;
  for (ListenerState* l : candidates) {
    // A v1alpha1 listener also requires its route selector's labels on the route.
    const auto& selector = l->listener->route_selector;
    if (KindSupported(*l, route.kind) &&
        NamespaceAllowed(store, l->listener->allowed_routes, gw.key.first, route.key.ns) &&
        (!selector || selector->Matches(route.object->meta.labels))) {
      allowed.push_back(l);
    }
  }
  if (allowed.empty()) {
    out.reason = "NotAllowedByListeners";
    out.message = std::string("no matching listener allows ") + model::KindName(route.kind) +
                  " from namespace " + route.key.ns;
    return out;
  }
  static const std::vector<std::string> kNoHostnames;
  const auto& route_hostnames = route.hostnames ? *route.hostnames : kNoHostnames;
  for (ListenerState* l : allowed) {
    HostnameIntersection hi = IntersectHostnames(l->listener->hostname, route_hostnames);
    if (hi.intersects) out.attach.emplace_back(l, std::move(hi.hostnames));
  }
  if (out.attach.empty()) {
    out.reason = "NoMatchingListenerHostname";
    out.message = "no listener hostname intersects the route's hostnames";
    return out;
  }
  if (!route_problem.empty()) {
    out.attach.clear();
    out.reason = route_problem.starts_with("IncompatibleFilters") ? "IncompatibleFilters"
                                                                  : "UnsupportedValue";
    out.message = route_problem.substr(route_problem.find(':') + 2);
    return out;
  }
  out.reason = "Accepted";
  out.message = "Route is accepted";
  return out;
}

void Attach(const RouteView& route, const ResolvedRoute& resolved, ListenerState& l,
            std::vector<std::string> hostnames) {
  if (!l.attached.insert(route.key).second) return;
  BoundRoute b;
  b.key = route.key;
  b.object = route.object;
  b.hostnames = std::move(hostnames);
  b.rule_backends = resolved.rule_backends;
  b.mirrors = resolved.mirrors;
  b.backend_mirrors = resolved.backend_mirrors;
  l.bound.routes.push_back(std::move(b));
}

model::RouteParentStatus ParentStatus(const model::ParentReference& ref, const ParentOutcome& o,
                                      const ResolvedRoute& resolved, int64_t generation,
                                      const std::string& now) {
  model::RouteParentStatus s;
  s.parent_ref = ref;
  bool accepted = o.reason == "Accepted";
  s.conditions.push_back(MakeCondition("Accepted", accepted, o.reason, o.message, generation, now));
  bool resolved_ok = resolved.invalid_reason.empty();
  s.conditions.push_back(MakeCondition(
      "ResolvedRefs", resolved_ok, resolved_ok ? "ResolvedRefs" : resolved.invalid_reason,
      resolved_ok ? "All references are resolved" : resolved.invalid_message, generation, now));
  return s;
}

void BindRoute(const Store& store, const SliceIndex& slices, const RouteView& route,
               std::map<Store::Key, GatewayState>& gateways, const BindOptions& options,
               Statuses& statuses) {
  ResolvedRoute resolved = ResolveRoute(store, slices, route);
  std::string problem = route.http ? CheckHTTPRoute(*route.http) : "";
  model::RouteStatus status;
  int64_t gen = route.object->meta.generation;

  if (route.binds_by_selector) {
    // v1alpha1: every listener of ours whose route selector takes this route.
    for (auto& [gkey, gw] : gateways) {
      std::vector<ListenerState*> selecting;
      for (auto& l : gw.listeners) {
        if (ListenerSelectsRoute(*l.listener, gkey.first, *route.object)) {
          selecting.push_back(&l);
        }
      }
      if (selecting.empty()) continue;
      ParentOutcome o = MatchListeners(store, route, gw, selecting, problem);
      for (auto& [l, hosts] : o.attach) Attach(route, resolved, *l, hosts);
      model::ParentReference ref;
      ref.name = gkey.second;
      ref.ns = gkey.first;
      status.parents.push_back(ParentStatus(ref, o, resolved, gen, options.now));
    }
  }
  for (const auto& ref : *route.parents) {
    if (ref.group != model::kGatewayGroup || ref.kind != "Gateway") continue;
    auto it = gateways.find({ref.ns.value_or(route.key.ns), ref.name});
    if (it == gateways.end()) continue;  // not ours (or missing): no status from us
    GatewayState& gw = it->second;
    std::vector<ListenerState*> candidates;
    for (auto& l : gw.listeners) {
      if (ref.section_name && *ref.section_name != l.listener->name) continue;
      if (ref.port && *ref.port != l.listener->port) continue;
      candidates.push_back(&l);
    }
    ParentOutcome o = MatchListeners(store, route, gw, candidates, problem);
    for (auto& [l, hosts] : o.attach) Attach(route, resolved, *l, hosts);
    status.parents.push_back(ParentStatus(ref, o, resolved, gen, options.now));
  }
  if (!status.parents.empty()) statuses.routes[route.key] = std::move(status);
}

}  // namespace

Condition MakeCondition(const std::string& type, bool status, const std::string& reason,
                        const std::string& message, int64_t generation, const std::string& now) {
  Condition c;
  c.type = type;
  c.status = status ? "True" : "False";
  c.reason = reason;
  c.message = message;
  c.observed_generation = generation;
  c.last_transition_time = now;
  return c;
}

BindResult Bind(const Store& store, const BindOptions& options) {
  BindResult result;
  std::set<std::string> our_classes;
  for (const auto& [key, gc] : store.gateway_classes) {
    if (gc.controller_name != model::kControllerName) continue;
    our_classes.insert(key.second);
    model::GatewayClassStatus s;
    s.conditions.push_back(MakeCondition("Accepted", true, "Accepted",
                                         "GatewayClass is accepted by xgate", gc.meta.generation,
                                         options.now));
    s.conditions.push_back(MakeCondition("SupportedVersion", true, "SupportedVersion",
                                         "Gateway API version is supported", gc.meta.generation,
                                         options.now));
    result.statuses.gateway_classes[key] = std::move(s);
  }

  std::map<Store::Key, GatewayState> gateways = BindGateways(store, our_classes, options);
  SliceIndex slices(store);
  for (const RouteView& route : CollectRoutes(store)) {
    BindRoute(store, slices, route, gateways, options, result.statuses);
  }
  for (auto& [key, gw] : gateways) {
    for (auto& l : gw.listeners) {
      // Only routes whose Accepted condition is True are ever attached (see Attach).
      l.status.attached_routes = static_cast<int>(l.bound.routes.size());
      gw.status.listeners.push_back(std::move(l.status));
      result.listeners.push_back(std::move(l.bound));
    }
    result.statuses.gateways[key] = std::move(gw.status);
  }
  result.backend_tls =
      BindBackendTLSPolicies(store, result.listeners, options.now, result.statuses.policies);
  return result;
}

bool AllAccepted(const BindResult& result) {
  auto ok = [](const std::vector<Condition>& conditions) {
    for (const auto& c : conditions) {
      if (c.type == "OverlappingTLSConfig") continue;  // a warning
      bool negative = c.type == "Conflicted";
      if ((c.status == "True") == negative) return false;
      if (c.reason == "ListenersNotValid") return false;
    }
    return true;
  };
  for (const auto& [k, s] : result.statuses.gateway_classes) {
    if (!ok(s.conditions)) return false;
  }
  for (const auto& [k, s] : result.statuses.gateways) {
    if (!ok(s.conditions)) return false;
    for (const auto& l : s.listeners) {
      if (!ok(l.conditions)) return false;
    }
  }
  for (const auto& [k, s] : result.statuses.routes) {
    for (const auto& p : s.parents) {
      if (!ok(p.conditions)) return false;
    }
  }
  for (const auto& [k, s] : result.statuses.policies) {
    for (const auto& a : s.ancestors) {
      if (!ok(a.conditions)) return false;
    }
  }
  return true;
}

}  // namespace xgate::binder

#include "agent/binder/binder.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

#include "agent/binder/age.h"
#include "agent/binder/backend_tls.h"
#include "agent/binder/hostnames.h"
#include "agent/binder/listeners.h"
#include "agent/binder/references.h"
#include "agent/binder/route_checks.h"

namespace xgate::binder {
namespace {

using model::Condition;

// Whether every condition is as an accepted object's (AllAccepted).
bool Positive(const std::vector<Condition>& conditions) {
  for (const auto& c : conditions) {
    if (c.type == "OverlappingTLSConfig") continue;  // a warning
    bool negative = c.type == "Conflicted";
    if ((c.status == "True") == negative) return false;
    if (c.reason == "ListenersNotValid") return false;
  }
  return true;
}

bool Positive(const model::RouteStatus& status) {
  return std::all_of(status.parents.begin(), status.parents.end(),
                     [](const auto& p) { return Positive(p.conditions); });
}

// Everything the binder needs from one route, whatever its kind.
struct RouteView {
  model::Kind kind;
  model::ObjectKey key;
  const model::Object* object = nullptr;
  std::shared_ptr<const void> owner;  // the store's pointer to `object`
  const std::vector<model::ParentReference>* parents = nullptr;
  const std::vector<std::string>* hostnames = nullptr;  // HTTPRoute and TLSRoute only
  const model::HTTPRoute* http = nullptr;
  const model::GRPCRoute* grpc = nullptr;
  bool binds_by_selector = false;  // v1alpha1: attached by listener route selectors
};

// What binding a route reads, gathered for every route of each bind: only what a route the
// memo binds as it was needs too (its rules are read by RulesOf when it is bound afresh).
std::vector<RouteView> CollectRoutes(const Store& store) {
  std::vector<RouteView> out;
  out.reserve(store.http_routes.size() + store.tcp_routes.size() + store.udp_routes.size() +
              store.tls_routes.size() + store.grpc_routes.size());
  auto add = [&](model::Kind kind, const auto& map, auto&& fill) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const auto& [key, route] = *it;
      RouteView v;
      v.kind = kind;
      v.key = {kind, key.first, key.second};
      v.object = &route;
      v.owner = it.shared();
      v.parents = &route.parent_refs;
      v.binds_by_selector = RouteBindsBySelector(route);
      fill(v, route);
      out.push_back(std::move(v));
    }
  };
  add(model::Kind::kHTTPRoute, store.http_routes, [](RouteView& v, const model::HTTPRoute& r) {
    v.hostnames = &r.hostnames;
    v.http = &r;
  });
  auto l4 = [](RouteView&, const auto&) {};
  add(model::Kind::kTCPRoute, store.tcp_routes, l4);
  add(model::Kind::kUDPRoute, store.udp_routes, l4);
  add(model::Kind::kTLSRoute, store.tls_routes,
      [&](RouteView& v, const model::TLSRoute& r) { v.hostnames = &r.hostnames; });
  add(model::Kind::kGRPCRoute, store.grpc_routes, [](RouteView& v, const model::GRPCRoute& r) {
    v.hostnames = &r.hostnames;
    v.grpc = &r;
  });
  // Oldest first: of an HTTPRoute and a GRPCRoute that share a hostname on a listener, the
  // one attached first (the older) is the one accepted. (Without GRPCRoutes, in key order.)
  if (store.grpc_routes.empty()) return out;
  std::stable_sort(out.begin(), out.end(), [](const RouteView& a, const RouteView& b) {
    return std::tuple_cat(AgeKey(a.object->meta), std::tie(a.key.ns, a.key.name)) <
           std::tuple_cat(AgeKey(b.object->meta), std::tie(b.key.ns, b.key.name));
  });
  return out;
}

// A Service a route's backends were resolved from, as it was: the Service object (null when
// missing) and its EndpointSlices.
struct BackendDep {
  Store::Key service;
  std::shared_ptr<const void> object;
  SliceIndex::Slices slices;

  static BackendDep Of(const Store& store, const SliceIndex& index, const ResolvedBackend& b) {
    BackendDep d{{b.ns, b.name}, nullptr, index.Of(b.ns, b.name)};
    if (auto it = store.services.find(d.service); it != store.services.end()) {
      d.object = it.shared();
    }
    return d;
  }
  bool Holds(const Store& store, const SliceIndex& index) const {
    auto it = store.services.find(service);
    const void* now = it == store.services.end() ? nullptr : it.shared().get();
    return now == object.get() && index.Of(service.first, service.second) == slices;
  }
};

// gRPC needs HTTP/2 to the backend: a Service port whose appProtocol names a protocol that
// is not HTTP/2 (WebSocket) cannot serve a GRPCRoute (the spec's UnsupportedProtocol).
void CheckGRPCBackend(ResolvedBackend& b) {
  if (b.invalid_reason.empty() &&
      (b.app_protocol == "kubernetes.io/ws" || b.app_protocol == "kubernetes.io/wss")) {
    b.invalid_reason = "UnsupportedProtocol";
  }
}

// A route's rules: per rule, its backendRefs and (HTTPRoute and GRPCRoute) its filters.
struct Rules {
  std::vector<const std::vector<model::BackendRef>*> backends;
  std::vector<const std::vector<model::HTTPRouteFilter>*> filters;
};

Rules RulesOf(const RouteView& route) {
  Rules out;
  auto add = [&](const auto& rules, bool with_filters) {
    for (const auto& rule : rules) {
      out.backends.push_back(&rule.backend_refs);
      if constexpr (requires { rule.filters; }) {
        if (with_filters) out.filters.push_back(&rule.filters);
      }
    }
  };
  switch (route.kind) {
    case model::Kind::kHTTPRoute:
      add(route.http->rules, true);
      break;
    case model::Kind::kGRPCRoute:
      add(route.grpc->rules, true);
      break;
    case model::Kind::kTCPRoute:
      add(static_cast<const model::TCPRoute*>(route.object)->rules, false);
      break;
    case model::Kind::kUDPRoute:
      add(static_cast<const model::UDPRoute*>(route.object)->rules, false);
      break;
    case model::Kind::kTLSRoute:
      add(static_cast<const model::TLSRoute*>(route.object)->rules, false);
      break;
    default:
      break;
  }
  return out;
}

// `deps` gets every Service the backends were resolved from.
RouteBackends ResolveRoute(const Store& store, const SliceIndex& slices, const RouteView& route,
                           std::vector<BackendDep>& deps) {
  RouteBackends out;
  const Rules rules = RulesOf(route);
  std::string protocol = route.kind == model::Kind::kUDPRoute ? "UDP" : "TCP";
  auto note = [&](const ResolvedBackend& b) {
    deps.push_back(BackendDep::Of(store, slices, b));
    if (b.invalid_reason.empty() || !out.invalid_reason.empty()) return;
    out.invalid_reason = b.invalid_reason;
    out.invalid_message = "backendRef " + b.ns + "/" + b.name + ": " + b.invalid_reason;
  };
  for (const auto* refs : rules.backends) {
    auto& backends = out.rule_backends.emplace_back();
    for (const auto& ref : *refs) {
      backends.push_back(ResolveBackend(store, slices, route.kind, route.key.ns, ref, protocol));
      if (route.grpc) CheckGRPCBackend(backends.back());
      note(backends.back());
    }
  }
  auto mirror = [&](const model::HTTPRouteFilter& filter) {
    model::BackendRef ref;
    ref.ref = filter.request_mirror.backend_ref;
    ResolvedBackend b = ResolveBackend(store, slices, route.kind, route.key.ns, ref, protocol);
    b.filters = nullptr;  // `ref` is gone after this call
    if (route.grpc) CheckGRPCBackend(b);
    note(b);
    return b;
  };
  for (size_t r = 0; r < rules.filters.size(); ++r) {
    const auto& filters = *rules.filters[r];
    for (size_t f = 0; f < filters.size(); ++f) {
      if (filters[f].type != model::HTTPFilterType::kRequestMirror) continue;
      out.mirrors.emplace(std::make_pair(r, f), mirror(filters[f]));
    }
    const auto& refs = *rules.backends[r];
    for (size_t b = 0; b < refs.size(); ++b) {
      const auto& backend_filters = refs[b].filters;
      for (size_t f = 0; f < backend_filters.size(); ++f) {
        if (backend_filters[f].type != model::HTTPFilterType::kRequestMirror) continue;
        out.backend_mirrors.emplace(std::make_tuple(r, b, f), mirror(backend_filters[f]));
      }
    }
  }
  return out;
}

// `owner_ns`: the namespace of the listener's Gateway or ListenerSet ("Same").
bool NamespaceAllowed(const Store& store, const model::AllowedRoutes& allowed,
                      const std::string& owner_ns, const std::string& route_ns) {
  switch (allowed.from) {
    case model::AllowedRoutes::From::kAll:
      return true;
    case model::AllowedRoutes::From::kSame:
      return owner_ns == route_ns;
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

// An HTTPRoute (GRPCRoute) already attached to `l` whose hostnames there intersect
// `hostnames`, the hostnames a GRPCRoute (HTTPRoute) would serve on it; nullptr if none.
// (An empty list is every host the listener accepts.)
const BoundRoute* CrossKindConflict(const RouteView& route, const ListenerState& l,
                                    const std::vector<std::string>& hostnames) {
  model::Kind other = route.kind == model::Kind::kGRPCRoute   ? model::Kind::kHTTPRoute
                      : route.kind == model::Kind::kHTTPRoute ? model::Kind::kGRPCRoute
                                                              : route.kind;
  auto others = l.attached_by_kind.find(other);
  if (other == route.kind || others == l.attached_by_kind.end()) return nullptr;
  for (size_t i : others->second) {
    const BoundRoute& b = l.bound.routes[i];
    if (hostnames.empty() || b.hostnames.empty()) return &b;
    for (const std::string& h : hostnames) {
      if (IntersectHostnames(h, b.hostnames).intersects) return &b;
    }
  }
  return nullptr;
}

// Each ListenerSet of ours: its Gateway's state and its own (in GatewayState::sets).
using SetIndex = std::map<Store::Key, std::pair<GatewayState*, const ListenerSetState*>>;

SetIndex IndexListenerSets(std::map<Store::Key, GatewayState>& gateways) {
  SetIndex out;
  for (auto& [key, gw] : gateways) {
    for (const ListenerSetState& s : gw.sets) out.emplace(s.key, std::make_pair(&gw, &s));
  }
  return out;
}

std::string Text(const std::string& kind, const Store::Key& key) {
  return kind + " " + key.first + "/" + key.second;
}

// The outcome of one parentRef: the listeners the route attaches to, or why none.
struct ParentOutcome {
  std::string reason;  // "Accepted" or a NotAccepted reason
  std::string message;
  std::vector<std::pair<ListenerState*, std::vector<std::string>>> attach;  // + hostnames
};

// `parent`: what the parentRef names ("Gateway ns/name", "ListenerSet ns/name").
ParentOutcome MatchListeners(const Store& store, const RouteView& route, const std::string& parent,
                             const std::vector<ListenerState*>& candidates,
                             const std::string& route_problem) {
  ParentOutcome out;
  if (candidates.empty()) {
    out.reason = "NoMatchingParent";
    out.message = "no listener of " + parent + " matches the parentRef's sectionName and port";
    return out;
  }
  std::vector<ListenerState*> allowed;
  for (ListenerState* l : candidates) {
    // A v1alpha1 listener also requires its route selector's labels on the route.
    const auto& selector = l->listener->route_selector;
    if (KindSupported(*l, route.kind) &&
        NamespaceAllowed(store, l->listener->allowed_routes, l->owner_ns, route.key.ns) &&
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
  for (auto& [l, hosts] : out.attach) {
    if (const BoundRoute* other = CrossKindConflict(route, *l, hosts)) {
      out.attach.clear();
      out.reason = "NotAllowedByListeners";
      out.message = std::string(model::KindName(route.kind)) + " shares a hostname with " +
                    other->key.ToString() + " on listener " + l->listener->name +
                    "; the spec accepts only the older of an HTTPRoute and a GRPCRoute there";
      return out;
    }
  }
  out.reason = "Accepted";
  out.message = "Route is accepted";
  return out;
}

void Attach(const RouteView& route, const std::shared_ptr<const RouteBackends>& backends,
            ListenerState& l, SharedHostnames hostnames) {
  // Once each: a route's attachments are made together, by its own bind.
  if (!l.bound.routes.empty() && l.bound.routes.back().key == route.key) return;
  l.bound.routes.push_back({route.key, route.object, std::move(hostnames), backends});
  l.attached_by_kind[route.key.kind].push_back(l.bound.routes.size() - 1);
}

// What a ListenerSet parentRef finds: the object (null when missing), and when it is one of
// ours, its Gateway, whether it is accepted and where its entries are among the Gateway's
// listeners.
struct SetView {
  Store::Key key;
  std::shared_ptr<const void> object;
  Store::Key gateway;
  bool ours = false;
  bool accepted = false;
  size_t first = 0;
  size_t count = 0;
  bool operator==(const SetView&) const = default;
};

SetView ViewSet(const Store& store, const SetIndex& sets, const Store::Key& key) {
  SetView view;
  view.key = key;
  auto object = store.listener_sets.find(key);
  if (object != store.listener_sets.end()) view.object = object.shared();
  auto it = sets.find(key);
  if (it != sets.end()) {
    view.ours = true;
    view.gateway = it->second.first->key;
    view.accepted = it->second.second->accepted;
    view.first = it->second.second->first;
    view.count = it->second.second->count;
  }
  return view;
}

// What binding one route gave, kept for the next Bind.
struct RouteMemo {
  std::shared_ptr<const void> route;
  std::vector<BackendDep> deps;
  std::shared_ptr<const RouteBackends> backends;
  struct Attached {
    size_t gateway = 0;   // GatewayState::ordinal
    size_t listener = 0;  // index into GatewayState::listeners
    SharedHostnames hostnames;
  };
  std::vector<Attached> attached;
  std::shared_ptr<const model::RouteStatus> status;
  bool accepted = true;  // Positive(*status)
  // What each of the route's ListenerSet parentRefs found. ListenerSets are not in the
  // context every route depends on (a route with Gateway parentRefs reads only the Gateways'
  // own listeners, which come first): while each of these finds the same, the route binds as
  // it did, the memo's listener indexes included.
  std::vector<SetView> sets;
};

model::RouteParentStatus ParentStatus(const model::ParentReference& ref, const ParentOutcome& o,
                                      const RouteBackends& resolved, int64_t generation,
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

// Binds `route`, recording in `memo` what the next Bind needs to reuse the result (its status
// only when `remember`: a Bind without a memo keeps none).
void BindRoute(const Store& store, const SliceIndex& slices, const RouteView& route,
               std::map<Store::Key, GatewayState>& gateways, const SetIndex& sets,
               const BindOptions& options, Statuses& statuses, RouteMemo& memo, bool remember) {
  memo.route = route.owner;
  memo.backends =
      std::make_shared<const RouteBackends>(ResolveRoute(store, slices, route, memo.deps));
  const RouteBackends& resolved = *memo.backends;
  std::string problem = route.http   ? CheckHTTPRoute(*route.http)
                        : route.grpc ? CheckGRPCRoute(*route.grpc)
                                     : "";
  model::RouteStatus status;
  int64_t gen = route.object->meta.generation;
  auto attach = [&](GatewayState& gw, ParentOutcome& o) {
    for (auto& [l, hosts] : o.attach) {
      SharedHostnames shared(std::move(hosts));
      memo.attached.push_back({gw.ordinal, static_cast<size_t>(l - gw.listeners.data()), shared});
      Attach(route, memo.backends, *l, shared);
    }
  };

  if (route.binds_by_selector) {
    // v1alpha1: every listener of ours whose route selector takes this route.
    for (auto& [gkey, gw] : gateways) {
      std::vector<ListenerState*> selecting;
      for (auto& l : gw.listeners) {
        if (l.set == nullptr && ListenerSelectsRoute(*l.listener, gkey.first, *route.object)) {
          selecting.push_back(&l);
        }
      }
      if (selecting.empty()) continue;
      ParentOutcome o = MatchListeners(store, route, Text("Gateway", gkey), selecting, problem);
      attach(gw, o);
      model::ParentReference ref;
      ref.name = gkey.second;
      ref.ns = gkey.first;
      status.parents.push_back(ParentStatus(ref, o, resolved, gen, options.now));
    }
  }
  for (const auto& ref : *route.parents) {
    if (ref.group != model::kGatewayGroup) continue;
    Store::Key key{ref.ns.value_or(route.key.ns), ref.name};
    GatewayState* gw = nullptr;
    const ListenerSetState* set = nullptr;
    if (ref.kind == "Gateway") {
      auto it = gateways.find(key);
      if (it != gateways.end()) gw = &it->second;
    } else if (ref.kind == "ListenerSet") {
      if (remember) memo.sets.push_back(ViewSet(store, sets, key));
      auto it = sets.find(key);
      if (it != sets.end()) std::tie(gw, set) = it->second;
    }
    if (gw == nullptr) continue;  // not ours (or missing): no status from us
    // A Gateway parentRef reaches the Gateway's own listeners only; a ListenerSet parentRef
    // the entries of that ListenerSet, when it is accepted.
    std::vector<ListenerState*> candidates;
    size_t first = set ? set->first : 0;
    size_t count = set ? (set->accepted ? set->count : 0) : gw->listeners.size();
    for (size_t i = first; i < first + count; ++i) {
      ListenerState& l = gw->listeners[i];
      if (set == nullptr && l.set != nullptr) break;  // the ListenerSets' entries follow
      if (ref.section_name && *ref.section_name != l.listener->name) continue;
      if (ref.port && *ref.port != l.listener->port) continue;
      candidates.push_back(&l);
    }
    ParentOutcome o = MatchListeners(store, route, Text(ref.kind, key), candidates, problem);
    if (set != nullptr && !set->accepted) {
      o.message = "ListenerSet " + key.first + "/" + key.second + " is not accepted";
    }
    attach(*gw, o);
    status.parents.push_back(ParentStatus(ref, o, resolved, gen, options.now));
  }
  if (!status.parents.empty()) {
    if (options.previous != nullptr) {
      auto old = options.previous->routes.find(route.key);
      if (old != options.previous->routes.end()) CarryTransitionTimes(*old->second, status);
    }
    memo.accepted = Positive(status);
    auto shared = std::make_shared<const model::RouteStatus>(std::move(status));
    if (remember) memo.status = shared;
    statuses.routes.emplace_hint(statuses.routes.end(), route.key, std::move(shared));
  }
}

// Binds `route` as `memo` says the last Bind did (its inputs are the same), status and its
// transition times included.
// `gateways`: by GatewayState::ordinal.
void Replay(const RouteMemo& memo, const RouteView& route,
            const std::vector<GatewayState*>& gateways, Statuses& statuses) {
  for (const auto& a : memo.attached) {
    Attach(route, memo.backends, gateways.at(a.gateway)->listeners.at(a.listener), a.hostnames);
  }
  if (memo.status) statuses.routes.emplace_hint(statuses.routes.end(), route.key, memo.status);
}

// Everything besides a route's own object and its Services that binding it reads: when all
// of it is the same (the same shared objects), a route binds as it did.
std::vector<std::shared_ptr<const void>> BindContext(const Store& store) {
  std::vector<std::shared_ptr<const void>> out;
  auto add = [&](const auto& map) {
    for (auto it = map.begin(); it != map.end(); ++it) out.push_back(it.shared());
  };
  add(store.gateway_classes);
  add(store.gateways);
  add(store.namespaces);
  add(store.reference_grants);
  add(store.secrets);  // (ListenerSets: RouteMemo::sets)
  return out;
}

// What the routes' backends are resolved from, in key order.
struct BackendContext {
  std::vector<std::shared_ptr<const model::Service>> services;
  std::vector<std::shared_ptr<const model::EndpointSlice>> slices;

  static BackendContext Of(const Store& store) {
    BackendContext out;
    out.services.reserve(store.services.size());
    for (auto it = store.services.begin(); it != store.services.end(); ++it) {
      out.services.push_back(it.shared());
    }
    out.slices.reserve(store.endpoint_slices.size());
    for (auto it = store.endpoint_slices.begin(); it != store.endpoint_slices.end(); ++it) {
      out.slices.push_back(it.shared());
    }
    return out;
  }
};

// Adds to `out` the Services (namespace, name) whose object, or one of whose EndpointSlices,
// is not the same in `a` and `b`: a BackendDep on any other Service holds in `b` if it held in
// `a`. Both are walked together, so an unchanged object costs a pointer compare.
// `fresh(object, service)` is called for each object of `b` that is new or changed.
template <typename T, typename ServiceOf, typename Fresh>
void AddChanged(const std::vector<std::shared_ptr<const T>>& a,
                const std::vector<std::shared_ptr<const T>>& b, ServiceOf service_of,
                std::set<Store::Key>& out, Fresh fresh) {
  auto key = [](const T& o) { return std::tie(o.meta.ns, o.meta.name); };
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      ++i, ++j;
    } else if (j == b.size() || (i < a.size() && key(*a[i]) < key(*b[j]))) {
      out.insert(service_of(*a[i++]));  // gone
    } else if (i == a.size() || key(*b[j]) < key(*a[i])) {
      fresh(b[j], *out.insert(service_of(*b[j])).first);  // new
      ++j;
    } else {
      out.insert(service_of(*a[i++]));  // changed
      fresh(b[j], *out.insert(service_of(*b[j])).first);
      ++j;
    }
  }
}

}  // namespace

struct BindMemo::State {
  std::vector<std::shared_ptr<const void>> context;
  BackendContext backends;
  std::shared_ptr<const SliceIndex> slices;  // built from `backends`
  BindOptions options;                       // `now` aside
  bool grpc_routes = false;                  // any GRPCRoute in the store
  std::map<model::ObjectKey, RouteMemo> routes;
  // How many routes each listener got: (GatewayState::ordinal, listener index, count).
  std::vector<std::tuple<size_t, size_t, size_t>> route_counts;
};

BindMemo::BindMemo() = default;
BindMemo::~BindMemo() = default;

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

void CarryTransitionTimes(const std::vector<Condition>& previous, std::vector<Condition>& next) {
  for (auto& c : next) {
    for (const auto& p : previous) {
      if (p.type == c.type && p.status == c.status && !p.last_transition_time.empty()) {
        c.last_transition_time = p.last_transition_time;
        break;
      }
    }
  }
}

void CarryTransitionTimes(const model::RouteStatus& previous, model::RouteStatus& next) {
  for (auto& parent : next.parents) {
    for (const auto& old : previous.parents) {
      if (old.parent_ref == parent.parent_ref) {
        CarryTransitionTimes(old.conditions, parent.conditions);
      }
    }
  }
}

std::string ListenerId(const BoundListener& listener) {
  if (!listener.listener_set) return listener.listener->name;
  return listener.listener_set->first + "/" + listener.listener_set->second + "/" +
         listener.listener->name;
}

BindResult Bind(const Store& store, const BindOptions& options, BindMemo* memo) {
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
  std::vector<GatewayState*> by_ordinal;
  for (auto& [key, gw] : gateways) {
    gw.ordinal = by_ordinal.size();
    by_ordinal.push_back(&gw);
  }
  const SetIndex sets = IndexListenerSets(gateways);
  auto next = std::make_unique<BindMemo::State>();
  next->context = BindContext(store);
  BindMemo::State* last = memo != nullptr ? memo->state.get() : nullptr;
  // The Services whose object or EndpointSlices changed since the memo's bind: only a route
  // depending on one of them needs its dependencies checked.
  std::set<Store::Key> changed_services;
  // The Services whose EndpointSlices changed, with their new or changed slices.
  std::set<Store::Key> slice_services;
  std::map<Store::Key, SliceIndex::Slices> fresh_slices;
  if (memo != nullptr) {
    next->backends = BackendContext::Of(store);
    if (last != nullptr) {
      AddChanged(
          last->backends.services, next->backends.services,
          [](const model::Service& s) {
            return Store::Key{s.meta.ns, s.meta.name};
          },
          changed_services, [](const auto&, const Store::Key&) {});
      AddChanged(
          last->backends.slices, next->backends.slices,
          [](const model::EndpointSlice& s) {
            return Store::Key{s.meta.ns, s.service_name};
          },
          slice_services,
          [&](const auto& slice, const Store::Key& service) {
            fresh_slices[service].push_back(slice);
          });
      changed_services.insert(slice_services.begin(), slice_services.end());
    }
  }
  if (last != nullptr && slice_services.empty()) {
    next->slices = last->slices;  // AddChanged saw every slice the same
  } else if (last != nullptr && last->slices->OverlaySize() + slice_services.size() <=
                                    std::max<size_t>(64, store.services.size() / 8)) {
    for (const Store::Key& service : slice_services) fresh_slices[service];  // gone: emptied
    next->slices = std::make_shared<const SliceIndex>(last->slices, store, fresh_slices);
  } else {
    next->slices = std::make_shared<const SliceIndex>(store);
  }
  const SliceIndex& slices = *next->slices;
  next->options = options;
  next->options.now.clear();
  next->options.previous = nullptr;
  // A GRPCRoute's acceptance depends on the HTTPRoutes bound before it (and the other way
  // round): with GRPCRoutes present, every route is bound again.
  next->grpc_routes = !store.grpc_routes.empty();
  bool usable = last != nullptr && !next->grpc_routes && !last->grpc_routes &&
                last->context == next->context &&
                last->options.node_addresses == options.node_addresses &&
                last->options.unavailable_ports == options.unavailable_ports &&
                last->options.max_gateway_listeners == options.max_gateway_listeners;
  size_t reused = 0;
  if (usable) {
    // The same Gateways as last time: each listener gets about as many routes (ListenerSets
    // may have come or gone).
    for (const auto& [gateway, listener, count] : last->route_counts) {
      auto& listeners = by_ordinal.at(gateway)->listeners;
      if (listener < listeners.size()) listeners[listener].bound.routes.reserve(count + 16);
    }
    // Edited in place below: a route bound as it was keeps its entry.
    next->routes = std::move(last->routes);
  }
  // Routes come in key order, so the memo is walked along with them; an entry passed over
  // is a route gone.
  auto& kept = next->routes;
  auto cursor = kept.begin();
  for (const RouteView& route : CollectRoutes(store)) {
    if (usable) {
      while (cursor != kept.end() && cursor->first < route.key) cursor = kept.erase(cursor);
      if (cursor != kept.end() && cursor->first == route.key) {
        const RouteMemo& old = cursor->second;
        if (old.route == route.owner &&
            std::all_of(old.deps.begin(), old.deps.end(),
                        [&](const BackendDep& d) {
                          return !changed_services.contains(d.service) || d.Holds(store, slices);
                        }) &&
            std::all_of(old.sets.begin(), old.sets.end(),
                        [&](const SetView& v) { return v == ViewSet(store, sets, v.key); })) {
          Replay(old, route, by_ordinal, result.statuses);
          result.routes_not_accepted += old.accepted ? 0 : 1;
          ++reused;
          ++cursor;
          continue;
        }
      }
    }
    RouteMemo fresh;
    BindRoute(store, slices, route, gateways, sets, options, result.statuses, fresh,
              memo != nullptr);
    result.routes_not_accepted += fresh.accepted ? 0 : 1;
    if (memo == nullptr) continue;
    if (cursor != kept.end() && cursor->first == route.key) {
      (cursor++)->second = std::move(fresh);
    } else {
      kept.emplace_hint(cursor, route.key, std::move(fresh));
    }
  }
  kept.erase(cursor, kept.end());
  if (memo != nullptr) {
    for (const GatewayState* gw : by_ordinal) {
      for (size_t i = 0; i < gw->listeners.size(); ++i) {
        next->route_counts.emplace_back(gw->ordinal, i, gw->listeners[i].bound.routes.size());
      }
    }
    memo->state = std::move(next);
    memo->reused = reused;
  }
  for (auto& [key, gw] : gateways) {
    for (auto& l : gw.listeners) {
      // Only routes whose Accepted condition is True are ever attached (see Attach).
      l.status.attached_routes = static_cast<int>(l.bound.routes.size());
      if (l.set == nullptr) gw.status.listeners.push_back(std::move(l.status));
    }
    for (auto& s : gw.sets) {
      for (size_t i = s.first; i < s.first + s.count; ++i) {
        s.status.listeners.push_back(std::move(gw.listeners[i].status));
      }
      result.statuses.listener_sets[s.key] = std::move(s.status);
    }
    for (auto& l : gw.listeners) result.listeners.push_back(std::move(l.bound));
    result.statuses.gateways[key] = std::move(gw.status);
  }
  result.backend_tls =
      BindBackendTLSPolicies(store, result.listeners, options.now, result.statuses.policies);
  return result;
}

bool AllAccepted(const BindResult& result) {
  if (result.routes_not_accepted > 0) return false;
  for (const auto& [k, s] : result.statuses.gateway_classes) {
    if (!Positive(s.conditions)) return false;
  }
  for (const auto& [k, s] : result.statuses.gateways) {
    if (!Positive(s.conditions)) return false;
    for (const auto& l : s.listeners) {
      if (!Positive(l.conditions)) return false;
    }
  }
  for (const auto& [k, s] : result.statuses.listener_sets) {
    if (!Positive(s.conditions)) return false;
    for (const auto& l : s.listeners) {
      if (!Positive(l.conditions)) return false;
    }
  }
  for (const auto& [k, s] : result.statuses.policies) {
    for (const auto& a : s.ancestors) {
      if (!Positive(a.conditions)) return false;
    }
  }
  return true;
}

}  // namespace xgate::binder

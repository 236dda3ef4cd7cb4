#include "agent/binder/listeners.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "agent/binder/age.h"
#include "agent/binder/backend_tls.h"
#include "agent/binder/frontend_tls.h"
#include "agent/binder/hostnames.h"
#include "agent/binder/references.h"

namespace xgate::binder {
namespace {

const std::set<std::string>& SupportedProtocols() {
  static const std::set<std::string> kProtocols = {"HTTP", "HTTPS", "TLS", "TCP", "UDP"};
  return kProtocols;
}

std::string Transport(const std::string& protocol) { return protocol == "UDP" ? "UDP" : "TCP"; }

// The route kinds a listener of this protocol serves. HTTP and HTTPS listeners take
// GRPCRoute as well (the proxy speaks HTTP/2 with prior knowledge on HTTP and through ALPN
// on HTTPS, as the spec asks of GRPCRoute), as Envoy Gateway lists them.
std::vector<std::string> DefaultKinds(const model::Listener& l) {
  if (l.protocol == "HTTP" || l.protocol == "HTTPS") return {"HTTPRoute", "GRPCRoute"};
  if (l.protocol == "TLS") return {"TLSRoute"};
  if (l.protocol == "TCP") return {"TCPRoute"};
  if (l.protocol == "UDP") return {"UDPRoute"};
  return {};
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// The listeners on each port and transport of one Gateway (with its ListenerSets), counted by
// protocol and hostname, to tell which are not distinct (Gateway API "Distinct Listeners"): on
// one port and transport, every listener must have the same protocol (we cannot mix HTTP,
// HTTPS and TLS on one port) and, for HTTP/HTTPS/TLS, a different hostname; TCP and UDP
// listeners are distinct by port alone. Counting keeps this linear in the number of
// listeners, which ListenerSets do not bound.
class PortUse {
 public:
  void Add(const model::Listener& l) {
    if (!SupportedProtocols().count(l.protocol)) return;
    Use& u = ports_[{l.port, Transport(l.protocol)}];
    ++u.total;
    ++u.protocols[l.protocol];
    ++u.hostnames[l.hostname.value_or("")];
  }
  // Why `l` is not distinct from the listeners added ("" when it is). `self`: 1 when `l`
  // itself was added (it does not conflict with itself).
  std::string ConflictOf(const model::Listener& l, int self) const {
    if (!SupportedProtocols().count(l.protocol)) return "";
    auto it = ports_.find({l.port, Transport(l.protocol)});
    if (it == ports_.end()) return "";
    const Use& u = it->second;
    auto count = [](const std::map<std::string, int>& m, const std::string& k) {
      auto c = m.find(k);
      return c == m.end() ? 0 : c->second;
    };
    int same_protocol = count(u.protocols, l.protocol) - self;
    if (u.total - self > same_protocol) return "ProtocolConflict";  // another protocol
    if (same_protocol == 0) return "";
    if (l.protocol == "TCP" || l.protocol == "UDP") return "ProtocolConflict";
    return count(u.hostnames, l.hostname.value_or("")) - self > 0 ? "HostnameConflict" : "";
  }

 private:
  struct Use {
    int total = 0;
    std::map<std::string, int> protocols;
    std::map<std::string, int> hostnames;
  };
  std::map<std::pair<int, std::string>, Use> ports_;
};

// The Gateway's own listeners that are not distinct from another of them (each is marked).
std::map<size_t, std::string> FindConflicts(const model::Gateway& gw) {
  PortUse use;
  for (const auto& l : gw.listeners) use.Add(l);
  std::map<size_t, std::string> conflicts;
  for (size_t i = 0; i < gw.listeners.size(); ++i) {
    if (std::string c = use.ConflictOf(gw.listeners[i], 1); !c.empty()) conflicts[i] = c;
  }
  return conflicts;
}

// The wildcards that cover `hostname` strictly: "a.b.example.com" and "*.b.example.com" are
// both covered by "*.example.com" and "*.com" (HostnameCovers).
std::vector<std::string> CoveringWildcards(const std::string& hostname) {
  std::string_view base = hostname;
  if (base.starts_with("*.")) base.remove_prefix(2);
  std::vector<std::string> out;
  for (size_t dot = base.find('.'); dot != std::string_view::npos && dot + 1 < base.size();
       dot = base.find('.', dot + 1)) {
    out.push_back("*" + std::string(base.substr(dot)));
  }
  return out;
}

// The HTTPS listeners of a Gateway's merged list (its own, then its ListenerSets' entries) on
// one port, indexed by hostname so that finding the ones a hostname overlaps (one covers the
// other; no hostname overlaps every other) is linear in the listeners, which ListenerSets do
// not bound.
class TlsHostnames {
 public:
  void Add(size_t index, const std::optional<std::string>& hostname) {
    all_.push_back(index);
    if (!hostname || hostname->empty()) {
      any_.push_back(index);
      return;
    }
    by_name_[*hostname].push_back(index);
    for (auto& w : CoveringWildcards(*hostname)) covered_by_[std::move(w)].push_back(index);
  }
  // The first listener in the merged list other than `index` whose hostname overlaps
  // `hostname` (nullopt when none does).
  std::optional<size_t> FirstOverlap(size_t index,
                                     const std::optional<std::string>& hostname) const {
    std::optional<size_t> first;
    auto consider = [&](const std::vector<size_t>& v) {
      for (size_t j : v) {
        if (j == index) continue;
        if (!first || j < *first) first = j;
        return;  // each list is in merged order
      }
    };
    if (!hostname || hostname->empty()) {
      consider(all_);
      return first;
    }
    consider(any_);
    auto find = [&](const auto& map, const std::string& key) {
      if (auto it = map.find(key); it != map.end()) consider(it->second);
    };
    find(by_name_, *hostname);
    for (const auto& w : CoveringWildcards(*hostname)) find(by_name_, w);
    if (hostname->starts_with("*.")) find(covered_by_, *hostname);
    return first;
  }

 private:
  std::vector<size_t> all_;
  std::vector<size_t> any_;  // no hostname
  std::unordered_map<std::string, std::vector<size_t>> by_name_;
  std::unordered_map<std::string, std::vector<size_t>> covered_by_;  // wildcard -> narrower
};

// Who `other` is, as the status of `self` may name it: a ListenerSet entry names the listener
// of its Gateway or of its own ListenerSet, never a sibling ListenerSet's (the spec asks not
// to leak what a ListenerSet could not read).
std::string DescribeOther(const ListenerState& self, const ListenerState& other,
                          const Store::Key& gateway) {
  const std::string name = "listener " + other.listener->name;
  if (other.set == self.set) return name;
  if (other.set == nullptr) return name + " of Gateway " + gateway.first + "/" + gateway.second;
  if (self.set == nullptr) {
    return name + " of ListenerSet " + other.set->meta.ns + "/" + other.set->meta.name;
  }
  return "a listener of another ListenerSet";
}

// OverlappingTLSConfig (GEP-3567) on every HTTPS listener of the merged list whose hostname
// overlaps another's on the same port: the Gateway's own listeners and the entries of its
// ListenerSets that are in the list (an entry refused for a conflict or the listener limit is
// not). A warning, present only when True.
void MarkOverlappingTls(GatewayState& state, const std::string& now) {
  auto in_list = [](const ListenerState& l) {
    return l.listener->protocol == "HTTPS" && (l.set == nullptr || !l.refused);
  };
  std::map<int, TlsHostnames> by_port;
  for (size_t i = 0; i < state.listeners.size(); ++i) {
    const ListenerState& l = state.listeners[i];
    if (in_list(l)) by_port[l.listener->port].Add(i, l.listener->hostname);
  }
  for (size_t i = 0; i < state.listeners.size(); ++i) {
    ListenerState& l = state.listeners[i];
    if (!in_list(l)) continue;
    std::optional<size_t> j = by_port[l.listener->port].FirstOverlap(i, l.listener->hostname);
    if (!j) continue;
    const int64_t gen = l.set != nullptr ? l.set->meta.generation : state.gateway->meta.generation;
    l.status.conditions.push_back(MakeCondition(
        "OverlappingTLSConfig", true, "OverlappingHostnames",
        "hostname overlaps " + DescribeOther(l, state.listeners[*j], state.key) +
            " on the same port: connection coalescing may send requests to the wrong listener",
        gen, now));
  }
}

// Route kinds a listener supports, and whether every kind it asked for is one of them.
std::pair<std::vector<model::RouteGroupKind>, bool> SupportedKinds(const model::Listener& l) {
  std::vector<std::string> kinds = DefaultKinds(l);
  if (l.protocol == "TLS" && l.tls && l.tls->mode == model::GatewayTLSConfig::Mode::kTerminate) {
    kinds.clear();  // TLS termination with TLSRoute is not supported
  }
  std::vector<model::RouteGroupKind> out;
  if (l.allowed_routes.kinds.empty()) {
    for (const auto& kind : kinds) out.push_back({model::kGatewayGroup, kind});
    return {out, true};
  }
  bool all_valid = true;
  for (const auto& k : l.allowed_routes.kinds) {
    bool known = std::find(kinds.begin(), kinds.end(), k.kind) != kinds.end();
    if (k.group == model::kGatewayGroup && known) {
      bool listed = std::any_of(out.begin(), out.end(),
                                [&](const model::RouteGroupKind& o) { return o.kind == k.kind; });
      if (!listed) out.push_back(k);
    } else {
      all_valid = false;
    }
  }
  return {out, all_valid};
}

struct RefsOutcome {
  std::string reason = "ResolvedRefs";
  std::string message = "All references are resolved";
  std::vector<const model::Secret*> certificates;
};

// A listener's certificateRefs, as its owner (a Gateway or a ListenerSet, `from_kind`, in
// `owner_ns`) may read them: a ListenerSet does not inherit its Gateway's ReferenceGrants.
RefsOutcome ResolveCertificates(const Store& store, const std::string& from_kind,
                                const std::string& owner_ns, const model::Listener& l) {
  RefsOutcome out;
  if (l.protocol != "HTTPS") return out;
  if (!l.tls || l.tls->certificate_refs.empty()) {
    out.reason = "InvalidCertificateRef";
    out.message = "an HTTPS listener needs tls.certificateRefs";
    return out;
  }
  for (const auto& ref : l.tls->certificate_refs) {
    SecretRef resolved = ResolveGatewaySecretRef(store, ref, owner_ns, "certificateRef", from_kind);
    if (resolved.secret != nullptr) {
      out.certificates.push_back(resolved.secret);
    } else if (out.reason == "ResolvedRefs") {
      out.reason = resolved.not_permitted ? "RefNotPermitted" : "InvalidCertificateRef";
      out.message = std::move(resolved.problem);
    }
  }
  return out;
}

struct ListenerVerdict {
  std::string accepted_reason = "Accepted";
  std::string accepted_message = "Listener is accepted";
  std::string conflict;  // "" or HostnameConflict / ProtocolConflict
};

ListenerVerdict CheckListener(const model::Listener& l) {
  ListenerVerdict v;
  if (!SupportedProtocols().count(l.protocol)) {
    v.accepted_reason = "UnsupportedProtocol";
    v.accepted_message = "protocol " + l.protocol + " is not supported";
  } else if (l.port < 1 || l.port > 65535) {
    v.accepted_reason = "PortUnavailable";
    v.accepted_message = "port " + std::to_string(l.port) + " is out of range";
  } else if (l.protocol == "TLS" &&
             (!l.tls || l.tls->mode == model::GatewayTLSConfig::Mode::kTerminate)) {
    v.accepted_reason = "UnsupportedValue";
    v.accepted_message =
        "TLS listeners support tls.mode Passthrough only; use protocol HTTPS to terminate TLS";
  } else if (l.protocol == "HTTPS" && l.tls &&
             l.tls->mode == model::GatewayTLSConfig::Mode::kPassthrough) {
    v.accepted_reason = "UnsupportedValue";
    v.accepted_message = "HTTPS listeners need tls.mode Terminate";
  }
  return v;
}

// Why the proxy cannot listen for `l` on one of `addresses` ("" when it can).
std::string PortProblem(const model::Listener& l, const std::vector<std::string>& addresses,
                        const BindOptions& options) {
  if (l.protocol != "HTTP" && l.protocol != "HTTPS" && l.protocol != "TLS") return "";
  for (const auto& a : addresses) {
    auto it = options.unavailable_ports.find({a, l.port});
    if (it == options.unavailable_ports.end()) continue;
    std::string where =
        (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" + std::to_string(l.port);
    return "cannot listen on " + where + (it->second.empty() ? "" : ": " + it->second) +
           " (retrying)";
  }
  return "";
}

// What a listener is evaluated against: the Gateway that serves it (its addresses, spec.tls,
// the ports it holds) and its owner (the Gateway itself or a ListenerSet).
struct ListenerContext {
  const Store& store;
  const Store::Key& gateway_key;
  const model::Gateway& gateway;
  const std::vector<std::string>& addresses;
  const std::string& address_problem;  // the Gateway's addresses cannot be served
  const std::string& unusable;         // an address is not an IP address
  const std::optional<BackendClientCertificate>& client_cert;
  // (address, port, transport) -> the Gateway that holds it.
  std::map<std::tuple<std::string, int, std::string>, Store::Key>& claimed;
  const BindOptions& options;
  const model::ListenerSet* set = nullptr;  // the owner, when a ListenerSet
  const std::string& owner_ns;
  int64_t generation = 0;  // the owner's
};

// How the listeners of one owner came out: its Accepted condition follows.
struct ListenerTally {
  int valid = 0;
  int waiting = 0;  // valid but for a port the proxy cannot listen on yet
  std::vector<std::string> invalid_names;
  std::vector<std::string> unresolved;  // listeners whose ResolvedRefs is False
  std::string InvalidList(const std::string& what) const {
    std::string out = what;
    for (const auto& n : invalid_names) out += " " + n;
    return out;
  }
};

// Why the merged list refuses a listener: none, a conflict with another listener, or (a
// ListenerSet entry) its place beyond BindOptions::max_gateway_listeners.
struct Refusal {
  std::string conflict;    // "" or HostnameConflict / ProtocolConflict
  size_t too_many_at = 0;  // the entry's place (1-based) in the merged list when beyond it
};

// Evaluates one listener (`index` into its owner's listeners), given why the merged list
// refuses it.
ListenerState EvaluateListener(const ListenerContext& ctx, const model::Listener& l, size_t index,
                               const Refusal& refusal, ListenerTally& tally) {
  const std::string& conflict = refusal.conflict;
  const Store& store = ctx.store;
  const BindOptions& options = ctx.options;
  const int64_t gen = ctx.generation;
  const std::vector<std::string>& addresses = ctx.addresses;
  const bool addresses_ok = ctx.address_problem.empty() && ctx.unusable.empty();
  ListenerState ls;
  ls.listener = &l;
  ls.set = ctx.set;
  ls.owner_ns = ctx.owner_ns;
  ls.bound.gateway = ctx.gateway_key;
  ls.bound.index = index;
  if (ctx.set != nullptr) ls.bound.listener_set = Store::Key{ctx.set->meta.ns, ctx.set->meta.name};
  ls.bound.listener = &l;
  ls.bound.addresses = addresses;
  if (ctx.client_cert) ls.bound.backend_client_certificate = ctx.client_cert->secret;
  ls.status.name = l.name;
  ls.refused = !conflict.empty() || refusal.too_many_at > 0;

  ListenerVerdict v = CheckListener(l);
  v.conflict = conflict;
  bool accepted = v.accepted_reason == "Accepted" && !ls.refused;
  if (refusal.too_many_at > 0) {
    // Before any other reason: the entry is not in the Gateway's list at all.
    v.accepted_reason = "TooManyListeners";
    v.accepted_message = "listener " + std::to_string(refusal.too_many_at) +
                         " of the Gateway's merged list, which is limited to " +
                         std::to_string(options.max_gateway_listeners) +
                         " (xgate-agent --max-gateway-listeners)";
  } else if (!v.conflict.empty() && v.accepted_reason == "Accepted") {
    v.accepted_reason = v.conflict;
    v.accepted_message =
        "listener is not distinct from another listener on port " + std::to_string(l.port);
  }
  if (accepted && addresses_ok) {
    for (const auto& a : addresses) {
      auto [it, fresh] =
          ctx.claimed.emplace(std::make_tuple(a, l.port, Transport(l.protocol)), ctx.gateway_key);
      if (!fresh && it->second != ctx.gateway_key) {
        accepted = false;
        v.accepted_reason = "PortUnavailable";
        v.accepted_message = a + ":" + std::to_string(l.port) + " is used by Gateway " +
                             it->second.first + "/" + it->second.second;
      }
    }
  }

  auto [kinds, kinds_valid] = SupportedKinds(l);
  ls.supported_kinds = kinds;
  ls.status.supported_kinds = kinds;
  RefsOutcome refs;
  if (!kinds_valid) {
    refs.reason = "InvalidRouteKinds";
    refs.message = "allowedRoutes.kinds names a kind this listener cannot serve";
  }
  RefsOutcome certs =
      ResolveCertificates(store, ctx.set ? "ListenerSet" : "Gateway", ctx.owner_ns, l);
  if (refs.reason == "ResolvedRefs") refs = certs;
  ls.bound.certificates = certs.certificates;
  bool certs_ok = certs.reason == "ResolvedRefs";
  FrontendValidationOutcome frontend = ResolveFrontendValidation(store, ctx.gateway, l);
  ls.bound.client_validation = frontend.validation;
  if (!frontend.refs_reason.empty() && refs.reason == "ResolvedRefs") {
    refs.reason = frontend.refs_reason;
    refs.message = frontend.refs_message;
  }
  if (frontend.no_valid_ca && accepted) {
    accepted = false;
    v.accepted_reason = "NoValidCACertificate";
    v.accepted_message = "no frontend caCertificateRef is valid: " + frontend.refs_message;
  }

  bool listener_valid = accepted && certs_ok && !kinds.empty();
  // The data plane keeps a listener whose port is taken, so the proxy retries it.
  ls.bound.programmed = listener_valid && addresses_ok && !addresses.empty();
  std::string port_problem =
      ls.bound.programmed ? PortProblem(l, addresses, options) : std::string();
  if (!port_problem.empty()) {
    accepted = false;
    v.accepted_reason = "PortUnavailable";
    v.accepted_message = port_problem;
    ++tally.waiting;
    tally.invalid_names.push_back(l.name);
  } else if (listener_valid) {
    ++tally.valid;
  } else {
    tally.invalid_names.push_back(l.name);
  }

  auto& conds = ls.status.conditions;
  conds.push_back(
      MakeCondition("Accepted", accepted, v.accepted_reason, v.accepted_message, gen, options.now));
  bool serving = ls.bound.programmed && port_problem.empty();
  // A ListenerSet entry that loses a conflict says so in Programmed too (the upstream
  // conformance tests ask for it); a Gateway listener keeps "Invalid".
  std::string not_programmed = ctx.set != nullptr && !v.conflict.empty() ? v.conflict : "Invalid";
  conds.push_back(
      MakeCondition("Programmed", serving,
                    serving ? "Programmed" : (port_problem.empty() ? not_programmed : "Pending"),
                    serving                ? "Listener is programmed"
                    : port_problem.empty() ? "Listener is not programmed"
                                           : "waiting for the port: " + port_problem,
                    gen, options.now));
  conds.push_back(MakeCondition("ResolvedRefs", refs.reason == "ResolvedRefs", refs.reason,
                                refs.message, gen, options.now));
  if (refs.reason != "ResolvedRefs") tally.unresolved.push_back(l.name);
  conds.push_back(MakeCondition(
      "Conflicted", !v.conflict.empty(), v.conflict.empty() ? "NoConflicts" : v.conflict,
      v.conflict.empty() ? "No conflicts" : "listener conflicts with another listener", gen,
      options.now));
  return ls;
}

bool ListenerSetAllowed(const Store& store, const model::AllowedListeners& allowed,
                        const std::string& gateway_ns, const std::string& set_ns) {
  switch (allowed.from) {
    case model::AllowedListeners::From::kNone:
      return false;
    case model::AllowedListeners::From::kSame:
      return gateway_ns == set_ns;
    case model::AllowedListeners::From::kSelector:
      return allowed.selector.Matches(store.NamespaceLabels(set_ns));
    case model::AllowedListeners::From::kAll:
      return true;
  }
  return false;
}

using SetList = std::vector<std::pair<const Store::Key*, const model::ListenerSet*>>;

// The ListenerSets whose parentRef names each Gateway, in the spec's precedence: oldest
// first, then by namespace/name.
std::map<Store::Key, SetList> ListenerSetsByParent(const Store& store) {
  std::map<Store::Key, SetList> out;
  for (const auto& [key, set] : store.listener_sets) {
    const model::ParentGatewayReference& p = set.parent_ref;
    if (p.group != model::kGatewayGroup || p.kind != "Gateway") continue;
    out[{p.ns.value_or(key.first), p.name}].emplace_back(&key, &set);
  }
  for (auto& [parent, sets] : out) {
    std::sort(sets.begin(), sets.end(), [](const auto& a, const auto& b) {
      return std::tuple_cat(AgeKey(a.second->meta), std::tie(*a.first)) <
             std::tuple_cat(AgeKey(b.second->meta), std::tie(*b.first));
    });
  }
  return out;
}

// Appends the entries of each ListenerSet allowed on the Gateway of `state` to its
// listeners, after the Gateway's own, the later losing a conflict with an earlier one.
void BindListenerSets(const ListenerContext& gw_ctx, const SetList& sets, bool gw_accepted,
                      bool gw_programmed, GatewayState& state) {
  const model::Gateway& gw = *state.gateway;
  const BindOptions& options = gw_ctx.options;
  // The listeners later entries must be distinct from: the Gateway's, then each entry kept.
  PortUse kept;
  for (const auto& l : gw.listeners) kept.Add(l);
  size_t place = gw.listeners.size();  // in the merged list
  int attached = 0;
  for (const auto& [key, set] : sets) {
    ListenerSetState s;
    s.key = *key;
    s.set = set;
    const int64_t gen = set->meta.generation;
    auto conditions = [&](bool accepted, const std::string& reason, const std::string& message,
                          bool programmed, const std::string& preason,
                          const std::string& pmessage) {
      s.status.conditions.push_back(
          MakeCondition("Accepted", accepted, reason, message, gen, options.now));
      s.status.conditions.push_back(
          MakeCondition("Programmed", programmed, preason, pmessage, gen, options.now));
    };
    if (!ListenerSetAllowed(gw_ctx.store, gw.allowed_listeners, state.key.first, key->first)) {
      std::string why = "Gateway " + state.key.first + "/" + state.key.second +
                        " does not allow ListenerSets from namespace " + key->first +
                        " (spec.allowedListeners)";
      conditions(false, "NotAllowed", why, false, "NotAllowed", why);
      state.sets.push_back(std::move(s));
      continue;
    }
    if (!gw_accepted) {
      conditions(false, "ParentNotAccepted", "the parent Gateway is not accepted", false,
                 "ParentNotProgrammed", "the parent Gateway is not programmed");
      state.sets.push_back(std::move(s));
      continue;
    }
    ListenerContext set_ctx{gw_ctx.store,
                            gw_ctx.gateway_key,
                            gw_ctx.gateway,
                            gw_ctx.addresses,
                            gw_ctx.address_problem,
                            gw_ctx.unusable,
                            gw_ctx.client_cert,
                            gw_ctx.claimed,
                            options,
                            set,
                            key->first,
                            gen};
    ListenerTally tally;
    s.first = state.listeners.size();
    for (size_t i = 0; i < set->listeners.size(); ++i) {
      const model::Listener& l = set->listeners[i];
      Refusal refusal;
      if (++place > options.max_gateway_listeners) {
        refusal.too_many_at = place;
      } else {
        refusal.conflict = kept.ConflictOf(l, 0);
        if (refusal.conflict.empty()) kept.Add(l);
      }
      state.listeners.push_back(EvaluateListener(set_ctx, l, i, refusal, tally));
    }
    s.count = set->listeners.size();
    s.accepted = tally.valid > 0;
    if (tally.valid + tally.waiting == 0) {
      for (size_t i = s.first; i < s.first + s.count; ++i) {
        state.listeners[i].bound.programmed = false;
      }
    }
    if (!s.accepted) {
      std::string why = tally.InvalidList("no listener is valid:");
      conditions(false, "ListenersNotValid", why, false, "ListenersNotValid", why);
    } else {
      ++attached;
      bool all = tally.invalid_names.empty();
      conditions(
          true, all ? "Accepted" : "ListenersNotValid",
          all ? "ListenerSet is accepted" : tally.InvalidList("listeners not valid:"),
          gw_programmed, gw_programmed ? "Programmed" : "ParentNotProgrammed",
          gw_programmed ? "ListenerSet is programmed" : "the parent Gateway is not programmed");
    }
    state.sets.push_back(std::move(s));
  }
  // Rendered only for a Gateway that allows ListenerSets, so that others' status is as it was.
  if (gw.allowed_listeners.from != model::AllowedListeners::From::kNone || attached > 0) {
    state.status.attached_listener_sets = attached;
  }
}

}  // namespace

std::map<Store::Key, GatewayState> BindGateways(const Store& store,
                                                const std::set<std::string>& our_classes,
                                                const BindOptions& options) {
  std::vector<std::pair<const Store::Key*, const model::Gateway*>> ordered;
  for (const auto& [key, gw] : store.gateways) {
    if (our_classes.count(gw.gateway_class_name)) ordered.emplace_back(&key, &gw);
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return std::tuple_cat(AgeKey(a.second->meta), std::tie(*a.first)) <
           std::tuple_cat(AgeKey(b.second->meta), std::tie(*b.first));
  });
  const std::map<Store::Key, SetList> sets_by_parent = ListenerSetsByParent(store);

  // (address, port, transport) -> the Gateway that holds it.
  std::map<std::tuple<std::string, int, std::string>, Store::Key> claimed;
  std::map<Store::Key, GatewayState> out;
  for (const auto& [key, gateway] : ordered) {
    const model::Gateway& gw = *gateway;
    const int64_t gen = gw.meta.generation;
    GatewayState& state = out[*key];
    state.key = *key;
    state.gateway = &gw;

    // Addresses: the spec's IPAddress entries, else the node's.
    std::string address_problem, unusable;
    std::vector<std::string> addresses;
    for (const auto& a : gw.addresses) {
      if (!a.type.empty() && a.type != "IPAddress") {
        address_problem = "address type " + a.type + " is not supported (only IPAddress)";
      } else if (a.value.empty()) {
        // An IPAddress without a value asks for any address: the node's.
        for (const auto& n : options.node_addresses) {
          if (std::find(addresses.begin(), addresses.end(), n) == addresses.end()) {
            addresses.push_back(n);
          }
        }
      } else if (!IsIpLiteral(a.value)) {
        unusable = "address " + a.value + " is not an IP address";
      } else {
        addresses.push_back(a.value);
      }
    }
    if (gw.addresses.empty()) addresses = options.node_addresses;
    if (address_problem.empty() && unusable.empty()) {
      for (const auto& a : addresses) state.status.addresses.push_back({"IPAddress", a});
    }

    std::optional<BackendClientCertificate> client_cert =
        ResolveBackendClientCertificate(store, gw);
    std::map<size_t, std::string> conflicts = FindConflicts(gw);
    ListenerContext ctx{store,       *key,    gw,      addresses, address_problem, unusable,
                        client_cert, claimed, options, nullptr,   key->first,      gen};
    ListenerTally tally;
    for (size_t i = 0; i < gw.listeners.size(); ++i) {
      auto c = conflicts.find(i);
      Refusal refusal;
      if (c != conflicts.end()) refusal.conflict = c->second;
      state.listeners.push_back(EvaluateListener(ctx, gw.listeners[i], i, refusal, tally));
    }

    // Gateway conditions.
    bool gw_accepted = true;
    bool keep_data_plane = true;
    std::string reason = "Accepted", message = "Gateway is accepted";
    if (!address_problem.empty()) {
      gw_accepted = false;
      reason = "UnsupportedAddress";
      message = address_problem;
    } else if (!tally.invalid_names.empty()) {
      gw_accepted = tally.valid > 0;
      // Accepted but for ports: its listeners stay in the data plane (see below), or a freed
      // port would flip the Gateway out of it and back.
      keep_data_plane = tally.valid + tally.waiting > 0;
      reason = "ListenersNotValid";
      message = tally.InvalidList("listeners not valid:");
    }
    state.status.conditions.push_back(
        MakeCondition("Accepted", gw_accepted, reason, message, gen, options.now));
    bool programmed = gw_accepted && unusable.empty() && !addresses.empty();
    std::string preason = "Programmed", pmessage = "Gateway is programmed";
    if (!gw_accepted && keep_data_plane && address_problem.empty()) {
      preason = "Pending";
      pmessage = "no listener can listen yet: the proxy retries their ports";
    } else if (!gw_accepted) {
      preason = "Invalid";
      pmessage = "Gateway is not accepted";
    } else if (!unusable.empty()) {
      preason = "AddressNotUsable";
      pmessage = unusable;
    } else if (addresses.empty()) {
      preason = "AddressNotAssigned";
      pmessage = "Gateway has no addresses and the node has none to give";
    }
    state.status.conditions.push_back(
        MakeCondition("Programmed", programmed, preason, pmessage, gen, options.now));
    // ResolvedRefs: the Gateway's own references (spec.tls.backend), then a summary of its
    // listeners'. It does not change Accepted or Programmed.
    std::string rreason = "ResolvedRefs", rmessage = "All references are resolved";
    if (client_cert && client_cert->secret == nullptr) {
      rreason = client_cert->reason;
      rmessage = client_cert->message;
    } else if (!tally.unresolved.empty()) {
      rreason = "ListenersNotResolved";
      rmessage = "listeners with unresolved references:";
      for (const auto& n : tally.unresolved) rmessage += " " + n;
    }
    state.status.conditions.push_back(MakeCondition("ResolvedRefs", rreason == "ResolvedRefs",
                                                    rreason, rmessage, gen, options.now));
    if (UsesInsecureFallback(gw)) {
      // Present only while some client certificate validation is AllowInsecureFallback.
      state.status.conditions.push_back(MakeCondition(
          "InsecureFrontendValidationMode", true, "ConfigurationChanged",
          "client certificate validation is AllowInsecureFallback: connections without a valid "
          "client certificate are accepted",
          gen, options.now));
    }
    if (!programmed) {
      bool keep =
          keep_data_plane && address_problem.empty() && unusable.empty() && !addresses.empty();
      for (auto& ls : state.listeners) {
        if (keep) continue;  // each listener's own Programmed condition says why
        ls.bound.programmed = false;
        for (auto& c : ls.status.conditions) {
          if (c.type != "Programmed") continue;
          c.status = "False";
          c.reason = "Invalid";
          c.message = "the Gateway is not programmed";
        }
      }
    }
    static const SetList kNoSets;
    auto sets = sets_by_parent.find(*key);
    BindListenerSets(ctx, sets == sets_by_parent.end() ? kNoSets : sets->second, gw_accepted,
                     programmed, state);
    MarkOverlappingTls(state, options.now);
  }
  return out;
}

}  // namespace xgate::binder

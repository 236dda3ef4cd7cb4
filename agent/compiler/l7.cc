#include "agent/compiler/l7.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "agent/binder/age.h"
#include "agent/binder/hostnames.h"
#include "agent/compiler/grpc_match.h"

namespace xgate::compiler {
namespace {

using binder::BoundListener;
using binder::BoundRoute;
using binder::ResolvedBackend;

// One (rule, match) of a route in one virtual host, before it becomes an api::Route.
struct Entry {
  const BoundRoute* route = nullptr;
  size_t rule = 0;
  size_t match_index = 0;
  model::HTTPRouteMatch match;         // default PathPrefix "/" for TLSRoute and empty matches
  std::string route_name;              // "{namespace}/{name}", the spec's alphabetical tie-breaker
  std::optional<GRPCPrecedence> grpc;  // GRPCRoute: `match` is its translation
};

// Gateway API HTTPRoute precedence: Exact path, then the longest PathPrefix (in
// characters), then regular expressions (implementation-specific: after prefixes, longest
// first), then a method match, the most header matches, the most query matches; ties go
// to the oldest route, then namespace/name, then rule order, then match order. GRPCRoute
// has its own: the most characters of service, then of method, the most header matches,
// with the same tie-breakers. (The binder never lets an HTTPRoute and a GRPCRoute share a
// hostname, so the two orders never compete; GRPCRoutes sort after HTTPRoutes.)
auto PrecedenceKey(const Entry& e) {
  using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t>;
  Key kind_key;
  if (e.grpc) {
    auto [service, method, headers] = e.grpc->Key();
    kind_key = Key(1, service, method, headers, 0, 0);
  } else {
    int type = e.match.path.type == model::PathMatchType::kExact        ? 0
               : e.match.path.type == model::PathMatchType::kPathPrefix ? 1
                                                                        : 2;
    kind_key = Key(0, type, -static_cast<int64_t>(e.match.path.value.size()),
                   e.match.method ? 0 : 1, -static_cast<int64_t>(e.match.headers.size()),
                   -static_cast<int64_t>(e.match.query_params.size()));
  }
  return std::tuple_cat(kind_key, binder::AgeKey(e.route->object->meta),
                        std::make_tuple(std::cref(e.route_name), e.rule, e.match_index));
}

void SetHeaderModifier(const model::HTTPHeaderModifier& in, api::HeaderModifier* out) {
  for (const auto& h : in.set) {
    auto* s = out->add_set();
    s->set_name(h.name);
    s->set_value(h.value);
  }
  for (const auto& h : in.add) {
    auto* a = out->add_add();
    a->set_name(h.name);
    a->set_value(h.value);
  }
  for (const auto& r : in.remove) out->add_remove(r);
}

void SetPathModifier(const model::HTTPPathModifier& in, api::PathModifier* out) {
  out->set_type(in.type == model::PathModifierType::kReplaceFullPath
                    ? api::PathModifier::REPLACE_FULL_PATH
                    : api::PathModifier::REPLACE_PREFIX_MATCH);
  out->set_value(in.value);
}

void SetUpstreamTls(const binder::BackendTLS& in, api::UpstreamTls& out) {
  out.set_ca_pem(in.ca_pem);
  out.set_system_cas(in.system_cas);
  out.set_sni(in.hostname);
  for (const auto& san : in.subject_alt_names) {
    if (san.type == model::SubjectAltName::Type::kHostname) {
      out.add_verify_hostnames(san.value);
    } else {
      out.add_verify_uris(san.value);
    }
  }
}

// Clusters and certificates collected while compiling, deduplicated by name.
struct Collected {
  // By name (a view of the cluster's own).
  absl::flat_hash_map<std::string_view, std::shared_ptr<const api::Cluster>> clusters;
  std::map<std::string, api::Certificate> certificates;
  const std::map<std::string, binder::BackendTLS>* backend_tls = nullptr;
  // The client certificate of the Gateway whose listener is being compiled
  // (BoundListener::backend_client_certificate).
  std::optional<const model::Secret*> client_certificate;
  // While a virtual host is compiled: the clusters its routes name.
  std::vector<std::shared_ptr<const api::Cluster>>* named = nullptr;

  // The name of a TLS Secret's entry in L7Config.certificates ("ns/name"), added once.
  std::string Certificate(const model::Secret& secret) {
    std::string name = secret.meta.ns + "/" + secret.meta.name;
    auto [it, fresh] = certificates.try_emplace(name);
    if (fresh) {
      it->second.set_name(name);
      it->second.set_cert_pem(secret.data.at("tls.crt"));
      it->second.set_key_pem(secret.data.at("tls.key"));
    }
    return name;
  }

  // `http2`: the route needs HTTP/2 to the backend (GRPCRoute) whatever the Service port's
  // appProtocol says; such a cluster is named apart from the port's HTTP/1.1 one ("+h2c", or
  // "+h2" over TLS). Over TLS from a Gateway with a client certificate, the cluster presents
  // it and is that Gateway's ("+client:ns/secret"): the others' connections stay as they are.
  std::string Cluster(const ResolvedBackend& b, bool http2 = false) {
    if (!b.invalid_reason.empty()) return "";
    bool h2c = b.app_protocol == "kubernetes.io/h2c";
    std::string name = b.ClusterName();
    const binder::BackendTLS* tls = nullptr;
    if (backend_tls != nullptr) {
      if (auto t = backend_tls->find(name); t != backend_tls->end()) tls = &t->second;
    }
    // The spec: connections under a policy that is not accepted fail with a 5xx (here the
    // 500 of a backend with no cluster), never in plain text.
    if (tls != nullptr && !tls->valid) return "";
    // Under a policy, as Envoy Gateway does, appProtocol grpc asks for HTTP/2 as h2c does: the
    // proxy then speaks h2 over TLS, chosen in ALPN.
    if (tls != nullptr && b.app_protocol == "grpc") h2c = true;
    if (http2 && !h2c) name += tls != nullptr ? "+h2" : "+h2c";
    std::string client;  // the client certificate's name in L7Config.certificates
    if (tls != nullptr && client_certificate) {
      // A reference that does not resolve: no connection without the certificate.
      if (*client_certificate == nullptr) return "";
      client = Certificate(**client_certificate);
      name += "+client:" + client;
    }
    auto it = clusters.find(name);
    if (it == clusters.end()) {
      auto cluster = std::make_shared<api::Cluster>();
      cluster->set_name(name);
      if (h2c || http2) cluster->set_protocol(api::H2C);
      if (tls != nullptr) {
        SetUpstreamTls(*tls, *cluster->mutable_tls());
        cluster->mutable_tls()->set_client_certificate(client);
      }
      for (const auto& ep : b.endpoints) {
        auto* e = cluster->add_endpoints();
        e->set_address(ep.address);
        e->set_port(static_cast<uint32_t>(ep.port));
      }
      it = clusters.emplace(cluster->name(), std::move(cluster)).first;
    }
    if (named != nullptr && (named->empty() || named->back() != it->second)) {
      named->push_back(it->second);
    }
    return name;
  }
};

void AddFilter(const model::HTTPRouteFilter& f, const ResolvedBackend* mirror, bool http2,
               Collected& c, google::protobuf::RepeatedPtrField<api::Filter>* out) {
  api::Filter filter;
  switch (f.type) {
    case model::HTTPFilterType::kRequestHeaderModifier:
      SetHeaderModifier(f.request_header_modifier, filter.mutable_request_header_modifier());
      break;
    case model::HTTPFilterType::kResponseHeaderModifier:
      SetHeaderModifier(f.response_header_modifier, filter.mutable_response_header_modifier());
      break;
    case model::HTTPFilterType::kRequestRedirect: {
      const auto& r = f.request_redirect;
      auto* out_r = filter.mutable_request_redirect();
      out_r->set_scheme(r.scheme.value_or(""));
      out_r->set_hostname(r.hostname.value_or(""));
      if (r.path) SetPathModifier(*r.path, out_r->mutable_path());
      out_r->set_port(static_cast<uint32_t>(r.port.value_or(0)));
      out_r->set_status_code(static_cast<uint32_t>(r.status_code));
      break;
    }
    case model::HTTPFilterType::kURLRewrite: {
      auto* out_r = filter.mutable_url_rewrite();
      out_r->set_hostname(f.url_rewrite.hostname.value_or(""));
      if (f.url_rewrite.path) SetPathModifier(*f.url_rewrite.path, out_r->mutable_path());
      break;
    }
    case model::HTTPFilterType::kRequestMirror: {
      auto* m = filter.mutable_request_mirror();
      m->set_cluster(mirror ? c.Cluster(*mirror, http2) : "");
      int denominator = f.request_mirror.denominator > 0 ? f.request_mirror.denominator : 100;
      m->set_numerator(static_cast<uint32_t>(f.request_mirror.numerator.value_or(denominator)));
      m->set_denominator(static_cast<uint32_t>(denominator));
      break;
    }
    case model::HTTPFilterType::kCORS: {
      const model::HTTPCORSFilter& in = f.cors;
      api::Cors* cors = filter.mutable_cors();
      *cors->mutable_allow_origins() = {in.allow_origins.begin(), in.allow_origins.end()};
      cors->set_allow_credentials(in.allow_credentials);
      *cors->mutable_allow_methods() = {in.allow_methods.begin(), in.allow_methods.end()};
      *cors->mutable_allow_headers() = {in.allow_headers.begin(), in.allow_headers.end()};
      *cors->mutable_expose_headers() = {in.expose_headers.begin(), in.expose_headers.end()};
      cors->set_max_age_seconds(static_cast<uint32_t>(in.max_age_seconds));
      break;
    }
    case model::HTTPFilterType::kExtensionRef:
      return;  // the binder refuses routes with these
  }
  *out->Add() = std::move(filter);
}

void AddBackends(const BoundRoute& route, size_t rule, Collected& c, api::Route& out) {
  const bool http2 = route.key.kind == model::Kind::kGRPCRoute;
  const auto& backends = route.backends->rule_backends[rule];
  for (size_t i = 0; i < backends.size(); ++i) {
    const ResolvedBackend& b = backends[i];
    auto* wc = out.add_backends();
    wc->set_cluster(c.Cluster(b, http2));
    wc->set_weight(static_cast<uint32_t>(std::max(b.weight, 0)));
    wc->set_service(b.ns + "/" + b.name);
    if (b.filters == nullptr) continue;
    for (size_t f = 0; f < b.filters->size(); ++f) {
      auto m = route.backends->backend_mirrors.find({rule, i, f});
      AddFilter((*b.filters)[f], m == route.backends->backend_mirrors.end() ? nullptr : &m->second,
                http2, c, wc->mutable_filters());
    }
  }
}

void SetMatch(const model::HTTPRouteMatch& m, api::RouteMatch* out) {
  auto* path = out->mutable_path();
  switch (m.path.type) {
    case model::PathMatchType::kExact:
      path->set_type(api::PathMatch::EXACT);
      break;
    case model::PathMatchType::kPathPrefix:
      path->set_type(api::PathMatch::PATH_PREFIX);
      break;
    case model::PathMatchType::kRegularExpression:
      path->set_type(api::PathMatch::REGULAR_EXPRESSION);
      break;
  }
  path->set_value(m.path.value);
  auto string_match = [](model::StringMatchType type, const std::string& name,
                         const std::string& value, api::StringMatch* s) {
    s->set_type(type == model::StringMatchType::kExact ? api::StringMatch::EXACT
                                                       : api::StringMatch::REGULAR_EXPRESSION);
    s->set_name(name);
    s->set_value(value);
  };
  for (const auto& h : m.headers) string_match(h.type, h.name, h.value, out->add_headers());
  for (const auto& q : m.query_params) {
    string_match(q.type, q.name, q.value, out->add_query_params());
  }
  out->set_method(m.method.value_or(""));
}

// Unset attempts and backoff get Envoy Gateway's defaults: 2 retries, 25 ms.
void SetRetry(const model::HTTPRouteRetry& retry, api::Retry* out) {
  constexpr int64_t kDefaultAttempts = 2;
  constexpr int64_t kDefaultBackoffMs = 25;
  out->set_attempts(static_cast<uint32_t>(retry.attempts.value_or(kDefaultAttempts)));
  for (int code : retry.codes) out->add_codes(static_cast<uint32_t>(code));
  out->set_backoff_ms(static_cast<uint64_t>(retry.backoff_ms.value_or(kDefaultBackoffMs)));
}

// A rule without sessionName gets a name of its own (the spec: a unique one SHOULD be made),
// stable across agent restarts: from the route and the rule's name, else its index.
std::string DefaultSessionName(const BoundRoute& route, size_t rule,
                               const std::optional<std::string>& rule_name) {
  std::string id = absl::StrCat(model::KindName(route.key.kind), "/", route.key.ns, "/",
                                route.key.name, "/", rule_name ? *rule_name : std::to_string(rule));
  uint32_t hash = 2166136261u;  // FNV-1a
  for (unsigned char ch : id) hash = (hash ^ ch) * 16777619u;
  return absl::StrCat("xgate-session-", absl::Hex(hash, absl::kZeroPad8));
}

void SetSessionPersistence(const model::SessionPersistence& in, std::string name,
                           api::SessionPersistence* out) {
  out->set_type(in.type == model::SessionPersistence::Type::kCookie
                    ? api::SessionPersistence::COOKIE
                    : api::SessionPersistence::HEADER);
  out->set_name(in.session_name.value_or(std::move(name)));
  out->set_absolute_timeout_ms(static_cast<uint64_t>(in.absolute_timeout_ms.value_or(0)));
  out->set_idle_timeout_ms(static_cast<uint64_t>(in.idle_timeout_ms.value_or(0)));
  out->set_permanent(in.permanent_cookie);
  if (in.cookie_path) out->set_cookie_path(*in.cookie_path);
}

api::Route ToRoute(const Entry& e, Collected& c) {
  api::Route r;
  r.set_route_namespace(e.route->key.ns);
  r.set_route_name(e.route->key.name);
  r.set_rule_index(static_cast<uint32_t>(e.rule));
  r.set_match_index(static_cast<uint32_t>(e.match_index));
  r.set_route_kind(model::KindName(e.route->key.kind));
  SetMatch(e.match, r.mutable_match());
  if (e.rule < e.route->backends->rule_backends.size()) AddBackends(*e.route, e.rule, c, r);
  auto add_filters = [&](const std::vector<model::HTTPRouteFilter>& filters, bool http2) {
    for (size_t f = 0; f < filters.size(); ++f) {
      auto m = e.route->backends->mirrors.find({e.rule, f});
      AddFilter(filters[f], m == e.route->backends->mirrors.end() ? nullptr : &m->second, http2, c,
                r.mutable_filters());
    }
  };
  auto add_session = [&](const std::optional<model::SessionPersistence>& session,
                         const std::optional<std::string>& rule_name) {
    if (!session) return;
    SetSessionPersistence(*session, DefaultSessionName(*e.route, e.rule, rule_name),
                          r.mutable_session_persistence());
  };
  if (e.route->key.kind == model::Kind::kGRPCRoute) {
    const auto* grpc = static_cast<const model::GRPCRoute*>(e.route->object);
    const auto& rule = grpc->rules[e.rule];
    add_filters(rule.filters, true);
    add_session(rule.session_persistence, rule.name);
  }
  if (e.route->key.kind == model::Kind::kHTTPRoute) {
    const auto* http = static_cast<const model::HTTPRoute*>(e.route->object);
    const auto& rule = http->rules[e.rule];
    add_filters(rule.filters, false);
    r.set_request_timeout_ms(static_cast<uint64_t>(rule.timeouts.request_ms.value_or(0)));
    r.set_backend_request_timeout_ms(
        static_cast<uint64_t>(rule.timeouts.backend_request_ms.value_or(0)));
    if (rule.retry) SetRetry(*rule.retry, r.mutable_retry());
    add_session(rule.session_persistence, rule.name);
  }
  return r;
}

// Every (rule, match) of a route, as precedence entries.
std::vector<Entry> Entries(const BoundRoute& route) {
  std::vector<Entry> out;
  std::string name = route.key.ns + "/" + route.key.name;
  if (route.key.kind == model::Kind::kHTTPRoute) {
    const auto* http = static_cast<const model::HTTPRoute*>(route.object);
    for (size_t r = 0; r < http->rules.size(); ++r) {
      const auto& matches = http->rules[r].matches;
      if (matches.empty()) out.push_back({&route, r, 0, {}, name, std::nullopt});
      for (size_t m = 0; m < matches.size(); ++m)
        out.push_back({&route, r, m, matches[m], name, std::nullopt});
    }
  } else if (route.key.kind == model::Kind::kGRPCRoute) {
    const auto* grpc = static_cast<const model::GRPCRoute*>(route.object);
    for (size_t r = 0; r < grpc->rules.size(); ++r) {
      std::vector<model::GRPCRouteMatch> matches = grpc->rules[r].matches;
      if (matches.empty()) matches.emplace_back();  // every gRPC request
      for (size_t m = 0; m < matches.size(); ++m) {
        out.push_back({&route, r, m, GRPCToHTTPMatch(matches[m]), name, PrecedenceOf(matches[m])});
      }
    }
  } else {
    for (size_t r = 0; r < route.backends->rule_backends.size(); ++r)
      out.push_back({&route, r, 0, {}, name, std::nullopt});
  }
  return out;
}

// The virtual host names among `vhosts` that cover `name` (itself included), most specific
// first. Only `name` itself, the wildcards of its dot suffixes and "" can, so they are looked
// up rather than every name compared with every other.
template <typename Has>
std::vector<std::string> CoveringPatterns(const std::string& name, Has has) {
  std::vector<std::string> candidates = {name, ""};
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
    candidates.push_back(absl::StrCat("*", absl::string_view(name).substr(dot)));
  }
  std::sort(candidates.begin(), candidates.end(), binder::MoreSpecificHostname);
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  std::erase_if(candidates,
                [&](const std::string& c) { return !has(c) || !binder::HostnameCovers(c, name); });
  return candidates;
}

// A hostname of a route on a listener. Sorted by the hostname, then the route's place in
// the listener (BoundListener::routes is one vector): the first 8 bytes, big-endian, decide
// most comparisons without a call to memcmp.
struct HostOfRoute {
  uint64_t prefix = 0;
  std::string_view host;
  const BoundRoute* route = nullptr;

  HostOfRoute(std::string_view h, const BoundRoute* r) : host(h), route(r) {
    for (size_t i = 0; i < 8; ++i) {
      prefix = prefix << 8 | (i < h.size() ? static_cast<unsigned char>(h[i]) : 0);
    }
  }
  bool operator<(const HostOfRoute& o) const {
    if (prefix != o.prefix) return prefix < o.prefix;
    if (int c = host.compare(o.host); c != 0) return c < 0;
    return route < o.route;
  }
};

// binder::Specificity(name) as one number: smaller is more specific (a hostname has at most
// 253 characters, so its label count and length fit their fields).
uint64_t SpecificityOrder(std::string_view name) {
  auto [kind, labels, size] = binder::Specificity(name);  // labels and size negated
  return (static_cast<uint64_t>(kind) << 20) | (static_cast<uint64_t>(255 + labels) << 10) |
         static_cast<uint64_t>(1023 + size);
}

// A virtual host as the last Compile made it: the routes it was made from (their
// RouteBackends, which the binder shares while a route and all it was bound from stay the
// same; nullptr closes each covering pattern's routes), and the clusters its routes name.
struct VirtualHostMemo {
  std::vector<std::shared_ptr<const binder::RouteBackends>> routes;
  std::shared_ptr<const api::VirtualHost> vhost;
  std::vector<std::shared_ptr<const api::Cluster>> clusters;
  uint64_t stamp = 0;  // the Compile that last used it
};

// A listener's virtual hosts by hostname, kept and edited in place from one Compile to the
// next (only those whose routes changed are made again).
struct ListenerMemo {
  absl::flat_hash_map<std::string, VirtualHostMemo> vhosts;
  uint64_t stamp = 0;
};

bool SameRoutes(const std::vector<std::shared_ptr<const binder::RouteBackends>>& memo,
                const std::vector<const BoundRoute*>& routes) {
  if (memo.size() != routes.size()) return false;
  for (size_t i = 0; i < routes.size(); ++i) {
    if (memo[i].get() != (routes[i] ? routes[i]->backends.get() : nullptr)) return false;
  }
  return true;
}

// Compiles `bl`'s virtual hosts, taking from `memo` (may be null) each one whose routes are
// the same and leaving there what this call made. Virtual hosts and clusters go into the
// listener (and `c`) lent: `shared_parts` owns them.
api::Listener ToListener(
    const BoundListener& bl, Collected& c, ListenerMemo* memo, uint64_t stamp, size_t& reused,
    std::vector<std::shared_ptr<const google::protobuf::Message>>& shared_parts) {
  api::Listener out;
  out.set_gateway_namespace(bl.gateway.first);
  out.set_gateway_name(bl.gateway.second);
  out.set_name(binder::ListenerId(bl));
  out.set_hostname(bl.listener->hostname.value_or(""));
  for (const auto* secret : bl.certificates) out.add_certificates(c.Certificate(*secret));
  c.client_certificate = bl.backend_client_certificate;
  if (bl.client_validation) {
    out.mutable_client_validation()->set_ca_pem(bl.client_validation->ca_pem);
    out.mutable_client_validation()->set_allow_insecure_fallback(
        bl.client_validation->insecure_fallback);
  }
  // (hostname, route) for each hostname of each route ("" for a route with none), sorted by
  // hostname and then in the listener's order; a name a route lists twice counts once.
  std::vector<HostOfRoute> by_host;
  by_host.reserve(bl.routes.size());
  for (const auto& route : bl.routes) {
    if (route.hostnames.size() <= 1) {
      by_host.emplace_back(
          route.hostnames.empty() ? std::string_view() : std::string_view(route.hostnames[0]),
          &route);
      continue;
    }
    std::vector<std::string_view> hosts(route.hostnames.begin(), route.hostnames.end());
    std::sort(hosts.begin(), hosts.end());
    hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
    for (std::string_view h : hosts) by_host.emplace_back(h, &route);
  }
  if (!std::is_sorted(by_host.begin(), by_host.end())) std::sort(by_host.begin(), by_host.end());
  // Each hostname's run of routes in `by_host`, in alphabetical order.
  struct VirtualHostRoutes {
    std::string_view name;
    size_t begin = 0, end = 0;
  };
  std::vector<VirtualHostRoutes> vhosts;
  for (size_t i = 0; i < by_host.size(); ++i) {
    if (vhosts.empty() || vhosts.back().name != by_host[i].host) {
      vhosts.push_back({by_host[i].host, i, i});
    }
    vhosts.back().end = i + 1;
  }
  auto find = [&](std::string_view name) -> const VirtualHostRoutes* {
    auto it =
        std::lower_bound(vhosts.begin(), vhosts.end(), name,
                         [](const VirtualHostRoutes& v, std::string_view n) { return v.name < n; });
    return it != vhosts.end() && it->name == name ? &*it : nullptr;
  };
  // Only "" and wildcards cover other names: without them each name is its own pattern.
  bool wider_names = false;
  // Most specific first (MoreSpecificHostname): `vhosts` is in alphabetical order already,
  // so gathering them by specificity (few distinct values) in that order is its order.
  std::map<uint64_t, std::vector<const VirtualHostRoutes*>> by_specificity;
  for (const auto& vhost : vhosts) {
    by_specificity[SpecificityOrder(vhost.name)].push_back(&vhost);
    wider_names = wider_names || vhost.name.empty() || vhost.name.front() == '*';
  }
  std::vector<const VirtualHostRoutes*> names;
  names.reserve(vhosts.size());
  for (const auto& [specificity, same] : by_specificity) {
    names.insert(names.end(), same.begin(), same.end());
  }
  // A pattern's entries in precedence order, made when a virtual host is compiled with them.
  std::map<std::string_view, std::vector<Entry>> sorted;
  auto entries_of = [&](const VirtualHostRoutes& pattern) -> const std::vector<Entry>& {
    auto [it, fresh] = sorted.try_emplace(pattern.name);
    if (fresh) {
      for (size_t i = pattern.begin; i < pattern.end; ++i) {
        std::vector<Entry> entries = Entries(*by_host[i].route);
        it->second.insert(it->second.end(), entries.begin(), entries.end());
      }
      std::sort(it->second.begin(), it->second.end(),
                [](const Entry& a, const Entry& b) { return PrecedenceKey(a) < PrecedenceKey(b); });
    }
    return it->second;
  };
  // The proxy picks one virtual host, the most specific that matches. A route with a less
  // specific hostname still serves what the more specific routes do not match (the spec
  // ranks rules by hostname first, it does not hide them), so each virtual host continues
  // with the routes of every wider pattern that covers it, most specific first.
  std::vector<const VirtualHostRoutes*> patterns;
  std::vector<const BoundRoute*> routes;
  for (const VirtualHostRoutes* vhost : names) {
    patterns = {vhost};
    if (wider_names) {
      patterns.clear();
      for (const std::string& p :
           CoveringPatterns(std::string(vhost->name),
                            [&](const std::string& n) { return find(n) != nullptr; })) {
        patterns.push_back(find(p));
      }
    }
    routes.clear();
    for (const VirtualHostRoutes* p : patterns) {
      for (size_t i = p->begin; i < p->end; ++i) routes.push_back(by_host[i].route);
      routes.push_back(nullptr);
    }
    VirtualHostMemo fresh;
    VirtualHostMemo* made = &fresh;
    if (memo != nullptr) {
      auto it = memo->vhosts.find(absl::string_view(vhost->name.data(), vhost->name.size()));
      if (it == memo->vhosts.end()) it = memo->vhosts.try_emplace(std::string(vhost->name)).first;
      made = &it->second;
    }
    if (made->vhost != nullptr && SameRoutes(made->routes, routes)) {
      for (const auto& cluster : made->clusters) c.clusters.try_emplace(cluster->name(), cluster);
      ++reused;
    } else {
      auto vh = std::make_shared<api::VirtualHost>();
      vh->set_hostname(std::string(vhost->name));
      made->clusters.clear();
      c.named = &made->clusters;
      std::set<std::tuple<const BoundRoute*, size_t, size_t>> seen;
      for (const VirtualHostRoutes* p : patterns) {
        for (const auto& e : entries_of(*p)) {
          if (wider_names && !seen.emplace(e.route, e.rule, e.match_index).second) continue;
          *vh->add_routes() = ToRoute(e, c);
        }
      }
      c.named = nullptr;
      made->vhost = std::move(vh);
      made->routes.clear();
      made->routes.reserve(routes.size());
      for (const BoundRoute* r : routes) made->routes.push_back(r ? r->backends : nullptr);
    }
    made->stamp = stamp;
    out.mutable_virtual_hosts()->UnsafeArenaAddAllocated(
        const_cast<api::VirtualHost*>(made->vhost.get()));
    shared_parts.push_back(made->vhost);
  }
  if (memo != nullptr) {
    absl::erase_if(memo->vhosts, [&](const auto& v) { return v.second.stamp != stamp; });
  }
  return out;
}

bool SameBackendTLS(const std::map<std::string, binder::BackendTLS>& a,
                    const std::map<std::string, binder::BackendTLS>& b) {
  auto same_san = [](const model::SubjectAltName& x, const model::SubjectAltName& y) {
    return x.type == y.type && x.value == y.value;
  };
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [&](const auto& x, const auto& y) {
    const binder::BackendTLS& p = x.second;
    const binder::BackendTLS& q = y.second;
    return x.first == y.first && p.policy == q.policy && p.valid == q.valid &&
           p.ca_pem == q.ca_pem && p.system_cas == q.system_cas && p.hostname == q.hostname &&
           std::equal(p.subject_alt_names.begin(), p.subject_alt_names.end(),
                      q.subject_alt_names.begin(), q.subject_alt_names.end(), same_san);
  });
}

// The clusters of `named` in name order. `last` is the previous Compile's list: walking it
// keeps its order for the names still there, so only the names it lacks are sorted.
std::vector<std::shared_ptr<const api::Cluster>> SortedClusters(
    const absl::flat_hash_map<std::string_view, std::shared_ptr<const api::Cluster>>& named,
    const std::vector<std::shared_ptr<const api::Cluster>>& last) {
  auto by_name = [](const auto& a, const auto& b) { return a->name() < b->name(); };
  std::vector<std::shared_ptr<const api::Cluster>> kept;
  kept.reserve(named.size());
  for (const auto& cluster : last) {
    auto it = named.find(cluster->name());
    if (it != named.end()) kept.push_back(it->second);  // the same name, maybe made again
  }
  std::vector<std::shared_ptr<const api::Cluster>> added;
  if (kept.size() < named.size()) {
    absl::flat_hash_set<std::string_view> seen;
    seen.reserve(kept.size());
    for (const auto& cluster : kept) seen.insert(cluster->name());
    for (const auto& [name, cluster] : named) {
      if (!seen.contains(name)) added.push_back(cluster);
    }
  }
  std::sort(added.begin(), added.end(), by_name);
  std::vector<std::shared_ptr<const api::Cluster>> out;
  out.reserve(named.size());
  std::merge(kept.begin(), kept.end(), added.begin(), added.end(), std::back_inserter(out),
             by_name);
  return out;
}

}  // namespace

struct CompileMemo::State {
  std::map<std::string, binder::BackendTLS> backend_tls;      // what every cluster was made with
  absl::flat_hash_map<std::string, ListenerMemo> listeners;   // by gateway, port and ListenerId
  std::vector<std::shared_ptr<const api::Cluster>> clusters;  // the last config's, by name
  uint64_t stamp = 0;                                         // Compiles so far
};

CompileMemo::CompileMemo() = default;
CompileMemo::~CompileMemo() = default;

api::L7Config CompileL7(
    const binder::BindResult& bound, uint64_t generation, std::vector<PuntListener>& punt,
    CompileMemo& memo,
    std::vector<std::shared_ptr<const google::protobuf::Message>>& shared_parts) {
  if (memo.state == nullptr || !SameBackendTLS(memo.state->backend_tls, bound.backend_tls)) {
    memo.state = std::make_unique<CompileMemo::State>();
    memo.state->backend_tls = bound.backend_tls;
  }
  CompileMemo::State& state = *memo.state;
  const uint64_t stamp = ++state.stamp;
  size_t reused = 0;
  std::map<std::pair<model::Store::Key, int>, std::vector<const BoundListener*>> ports;
  for (const auto& bl : bound.listeners) {
    const std::string& p = bl.listener->protocol;
    if (!bl.programmed || (p != "HTTP" && p != "HTTPS" && p != "TLS")) continue;
    ports[{bl.gateway, bl.listener->port}].push_back(&bl);
  }
  api::L7Config config;
  config.set_generation(generation);
  Collected c;
  c.backend_tls = &bound.backend_tls;
  std::set<std::pair<std::string, int>> punted;
  for (auto& [key, listeners] : ports) {
    std::sort(listeners.begin(), listeners.end(), [](const auto* a, const auto* b) {
      return binder::MoreSpecificHostname(a->listener->hostname.value_or(""),
                                          b->listener->hostname.value_or(""));
    });
    const std::string& protocol = listeners.front()->listener->protocol;
    auto* port = config.add_ports();
    port->set_port(static_cast<uint32_t>(key.second));
    port->set_protocol(protocol == "HTTP"    ? api::Port::HTTP
                       : protocol == "HTTPS" ? api::Port::HTTPS
                                             : api::Port::TLS_PASSTHROUGH);
    for (const auto& a : listeners.front()->addresses) {
      port->add_addresses(a);
      if (punted.emplace(a, key.second).second) {
        punt.push_back({a, static_cast<uint16_t>(key.second)});
      }
    }
    for (const auto* bl : listeners) {
      // A Gateway's client certificate goes into the clusters its TLS backends get: such a
      // listener is compiled whole each time.
      std::string memo_key = absl::StrCat(key.first.first, "/", key.first.second, ":", key.second,
                                          "/", binder::ListenerId(*bl));
      ListenerMemo* kept = nullptr;
      if (!bl->backend_client_certificate) {
        ListenerMemo& m = state.listeners[memo_key];
        if (m.stamp != stamp) kept = &m;  // (a second listener of the same key: none)
        m.stamp = stamp;
      }
      *port->add_listeners() = ToListener(*bl, c, kept, stamp, reused, shared_parts);
    }
  }
  state.clusters = SortedClusters(c.clusters, state.clusters);
  for (const auto& cluster : state.clusters) {
    config.mutable_clusters()->UnsafeArenaAddAllocated(const_cast<api::Cluster*>(cluster.get()));
    shared_parts.push_back(cluster);
  }
  for (auto& [name, cert] : c.certificates) *config.add_certificates() = std::move(cert);
  absl::erase_if(state.listeners, [&](const auto& l) { return l.second.stamp != stamp; });
  memo.reused = reused;
  return config;
}

}  // namespace xgate::compiler

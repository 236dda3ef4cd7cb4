#include "agent/compiler/l7.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

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
  std::map<std::string, api::Cluster> clusters;
  std::map<std::string, api::Certificate> certificates;
  const std::map<std::string, binder::BackendTLS>* backend_tls = nullptr;
  // The client certificate of the Gateway whose listener is being compiled
  // (BoundListener::backend_client_certificate).
  std::optional<const model::Secret*> client_certificate;

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
    auto [it, fresh] = clusters.try_emplace(name);
    if (fresh) {
      it->second.set_name(name);
      if (h2c || http2) it->second.set_protocol(api::H2C);
      if (tls != nullptr) {
        SetUpstreamTls(*tls, *it->second.mutable_tls());
        it->second.mutable_tls()->set_client_certificate(client);
      }
      for (const auto& ep : b.endpoints) {
        auto* e = it->second.add_endpoints();
        e->set_address(ep.address);
        e->set_port(static_cast<uint32_t>(ep.port));
      }
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
std::vector<std::string> CoveringPatterns(const std::string& name,
                                          const std::map<std::string, std::vector<Entry>>& vhosts) {
  std::vector<std::string> candidates = {name, ""};
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
    candidates.push_back(absl::StrCat("*", absl::string_view(name).substr(dot)));
  }
  std::sort(candidates.begin(), candidates.end(), binder::MoreSpecificHostname);
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  std::erase_if(candidates, [&](const std::string& c) {
    return !vhosts.contains(c) || !binder::HostnameCovers(c, name);
  });
  return candidates;
}

api::Listener ToListener(const BoundListener& bl, Collected& c) {
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
  std::map<std::string, std::vector<Entry>> vhosts;
  for (const auto& route : bl.routes) {
    std::vector<std::string> hosts = route.hostnames;
    if (hosts.empty()) hosts.push_back("");
    for (const auto& h : hosts) {
      auto entries = Entries(route);
      auto& v = vhosts[h];
      v.insert(v.end(), entries.begin(), entries.end());
    }
  }
  // Only "" and wildcards cover other names: without them each name is its own pattern.
  bool wider_names = false;
  std::vector<std::string> names;
  for (auto& [h, entries] : vhosts) {
    names.push_back(h);
    wider_names = wider_names || h.empty() || h.front() == '*';
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return PrecedenceKey(a) < PrecedenceKey(b); });
  }
  std::sort(names.begin(), names.end(), binder::MoreSpecificHostname);
  // The proxy picks one virtual host, the most specific that matches. A route with a less
  // specific hostname still serves what the more specific routes do not match (the spec
  // ranks rules by hostname first, it does not hide them), so each virtual host continues
  // with the routes of every wider pattern that covers it, most specific first.
  for (const std::string& name : names) {
    auto* vh = out.add_virtual_hosts();
    vh->set_hostname(name);
    std::set<std::tuple<const BoundRoute*, size_t, size_t>> seen;
    std::vector<std::string> patterns =
        wider_names ? CoveringPatterns(name, vhosts) : std::vector<std::string>{name};
    for (const std::string& wider : patterns) {
      for (const auto& e : vhosts[wider]) {
        if (!seen.emplace(e.route, e.rule, e.match_index).second) continue;
        *vh->add_routes() = ToRoute(e, c);
      }
    }
  }
  return out;
}

}  // namespace

api::L7Config CompileL7(const binder::BindResult& bound, uint64_t generation,
                        std::vector<PuntListener>& punt) {
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
    for (const auto* bl : listeners) *port->add_listeners() = ToListener(*bl, c);
  }
  for (auto& [name, cluster] : c.clusters) *config.add_clusters() = std::move(cluster);
  for (auto& [name, cert] : c.certificates) *config.add_certificates() = std::move(cert);
  return config;
}

}  // namespace xgate::compiler

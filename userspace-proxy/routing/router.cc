#include "userspace-proxy/routing/router.h"

#include <arpa/inet.h>
#include <string.h>  // memrchr

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"

namespace xgate::routing {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

// inet_pton/inet_ntop round trip, so "::0001" and "::1" compare equal. Unparseable text is
// kept as given.
std::string NormalizeAddress(std::string_view address) {
  std::string text(address);
  char buf[INET6_ADDRSTRLEN];
  unsigned char bin[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, text.c_str(), bin) == 1) {
    return inet_ntop(AF_INET, bin, buf, sizeof(buf));
  }
  if (inet_pton(AF_INET6, text.c_str(), bin) == 1) {
    return inet_ntop(AF_INET6, bin, buf, sizeof(buf));
  }
  return text;
}

std::string_view PathMatchTypeName(api::PathMatch::Type type) {
  switch (type) {
    case api::PathMatch::EXACT:
      return "Exact";
    case api::PathMatch::REGULAR_EXPRESSION:
      return "RegularExpression";
    default:
      return "PathPrefix";
  }
}

// The value of the first query parameter named exactly `name`.
std::optional<std::string_view> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

bool PathMatches(const CompiledRoute& route, std::string_view path) {
  if (!route.route->match().has_path()) return true;
  const api::PathMatch& m = route.route->match().path();
  switch (m.type()) {
    case api::PathMatch::EXACT:
      return path == m.value();
    case api::PathMatch::REGULAR_EXPRESSION:
      return route.path_regex && RE2::FullMatch(path, *route.path_regex);
    default: {
      std::string_view prefix = m.value();
      while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
      if (prefix.empty()) return true;  // "/" matches every path
      if (path.substr(0, prefix.size()) != prefix) return false;
      return path.size() == prefix.size() || path[prefix.size()] == '/';
    }
  }
}

absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileRegex(std::string_view pattern,
                                                             const CompiledRoute& route,
                                                             std::string_view what) {
  auto re =
      std::make_shared<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), RE2::Quiet);
  if (!re->ok()) {
    return absl::InvalidArgumentError(absl::StrCat(route.Describe(), ": invalid ",
                                                   std::string(what), " regular expression \"",
                                                   std::string(pattern), "\": ", re->error()));
  }
  return std::shared_ptr<const re2::RE2>(std::move(re));
}

// One entry per match: its compiled regular expression, or null for the other match types.
absl::Status CompileMatchRegexes(
    const google::protobuf::RepeatedPtrField<api::StringMatch>& matches, const char* what,
    std::vector<std::shared_ptr<const re2::RE2>>& out, const CompiledRoute& route) {
  for (const api::StringMatch& m : matches) {
    std::shared_ptr<const re2::RE2> re;
    if (m.type() == api::StringMatch::REGULAR_EXPRESSION) {
      auto compiled = CompileRegex(m.value(), route, absl::StrCat(what, " ", m.name()));
      if (!compiled.ok()) return compiled.status();
      re = *std::move(compiled);
    }
    out.push_back(std::move(re));
  }
  return absl::OkStatus();
}

// Callers on the request path test `trace` first, so no text is built when nobody asks.
void Note(MatchTrace* trace, TraceEntry::Stage stage, std::string subject, bool matched,
          std::string reason) {
  if (trace == nullptr) return;
  trace->entries.push_back(TraceEntry{stage, std::move(subject), matched, std::move(reason)});
}

std::string ListenerName(const api::Listener& l) {
  return absl::StrCat("listener ", l.gateway_namespace(), "/", l.gateway_name(), "/", l.name());
}

}  // namespace

std::string ListenerKey(uint32_t port, const api::Listener& listener) {
  return absl::StrCat(port, "/", listener.gateway_namespace(), "/", listener.gateway_name(), "/",
                      listener.name());
}

std::string_view HostWithoutPortAndDot(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (const void* colon = host.empty() ? nullptr : memrchr(host.data(), ':', host.size())) {
    // memrchr, not rfind: libstdc++'s rfind goes byte by byte, on every request.
    host = host.substr(0, static_cast<size_t>(static_cast<const char*>(colon) - host.data()));
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

std::string NormalizeHost(std::string_view host) { return Lowercase(HostWithoutPortAndDot(host)); }

bool HostnameMatches(std::string_view pattern, std::string_view host) {
  if (pattern.empty()) return true;
  if (IsWildcard(pattern)) {
    std::string_view suffix = pattern.substr(1);  // ".example.com"
    if (host.size() <= suffix.size()) return false;
    return http::EqualsIgnoreCase(host.substr(host.size() - suffix.size()), suffix);
  }
  return http::EqualsIgnoreCase(pattern, host);
}

std::string CompiledRoute::Describe() const {
  if (route == nullptr) return "route ?";
  return absl::StrCat(route->route_kind().empty() ? "HTTPRoute" : route->route_kind(), " ",
                      route->route_namespace(), "/", route->route_name(), " rule ",
                      route->rule_index(), " match ", route->match_index());
}

std::string MatchTrace::ToString() const {
  std::string out;
  for (const TraceEntry& e : entries) {
    std::string_view stage;
    switch (e.stage) {
      case TraceEntry::Stage::kPort:
        stage = "port";
        break;
      case TraceEntry::Stage::kListener:
        stage = "listener";
        break;
      case TraceEntry::Stage::kVirtualHost:
        stage = "virtual host";
        break;
      case TraceEntry::Stage::kRoute:
        stage = "route";
        break;
      case TraceEntry::Stage::kBackend:
        stage = "backend";
        break;
    }
    out.append(stage);
    out.append(": ");
    out.append(e.subject);
    out.append(e.matched ? ": matched" : ": no match");
    if (!e.reason.empty()) {
      out.append(" (");
      out.append(e.reason);
      out.append(")");
    }
    out.append("\n");
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const RouteTable>> RouteTable::Build(api::L7Config config,
                                                                    const RouteTable* previous) {
  std::shared_ptr<RouteTable> table(new RouteTable());
  table->config_ = std::move(config);
  if (absl::Status s = table->Compile(previous); !s.ok()) return s;
  return std::shared_ptr<const RouteTable>(std::move(table));
}

absl::Status RouteTable::Compile(const RouteTable* previous) {
  const bool delta = config_.base_generation() != 0;
  if (delta &&
      (previous == nullptr || previous->config_.generation() != config_.base_generation())) {
    return absl::FailedPreconditionError(
        absl::StrCat("a delta on generation ", config_.base_generation(), ", but generation ",
                     previous != nullptr ? previous->config_.generation() : 0, " is served"));
  }
  // The previous table's listeners by key: their virtual hosts are what a delta keeps, and
  // what a whole config shares where it is byte-equal.
  absl::flat_hash_map<std::string, const CompiledListener*> before;
  if (previous != nullptr) {
    for (const CompiledPort& port : previous->ports_) {
      for (const CompiledListener& cl : port.listeners) {
        before.try_emplace(ListenerKey(port.port->port(), *cl.listener), &cl);
      }
    }
  }
  // Virtual hosts compiled in this build by their bytes: byte-equal ones are shared.
  absl::flat_hash_map<absl::string_view, std::shared_ptr<const CompiledVirtualHost>> built;
  ports_.reserve(config_.ports_size());
  for (api::Port& port : *config_.mutable_ports()) {
    CompiledPort& cp = ports_.emplace_back();
    cp.port = &port;
    for (const std::string& a : port.addresses()) {
      std::string n = NormalizeAddress(a);
      if (n == "0.0.0.0" || n == "::") {
        cp.any_address = true;
      } else {
        cp.addresses.push_back(std::move(n));
      }
    }
    if (port.addresses().empty()) cp.any_address = true;
    for (api::Listener& listener : *port.mutable_listeners()) {
      CompiledListener& cl = cp.listeners.emplace_back();
      cl.listener = &listener;
      auto found = before.find(ListenerKey(port.port(), listener));
      const CompiledListener* base = found == before.end() ? nullptr : found->second;
      absl::Status s = delta ? ApplyDelta(listener, base, cl, built)
                             : CompileListener(listener, base, cl, built);
      if (!s.ok()) return s;
      if (cl.vhost_index == nullptr) {
        std::vector<std::string_view> hostnames;
        hostnames.reserve(cl.vhosts.size());
        for (const auto& v : cl.vhosts) hostnames.push_back(v->proto.hostname());
        cl.vhost_index = std::make_shared<const HostnameIndex>(hostnames);
      }
      // Each CompiledVirtualHost has its own; freed now (a clear would keep them allocated).
      google::protobuf::RepeatedPtrField<api::VirtualHost>().Swap(listener.mutable_virtual_hosts());
      google::protobuf::RepeatedPtrField<std::string>().Swap(
          listener.mutable_removed_virtual_hosts());
    }
  }
  return absl::OkStatus();
}

absl::Status RouteTable::CompileListener(api::Listener& listener, const CompiledListener* base,
                                         CompiledListener& cl, BuiltVirtualHosts& built) {
  const size_t count = static_cast<size_t>(listener.virtual_hosts_size());
  // The base's virtual hosts by their bytes, made only when one is not in its old place.
  BuiltVirtualHosts base_by_bytes;
  bool same_names = base != nullptr && base->vhosts.size() == count;
  cl.vhosts.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    api::VirtualHost& vhost = *listener.mutable_virtual_hosts(static_cast<int>(i));
    std::string bytes;
    vhost.SerializeToString(&bytes);
    if (base != nullptr) {
      const bool in_place = i < base->vhosts.size();
      same_names = same_names && in_place && base->vhosts[i]->proto.hostname() == vhost.hostname();
      if (in_place && base->vhosts[i]->bytes == bytes) {
        cl.vhosts.push_back(base->vhosts[i]);
        continue;
      }
      if (base_by_bytes.empty()) {
        for (const auto& v : base->vhosts) base_by_bytes.try_emplace(v->bytes, v);
      }
      if (auto it = base_by_bytes.find(bytes); it != base_by_bytes.end()) {
        cl.vhosts.push_back(it->second);
        continue;
      }
    }
    auto compiled = CompileVirtualHost(vhost, std::move(bytes), built);
    if (!compiled.ok()) return compiled.status();
    cl.vhosts.push_back(*std::move(compiled));
  }
  if (same_names) cl.vhost_index = base->vhost_index;
  return absl::OkStatus();
}

absl::Status RouteTable::ApplyDelta(api::Listener& listener, const CompiledListener* base,
                                    CompiledListener& cl, BuiltVirtualHosts& built) {
  absl::flat_hash_map<std::string_view, std::shared_ptr<const CompiledVirtualHost>> changed;
  std::vector<std::shared_ptr<const CompiledVirtualHost>> added;
  for (api::VirtualHost& vhost : *listener.mutable_virtual_hosts()) {
    std::string bytes;
    vhost.SerializeToString(&bytes);
    auto compiled = CompileVirtualHost(vhost, std::move(bytes), built);
    if (!compiled.ok()) return compiled.status();
    changed[(*compiled)->proto.hostname()] = *compiled;
    added.push_back(*std::move(compiled));
  }
  absl::flat_hash_set<std::string_view> removed(listener.removed_virtual_hosts().begin(),
                                                listener.removed_virtual_hosts().end());
  // The base's order, a changed virtual host in its place; new hostnames at the end (the
  // index's answer does not depend on the order of distinct patterns).
  if (base != nullptr) {
    cl.vhosts.reserve(base->vhosts.size() + added.size());
    for (const auto& v : base->vhosts) {
      const std::string& name = v->proto.hostname();
      if (removed.contains(name)) continue;
      auto it = changed.find(name);
      if (it == changed.end()) {
        cl.vhosts.push_back(v);
        continue;
      }
      cl.vhosts.push_back(std::move(it->second));
      changed.erase(it);
    }
  }
  for (auto& v : added) {
    if (changed.contains(v->proto.hostname())) cl.vhosts.push_back(std::move(v));
  }
  if (base != nullptr && removed.empty() && cl.vhosts.size() == base->vhosts.size()) {
    cl.vhost_index = base->vhost_index;  // the same hostnames in the same places
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const CompiledVirtualHost>> RouteTable::CompileVirtualHost(
    api::VirtualHost& vhost, std::string bytes, BuiltVirtualHosts& built) {
  if (auto it = built.find(bytes); it != built.end()) return it->second;
  auto cv = std::make_shared<CompiledVirtualHost>();
  cv->proto.Swap(&vhost);
  cv->bytes = std::move(bytes);
  cv->routes.reserve(cv->proto.routes_size());
  for (const api::Route& route : cv->proto.routes()) {
    CompiledRoute& cr = cv->routes.emplace_back();
    cr.route = &route;
    cr.name = absl::StrCat(route.route_namespace(), "/", route.route_name());
    if (route.match().has_path() &&
        route.match().path().type() == api::PathMatch::REGULAR_EXPRESSION) {
      auto re = CompileRegex(route.match().path().value(), cr, "path");
      if (!re.ok()) return re.status();
      cr.path_regex = *std::move(re);
    }
    if (absl::Status s =
            CompileMatchRegexes(route.match().headers(), "header", cr.header_regex, cr);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            CompileMatchRegexes(route.match().query_params(), "query", cr.query_regex, cr);
        !s.ok()) {
      return s;
    }
    for (const api::WeightedCluster& b : route.backends()) cr.total_weight += b.weight();
    cr.has_redirect = std::any_of(route.filters().begin(), route.filters().end(),
                                  [](const api::Filter& f) { return f.has_request_redirect(); });
  }
  built.emplace(absl::string_view(cv->bytes), cv);
  return std::shared_ptr<const CompiledVirtualHost>(std::move(cv));
}

const CompiledPort* RouteTable::FindPort(std::string_view local_address,
                                         uint16_t local_port) const {
  // Callers pass inet_ntop output, already canonical: compare as given first, so the
  // request path does not allocate; only a miss retries with the normalized text.
  auto find = [&](std::string_view address) -> const CompiledPort* {
    const CompiledPort* any = nullptr;
    for (const CompiledPort& p : ports_) {
      if (p.port->port() != local_port) continue;
      for (const std::string& a : p.addresses) {
        if (a == address) return &p;
      }
      if (p.any_address && any == nullptr) any = &p;
    }
    return any;
  };
  const CompiledPort* found = find(local_address);
  if (found != nullptr && !found->any_address) return found;
  std::string normalized = NormalizeAddress(local_address);
  if (normalized == local_address) return found;
  const CompiledPort* again = find(normalized);
  return again != nullptr ? again : found;
}

const CompiledListener* RouteTable::FindListener(const CompiledPort& port,
                                                 std::string_view hostname,
                                                 MatchTrace* trace) const {
  // Matching ignores case, so the request path needs no lowercased copy; a trace shows it.
  std::string traced;
  if (trace != nullptr) traced = NormalizeHost(hostname);
  std::string_view host = trace != nullptr ? traced : HostWithoutPortAndDot(hostname);
  int i = SelectByHostname(
      port.listeners.size(),
      [&](size_t k) -> std::string_view { return port.listeners[k].listener->hostname(); }, host);
  if (trace != nullptr) {
    for (size_t k = 0; k < port.listeners.size(); ++k) {
      const api::Listener& l = *port.listeners[k].listener;
      bool chosen = static_cast<int>(k) == i;
      std::string reason = absl::StrCat("hostname \"", l.hostname(), "\"");
      if (!chosen) {
        absl::StrAppend(&reason, HostnameMatches(l.hostname(), host)
                                     ? " matches but a more specific listener wins"
                                     : absl::StrCat(" does not match \"", traced, "\""));
      }
      Note(trace, TraceEntry::Stage::kListener, ListenerName(l), chosen, std::move(reason));
    }
  }
  return i < 0 ? nullptr : &port.listeners[i];
}

const api::Cluster* RouteTable::FindCluster(std::string_view name) const {
  for (const api::Cluster& c : config_.clusters()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

RouteDecision RouteTable::Match(const MatchInput& input, MatchTrace* trace) const {
  RouteDecision d;
  d.port = FindPort(input.local_address, input.local_port);
  if (d.port == nullptr) {
    if (trace != nullptr) {
      Note(trace, TraceEntry::Stage::kPort,
           absl::StrCat(std::string(input.local_address), ":", input.local_port), false,
           "no Gateway listens on this address and port");
    }
    d.outcome = RouteDecision::Outcome::kNoPort;
    d.status = 404;
    return d;
  }
  if (trace != nullptr) {
    Note(trace, TraceEntry::Stage::kPort,
         absl::StrCat(std::string(input.local_address), ":", input.local_port), true, "");
  }
  const http::RequestHead& req = *input.request;
  std::string_view listener_name = input.sni.empty() ? std::string_view(req.host) : input.sni;
  d.listener = FindListener(*d.port, listener_name, trace);
  if (d.listener == nullptr) {
    d.outcome = RouteDecision::Outcome::kNoListener;
    d.status = 404;
    return d;
  }
  std::string traced;
  if (trace != nullptr) traced = NormalizeHost(req.host);
  std::string_view host = trace != nullptr ? traced : HostWithoutPortAndDot(req.host);
  const auto& vhosts = d.listener->vhosts;
  int v = d.listener->vhost_index->Find(host);
  if (trace != nullptr) {
    for (size_t k = 0; k < vhosts.size(); ++k) {
      const std::string& pattern = vhosts[k]->proto.hostname();
      bool chosen = static_cast<int>(k) == v;
      std::string reason;
      if (!chosen) {
        reason = HostnameMatches(pattern, host)
                     ? "matches but a more specific hostname wins"
                     : absl::StrCat("hostname \"", traced, "\" does not match");
      }
      Note(trace, TraceEntry::Stage::kVirtualHost, absl::StrCat("hostname \"", pattern, "\""),
           chosen, std::move(reason));
    }
  }
  if (v < 0) {
    d.outcome = RouteDecision::Outcome::kNotFound;
    d.status = 404;
    return d;
  }
  d.vhost = vhosts[static_cast<size_t>(v)].get();
  for (const CompiledRoute& route : d.vhost->routes) {
    std::string why;
    bool ok = RouteMatches(route, req, trace != nullptr ? &why : nullptr);
    if (trace != nullptr) {
      Note(trace, TraceEntry::Stage::kRoute, route.Describe(), ok, std::move(why));
    }
    if (!ok) continue;
    d.route = &route;
    bool usable = route.has_redirect ||
                  std::any_of(route.route->backends().begin(), route.route->backends().end(),
                              [](const api::WeightedCluster& b) {
                                return b.weight() > 0 && !b.cluster().empty();
                              });
    if (!usable) {
      d.outcome = RouteDecision::Outcome::kNoBackend;
      d.status = 500;
      if (trace != nullptr) {
        Note(trace, TraceEntry::Stage::kBackend, route.Describe(), false,
             "no valid backend with a non-zero weight and no redirect: 500");
      }
      return d;
    }
    d.outcome = RouteDecision::Outcome::kRouted;
    d.status = 0;
    return d;
  }
  d.outcome = RouteDecision::Outcome::kNotFound;
  d.status = 404;
  return d;
}

bool RouteMatches(const CompiledRoute& route, const http::RequestHead& request, std::string* why) {
  const api::RouteMatch& m = route.route->match();
  std::string_view path = request.PathOnly();
  if (!PathMatches(route, path)) {
    if (why != nullptr) {
      *why = absl::StrCat("path ", std::string(path), " does not match ",
                          std::string(PathMatchTypeName(m.path().type())), " ", m.path().value());
    }
    return false;
  }
  if (!m.method().empty() && m.method() != request.method) {
    if (why != nullptr) *why = absl::StrCat("method ", request.method, " is not ", m.method());
    return false;
  }
  for (int i = 0; i < m.headers_size(); ++i) {
    const api::StringMatch& h = m.headers(i);
    bool earlier_same_name = false;  // only the first match per name counts (Gateway API)
    for (int j = 0; j < i && !earlier_same_name; ++j) {
      earlier_same_name = http::EqualsIgnoreCase(m.headers(j).name(), h.name());
    }
    if (earlier_same_name) continue;
    std::optional<std::string> value = http::EqualsIgnoreCase(h.name(), "host")
                                           ? std::optional<std::string>(request.host)
                                           : request.headers.GetJoined(h.name());
    bool ok = value.has_value() && (h.type() == api::StringMatch::REGULAR_EXPRESSION
                                        ? RE2::FullMatch(*value, *route.header_regex[i])
                                        : *value == h.value());
    if (!ok) {
      if (why != nullptr) {
        *why = value ? absl::StrCat("header ", h.name(), " value \"", *value,
                                    "\" does not match \"", h.value(), "\"")
                     : absl::StrCat("header ", h.name(), " is absent");
      }
      return false;
    }
  }
  std::string_view query = request.Query();
  for (int i = 0; i < m.query_params_size(); ++i) {
    const api::StringMatch& q = m.query_params(i);
    bool earlier_same_name = false;
    for (int j = 0; j < i && !earlier_same_name; ++j) {
      earlier_same_name = m.query_params(j).name() == q.name();
    }
    if (earlier_same_name) continue;
    std::optional<std::string_view> value = QueryParam(query, q.name());
    bool ok =
        value.has_value() &&
        (q.type() == api::StringMatch::REGULAR_EXPRESSION
             ? RE2::FullMatch(re2::StringPiece(value->data(), value->size()), *route.query_regex[i])
             : *value == q.value());
    if (!ok) {
      if (why != nullptr) {
        *why = value ? absl::StrCat("query ", q.name(), " value \"", std::string(*value),
                                    "\" does not match \"", q.value(), "\"")
                     : absl::StrCat("query ", q.name(), " is absent");
      }
      return false;
    }
  }
  return true;
}

std::string_view MatchedPrefix(const CompiledRoute& route) {
  const api::RouteMatch& m = route.route->match();
  if (!m.has_path()) return "/";
  return m.path().type() == api::PathMatch::PATH_PREFIX ? std::string_view(m.path().value())
                                                        : std::string_view();
}

const api::WeightedCluster* PickBackend(const CompiledRoute& route, absl::BitGenRef rng) {
  if (route.total_weight == 0) return nullptr;
  uint64_t r = absl::Uniform<uint64_t>(rng, 0, route.total_weight);
  for (const api::WeightedCluster& b : route.route->backends()) {
    if (r < b.weight()) return &b;
    r -= b.weight();
  }
  return nullptr;
}

const api::WeightedCluster* PickBackend(
    const CompiledRoute& route, absl::BitGenRef rng,
    absl::FunctionRef<bool(const api::WeightedCluster&)> usable) {
  uint64_t total = 0;
  for (const api::WeightedCluster& b : route.route->backends()) {
    if (usable(b)) total += b.weight();
  }
  if (total == 0) return nullptr;
  uint64_t r = absl::Uniform<uint64_t>(rng, 0, total);
  for (const api::WeightedCluster& b : route.route->backends()) {
    if (!usable(b)) continue;
    if (r < b.weight()) return &b;
    r -= b.weight();
  }
  return nullptr;
}

}  // namespace xgate::routing

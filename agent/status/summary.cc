#include <sstream>

#include "agent/status/status.h"

namespace xgate::status {
namespace {

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

const char* PathTypeName(model::PathMatchType type) {
  switch (type) {
    case model::PathMatchType::kExact:
      return "Exact";
    case model::PathMatchType::kPathPrefix:
      return "PathPrefix";
    case model::PathMatchType::kRegularExpression:
      return "RegularExpression";
  }
  return "?";
}

const char* FilterName(model::HTTPFilterType type) {
  switch (type) {
    case model::HTTPFilterType::kRequestHeaderModifier:
      return "RequestHeaderModifier";
    case model::HTTPFilterType::kResponseHeaderModifier:
      return "ResponseHeaderModifier";
    case model::HTTPFilterType::kRequestRedirect:
      return "RequestRedirect";
    case model::HTTPFilterType::kURLRewrite:
      return "URLRewrite";
    case model::HTTPFilterType::kRequestMirror:
      return "RequestMirror";
    case model::HTTPFilterType::kExtensionRef:
      return "ExtensionRef";
    case model::HTTPFilterType::kCORS:
      return "CORS";
  }
  return "?";
}

// "PathPrefix /login header env=canary method GET"
std::string MatchText(const model::HTTPRouteMatch& m) {
  std::string out = std::string(PathTypeName(m.path.type)) + " " + m.path.value;
  for (const auto& h : m.headers) {
    const char* op = h.type == model::StringMatchType::kExact ? "=" : "~";
    out += " header " + h.name + op + h.value;
  }
  for (const auto& q : m.query_params) {
    const char* op = q.type == model::StringMatchType::kExact ? "=" : "~";
    out += " query " + q.name + op + q.value;
  }
  if (m.method) out += " method " + *m.method;
  return out;
}

std::string Endpoint(const std::string& address, int port) {
  bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::string BackendText(const binder::ResolvedBackend& b) {
  std::string out = b.ns + "/" + b.name + ":" + std::to_string(b.service_port) + " weight " +
                    std::to_string(b.weight);
  if (!b.invalid_reason.empty()) return out + " (invalid: " + b.invalid_reason + ")";
  std::vector<std::string> endpoints;
  for (const auto& e : b.endpoints) endpoints.push_back(Endpoint(e.address, e.port));
  return out + (endpoints.empty() ? " (no ready endpoints)" : " (" + Join(endpoints, ", ") + ")");
}

void WriteRoute(const binder::BoundRoute& route, std::ostream& out) {
  out << "    " << route.key.ToString();
  if (!route.hostnames.empty()) out << " hosts " << Join(route.hostnames, ", ");
  out << "\n";
  const auto* http = route.key.kind == model::Kind::kHTTPRoute
                         ? static_cast<const model::HTTPRoute*>(route.object)
                         : nullptr;
  for (size_t i = 0; i < route.backends->rule_backends.size(); ++i) {
    out << "      rule " << i << ":";
    if (http && i < http->rules.size()) {
      const auto& rule = http->rules[i];
      std::vector<std::string> matches;
      for (const auto& m : rule.matches) matches.push_back(MatchText(m));
      if (!matches.empty()) out << " " << Join(matches, " | ");
      std::vector<std::string> filters;
      for (const auto& f : rule.filters) filters.push_back(FilterName(f.type));
      if (!filters.empty()) out << " filters " << Join(filters, ", ");
    }
    std::vector<std::string> backends;
    for (const auto& b : route.backends->rule_backends[i]) backends.push_back(BackendText(b));
    out << " -> " << (backends.empty() ? "(no backends)" : Join(backends, ", ")) << "\n";
  }
}

// Conditions of negative polarity: a problem when True.
bool IsProblem(const model::Condition& c) {
  bool negative = c.type == "Conflicted" || c.type == "PartiallyInvalid";
  return negative ? c.status == "True" : c.status != "True";
}

void WriteProblems(const std::string& subject, const std::vector<model::Condition>& conditions,
                   std::vector<std::string>& problems) {
  for (const auto& c : conditions) {
    if (!IsProblem(c)) continue;
    problems.push_back(subject + ": " + c.type + "=" + c.status + " " + c.reason +
                       (c.message.empty() ? "" : ": " + c.message));
  }
}

std::string KeyText(const model::Store::Key& key) {
  return key.first.empty() ? key.second : key.first + "/" + key.second;
}

}  // namespace

std::string Summary(const model::Store& store, const binder::BindResult& bound,
                    const std::vector<model::LoadError>& load_errors) {
  std::ostringstream out;
  const auto& st = bound.statuses;
  for (const auto& [key, gateway] : store.gateways) {
    out << "Gateway " << KeyText(key) << " (class " << gateway.gateway_class_name << ")";
    if (!st.gateways.count(key)) {
      out << ": not managed by " << model::kControllerName << "\n";
      continue;
    }
    out << "\n";
    for (const auto& listener : bound.listeners) {
      if (listener.gateway != key || listener.listener == nullptr) continue;
      const auto& l = *listener.listener;
      std::vector<std::string> addresses;
      for (const auto& a : listener.addresses) addresses.push_back(Endpoint(a, l.port));
      if (addresses.empty()) addresses.push_back("*:" + std::to_string(l.port));
      out << "  listener " << binder::ListenerId(listener) << ": " << Join(addresses, ", ") << " "
          << l.protocol << " hostname " << l.hostname.value_or("*") << ", "
          << listener.routes.size() << (listener.routes.size() == 1 ? " route" : " routes")
          << " attached" << (listener.programmed ? "" : " (not programmed)") << "\n";
      for (const auto& route : listener.routes) WriteRoute(route, out);
    }
  }

  std::vector<std::string> problems;
  for (const auto& [key, s] : st.gateway_classes) {
    WriteProblems("GatewayClass " + KeyText(key), s.conditions, problems);
  }
  for (const auto& [key, s] : st.gateways) {
    WriteProblems("Gateway " + KeyText(key), s.conditions, problems);
    for (const auto& l : s.listeners) {
      WriteProblems("Gateway " + KeyText(key) + " listener " + l.name, l.conditions, problems);
    }
  }
  for (const auto& [key, s] : st.listener_sets) {
    WriteProblems("ListenerSet " + KeyText(key), s.conditions, problems);
    for (const auto& l : s.listeners) {
      WriteProblems("ListenerSet " + KeyText(key) + " listener " + l.name, l.conditions, problems);
    }
  }
  for (const auto& [key, s] : st.routes) {
    for (const auto& p : s->parents) {
      std::string parent = p.parent_ref.kind + " " + p.parent_ref.ns.value_or(key.ns) + "/" +
                           p.parent_ref.name +
                           (p.parent_ref.section_name ? "/" + *p.parent_ref.section_name : "");
      WriteProblems(key.ToString() + " on " + parent, p.conditions, problems);
    }
  }
  auto unattached = [&](const auto& routes, model::Kind kind) {
    for (const auto& [key, route] : routes) {
      model::ObjectKey k{kind, key.first, key.second};
      if (!st.routes.count(k)) {
        problems.push_back(k.ToString() + ": no parentRef names a Gateway of " +
                           model::kControllerName);
      }
    }
  };
  unattached(store.http_routes, model::Kind::kHTTPRoute);
  unattached(store.tcp_routes, model::Kind::kTCPRoute);
  unattached(store.udp_routes, model::Kind::kUDPRoute);
  unattached(store.tls_routes, model::Kind::kTLSRoute);
  unattached(store.grpc_routes, model::Kind::kGRPCRoute);

  if (!problems.empty()) {
    out << "Conditions:\n";
    for (const auto& p : problems) out << "  " << p << "\n";
  }
  if (!load_errors.empty()) {
    out << "Load errors:\n";
    for (const auto& e : load_errors) out << "  " << e.ToString() << "\n";
  }
  return out.str();
}

}  // namespace xgate::status
